//! wego-governance around gRPC: a balanced, retrying, breaker-guarded
//! client over per-instance channels; server limits answered with
//! RESOURCE_EXHAUSTED; `traceparent` carried in metadata.

use std::collections::BTreeMap;
use std::time::Duration;

use tower_layer::Layer;
use wego_governance::breaker::{BreakerConfig, BreakerState, Breakers};
use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
use wego_governance::limit::{ConcurrencyLimitLayer, RateLimitLayer};
use wego_governance::metrics::{Metrics, MetricsLayer};
use wego_governance::retry::{Backoff, RetryLayer};
use wego_governance::trace::{TraceContext, TraceLayer};
use wego_governance::{Discover, Instance, StaticDiscover};
use wego_kitex::grpc::{
    Channel, Code, GovernedClient, GrpcCall, GrpcRouter, GrpcServer, LazyChannel, Request,
    Response, ServerTraceLayer, Status,
};
use wego_netpoll::{Address, rt};

use super::grpc_common::{EchoRequest, EchoResponse, UNARY, echo_router, req};

/// A router answering `action` = its instance name.
fn named_router(name: &'static str) -> GrpcRouter {
    GrpcRouter::new().unary(UNARY, move |r: Request<EchoRequest>| async move {
        Ok(Response::new(EchoResponse {
            action: name.into(),
            msg: r.into_inner().msg,
        }))
    })
}

/// Serves `svc` on a fresh loopback listener; returns the address, the
/// server (to kill it) and the serve task.
async fn serve<S>(svc: S) -> (Address, GrpcServer, rt::JoinHandle<()>)
where
    S: tower_service::Service<
            wego_kitex::grpc::RawRequest,
            Response = wego_kitex::grpc::RawResponse,
            Error = Status,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let server = GrpcServer::default();
    let s = server.clone();
    let task = rt::spawn(async move { s.serve(listener, svc).await });
    (addr, server, task)
}

wego_test_support::each_backend!(
    a_killed_instance_is_retried_around_and_its_breaker_opens,
    |_backend| async move {
        let names = ["a", "b", "c"];
        let mut servers = Vec::new();
        for name in names {
            servers.push(serve(named_router(name)).await);
        }
        let discover = StaticDiscover::with_service(
            "echo",
            servers
                .iter()
                .map(|(addr, _, _)| Instance::new(addr.clone()))
                .collect(),
        );
        let watch = discover.discover("echo").await.unwrap();
        let metrics = Metrics::new();
        let breakers = Breakers::new(
            BreakerConfig::default()
                .with_consecutive_failures(2)
                .with_cool_down(Duration::from_secs(3600)),
        )
        .with_observer(metrics.breaker_observer());
        let builder = Channel::builder().with_connect_timeout(Duration::from_secs(2));
        let lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new)
            .with_breaker(breakers.clone())
            .layer(move |i: &Instance| LazyChannel::new(builder.clone(), i.address.clone()));
        let retry = RetryLayer::new(3)
            .with_backoff(Backoff::none())
            .with_metrics(metrics.clone())
            .layer(lb);
        let stack = TraceLayer::new().layer(MetricsLayer::new(metrics.clone()).layer(retry));
        let mut client = GovernedClient::new(stack).with_idempotent(true);

        let mut served = BTreeMap::<String, usize>::new();
        for i in 0..30 {
            let r: Response<EchoResponse> = client
                .unary(UNARY, Request::new(req(&i.to_string())))
                .await
                .unwrap();
            *served.entry(r.into_inner().action).or_default() += 1;
        }
        assert_eq!(served.values().copied().collect::<Vec<_>>(), [10, 10, 10]);

        // Kill "a": no grace, its listener and connections close.
        let (dead_addr, dead, task) = servers.remove(0);
        dead.shutdown(Duration::ZERO).await;
        task.await.unwrap();

        let mut after = BTreeMap::<String, usize>::new();
        for i in 0..60 {
            let r = client
                .unary::<_, EchoResponse>(UNARY, Request::new(req(&i.to_string())))
                .await
                .unwrap_or_else(|s| panic!("call {i} failed after the kill: {s:?}"));
            *after.entry(r.into_inner().action).or_default() += 1;
        }
        eprintln!("grpc governance: before {served:?}, after kill {after:?}");
        assert_eq!(after.get("a"), None, "the dead instance served nothing");
        assert_eq!(after.values().sum::<usize>(), 60);
        let scope = format!("echo/{dead_addr}");
        assert_eq!(metrics.breaker_state(&scope), Some(BreakerState::Open));
        assert!(
            breakers.states().contains(&(scope, BreakerState::Open)),
            "{:?}",
            breakers.states()
        );
        assert!(
            metrics.retries("echo.EchoServer") >= 1,
            "{}",
            metrics.render()
        );
        assert!(metrics.render().contains("wego_requests_total"));
    }
);

wego_test_support::each_backend!(
    non_idempotent_calls_are_not_retried,
    |_backend| async move {
        let (addr, server, task) = serve(named_router("only")).await;
        server.shutdown(Duration::ZERO).await;
        task.await.unwrap();
        let watch = StaticDiscover::with_service("echo", vec![Instance::new(addr)])
            .discover("echo")
            .await
            .unwrap();
        let builder = Channel::builder();
        let lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new)
            .layer(move |i: &Instance| LazyChannel::new(builder.clone(), i.address.clone()));
        let metrics = Metrics::new();
        let mut client = GovernedClient::new(
            RetryLayer::new(3)
                .with_backoff(Backoff::none())
                .with_metrics(metrics.clone())
                .layer(lb),
        );
        let err = client
            .unary::<_, EchoResponse>(UNARY, Request::new(req("x")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        assert_eq!(metrics.retries("echo.EchoServer"), 0);
    }
);

wego_test_support::each_backend!(
    server_rate_limit_answers_resource_exhausted,
    |_backend| async move {
        let metrics = Metrics::new();
        let svc = ServerTraceLayer.layer(
            MetricsLayer::new(metrics.clone())
                .layer(RateLimitLayer::new(1, 2).layer(echo_router())),
        );
        let (addr, _server, _task) = serve(svc).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let mut ok = 0;
        let mut refused = Vec::new();
        for _ in 0..6 {
            match ch
                .unary::<_, EchoResponse>(UNARY, Request::new(req("hi")))
                .await
            {
                Ok(_) => ok += 1,
                Err(s) => refused.push(s),
            }
        }
        assert_eq!(ok, 2, "the burst passes: {refused:?}");
        assert_eq!(refused.len(), 4);
        for s in &refused {
            assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
            assert!(s.message().contains("rate limit"), "{s:?}");
        }
        let text = metrics.render();
        assert!(text.contains("kind=\"resource_exhausted\"} 4"), "{text}");
    }
);

wego_test_support::each_backend!(
    server_concurrency_limit_answers_resource_exhausted,
    |_backend| async move {
        // A method whose handler reports its call and then waits for a
        // permit from the test, holding the only slot.
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let g = gate.clone();
        let router =
            echo_router().unary("/echo.EchoServer/Held", move |_r: Request<EchoRequest>| {
                let (arrived_tx, g) = (arrived_tx.clone(), g.clone());
                async move {
                    let _ = arrived_tx.send(());
                    g.acquire().await.unwrap().forget();
                    Ok(Response::new(EchoResponse::default()))
                }
            });
        let (addr, _server, _task) = serve(ConcurrencyLimitLayer::new(1).layer(router)).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let slow = ch.clone();
        let held = rt::spawn(async move {
            slow.unary::<_, EchoResponse>("/echo.EchoServer/Held", Request::new(req("held")))
                .await
        });
        rt::timeout(Duration::from_secs(10), arrived.recv())
            .await
            .expect("the held call reaches its handler")
            .unwrap();
        let err = ch
            .unary::<_, EchoResponse>(UNARY, Request::new(req("hi")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        assert!(err.message().contains("concurrency"), "{err:?}");
        gate.add_permits(1);
        held.await.unwrap().unwrap();
        ch.unary::<_, EchoResponse>(UNARY, Request::new(req("again")))
            .await
            .unwrap();
    }
);

/// Answers with the trace id the server saw in `traceparent`.
pub(crate) fn trace_router() -> GrpcRouter {
    GrpcRouter::new().unary(UNARY, |r: Request<EchoRequest>| async move {
        let seen = TraceContext::extract(r.metadata())
            .map(|c| c.trace_id.iter().map(|b| format!("{b:02x}")).collect())
            .unwrap_or_default();
        Ok(Response::new(EchoResponse {
            action: "trace".into(),
            msg: seen,
        }))
    })
}

wego_test_support::each_backend!(
    the_client_sends_a_child_trace_context_in_metadata,
    |_backend| async move {
        let (addr, _server, _task) = serve(ServerTraceLayer.layer(trace_router())).await;
        let mut client = GovernedClient::new(Channel::connect(&addr).await.unwrap());
        let parent = TraceContext::new_root();
        let call = GrpcCall::encode(UNARY, Request::new(req("t"))).with_trace_parent(&parent);
        let resp = client.call(call).await.unwrap();
        let msg: EchoResponse = prost::Message::decode(resp.into_inner()).unwrap();
        let want: String = parent.trace_id.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(msg.msg, want);
    }
);
