//! wego-governance around Thrift: generated clients over a balanced,
//! retrying, breaker-guarded stack of per-instance clients; server limits
//! answered with a `TApplicationException` on a connection that keeps
//! serving; `traceparent` carried automatically Thrift → Thrift → gRPC.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;
use wego_governance::breaker::{BreakerConfig, BreakerState, Breakers};
use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
use wego_governance::limit::RateLimitLayer;
use wego_governance::metrics::{Metrics, MetricsLayer};
use wego_governance::retry::{Backoff, RetryLayer};
use wego_governance::trace::{TraceContext, TraceLayer};
use wego_governance::{Discover, Instance, InstanceWatch, StaticDiscover};
use wego_kitex::client::{Client, Mode};
use wego_kitex::grpc::{self, GovernedClient};
use wego_kitex::metainfo::{self, CallContext, MetaInfo};
use wego_kitex::server::Server;
use wego_netpoll::rt;

use super::grpc_common::{EchoRequest, EchoResponse, UNARY};

use wego_idl_gen::echo as generated;

use generated::echo_service::{EchoServerClient, EchoServerHandler, EchoServerServer};
use generated::echo_types::echo::{Request, Response};

/// Answers `action` = its instance name.
struct Named(&'static str);

impl EchoServerHandler for Named {
    async fn echo(&self, req: Request) -> Result<Response, wego_kitex::BoxError> {
        Ok(Response {
            action: self.0.into(),
            msg: req.msg,
        })
    }
    async fn notify(&self, _req: Request) -> Result<(), wego_kitex::BoxError> {
        Ok(())
    }
}

fn request(msg: &str) -> Request {
    Request {
        action: "echo".into(),
        msg: msg.to_owned().into(),
    }
}

fn named_server(name: &'static str) -> Server {
    type S = EchoServerServer<Named>;
    Server::builder()
        .add_service(S::new(Named(name)))
        .build()
        .unwrap()
}

wego_test_support::each_backend!(
    a_killed_thrift_instance_is_retried_around_and_its_breaker_opens,
    |_backend| async move {
        let mut servers = Vec::new();
        for name in ["a", "b", "c"] {
            servers.push(crate::thrift_common::start(named_server(name)).await);
        }
        let discover = StaticDiscover::with_service(
            "EchoServer",
            servers
                .iter()
                .map(|(addr, _)| Instance::new(addr.clone()))
                .collect(),
        );
        let watch = discover.discover("EchoServer").await.unwrap();
        let metrics = Metrics::new();
        let breakers = Breakers::new(
            BreakerConfig::default()
                .with_consecutive_failures(2)
                .with_cool_down(Duration::from_secs(3600)),
        )
        .with_observer(metrics.breaker_observer());
        let template = Client::template()
            .with_connect_timeout(Duration::from_secs(2))
            .build_template()
            .unwrap();
        let lb = LoadBalanceLayer::new("EchoServer", watch, RoundRobin::new)
            .with_breaker(breakers.clone())
            .layer(template.factory());
        let retry = RetryLayer::new(3)
            .with_backoff(Backoff::none())
            .with_metrics(metrics.clone())
            .layer(lb);
        let stack = TraceLayer::new().layer(MetricsLayer::new(metrics.clone()).layer(retry));
        let client = EchoServerClient::new(stack).with_idempotent(true);

        let mut before = BTreeMap::<String, usize>::new();
        for i in 0..30 {
            let r = client.echo(request(&i.to_string())).await.unwrap();
            assert_eq!(r.msg, i.to_string());
            *before.entry(r.action.to_string()).or_default() += 1;
        }
        assert_eq!(before.values().copied().collect::<Vec<_>>(), [10, 10, 10]);

        // Kill "a": no grace, its listener and connections close.
        let (dead_addr, dead) = servers.remove(0);
        dead.shutdown(Duration::ZERO).await;

        let mut after = BTreeMap::<String, usize>::new();
        for i in 0..60 {
            let r = client
                .echo(request(&i.to_string()))
                .await
                .unwrap_or_else(|e| panic!("call {i} failed after the kill: {e:?}"));
            *after.entry(r.action.to_string()).or_default() += 1;
        }
        eprintln!(
            "thrift governance: before {before:?}, after kill {after:?}, retries {}",
            metrics.retries("EchoServer")
        );
        assert_eq!(after.get("a"), None, "the dead instance served nothing");
        assert_eq!(after.values().sum::<usize>(), 60);
        let scope = format!("EchoServer/{dead_addr}");
        assert_eq!(metrics.breaker_state(&scope), Some(BreakerState::Open));
        assert!(
            breakers.states().contains(&(scope, BreakerState::Open)),
            "{:?}",
            breakers.states()
        );
        assert!(metrics.retries("EchoServer") >= 1, "{}", metrics.render());
        assert!(
            metrics
                .render()
                .contains("wego_requests_total{service=\"EchoServer\",method=\"Echo\""),
            "{}",
            metrics.render()
        );
    }
);

wego_test_support::each_backend!(no_instance_is_a_typed_refusal, |_backend| async move {
    let template = Client::template().build_template().unwrap();
    let lb = LoadBalanceLayer::new("EchoServer", InstanceWatch::fixed(vec![]), RoundRobin::new)
        .layer(template.factory());
    let err = EchoServerClient::new(lb)
        .echo(request("x"))
        .await
        .unwrap_err();
    assert!(err.is_refused(), "{err:?}");
    assert!(err.governance().unwrap().is_no_instance(), "{err:?}");
    assert_eq!(wego_governance::Classify::kind(&err), "no_instance");
});

wego_test_support::each_backend!(
    server_rate_limit_answers_an_application_exception_and_the_connection_stays_usable,
    |_backend| async move {
        type S = EchoServerServer<Named>;
        let metrics = Metrics::new();
        let svc = MetricsLayer::new(metrics.clone())
            .layer(RateLimitLayer::new(1, 2).layer(S::new(Named("limited"))));
        let server = Server::builder()
            .service(S::NAME, S::METHODS, svc)
            .build()
            .unwrap();
        let (addr, _sd) = crate::thrift_common::start(server).await;
        let inner = Client::builder(addr)
            .with_mode(Mode::Multiplexed)
            .build()
            .unwrap();
        let client = EchoServerClient::new(inner.clone());
        let mut ok = 0;
        let mut limited = 0;
        for i in 0..6 {
            match client.echo(request(&i.to_string())).await {
                Ok(r) => {
                    assert_eq!(r.action, "limited");
                    ok += 1;
                }
                Err(e) => {
                    let x = e.application_exception().unwrap_or_else(|| panic!("{e:?}"));
                    assert_eq!(x.kind, wego_kitex::thrift::ExceptionKind::InternalError);
                    assert!(x.message.starts_with("rate limited"), "{x:?}");
                    limited += 1;
                }
            }
        }
        assert_eq!((ok, limited), (2, 4));
        assert_eq!(inner.dial_count(), 1, "one connection served every answer");
        let text = metrics.render();
        assert!(text.contains("kind=\"rate_limited\"} 4"), "{text}");
    }
);

/// Thrift handler that checks it got a child of the caller's trace, then
/// calls the gRPC server and returns the trace id it saw in `msg`.
struct Forward(grpc::Channel);

impl EchoServerHandler for Forward {
    async fn echo(&self, req: Request) -> Result<Response, wego_kitex::BoxError> {
        let here = metainfo::current_trace().ok_or("no trace context in the thrift handler")?;
        let mut client = GovernedClient::new(self.0.clone());
        let r: grpc::Response<EchoResponse> = client
            .unary(
                UNARY,
                grpc::Request::new(EchoRequest {
                    action: "trace".into(),
                    msg: req.msg.to_string(),
                }),
            )
            .await
            .map_err(|s| format!("grpc: {s:?}"))?;
        Ok(Response {
            action: hex(&here).into(),
            msg: r.into_inner().msg.into(),
        })
    }
    async fn notify(&self, _req: Request) -> Result<(), wego_kitex::BoxError> {
        Ok(())
    }
}

fn hex(ctx: &TraceContext) -> String {
    ctx.trace_id.iter().map(|b| format!("{b:02x}")).collect()
}

wego_test_support::each_backend!(
    a_traceparent_crosses_thrift_then_grpc_without_user_code,
    |_backend| async move {
        // gRPC server: answers the trace id its call context carries.
        let router =
            grpc::GrpcRouter::new().unary(UNARY, |_r: grpc::Request<EchoRequest>| async move {
                let seen = metainfo::current_trace()
                    .map(|c| hex(&c))
                    .unwrap_or_default();
                Ok(grpc::Response::new(EchoResponse {
                    action: "trace".into(),
                    msg: seen,
                }))
            });
        let listener = wego_test_support::loopback().await;
        let grpc_addr = listener.local_addr().clone();
        let grpc_server = grpc::GrpcServer::default();
        let g = grpc_server.clone();
        rt::spawn(async move { g.serve(listener, router).await });
        let channel = grpc::Channel::connect(&grpc_addr).await.unwrap();

        type S = EchoServerServer<Forward>;
        let server = Server::builder()
            .add_service(S::new(Forward(channel)))
            .build()
            .unwrap();
        let (addr, _sd) = crate::thrift_common::start(server).await;
        let client = EchoServerClient::new(Client::builder(addr).build().unwrap());

        // The calling hop: a call being served with a trace context (as a
        // server puts it in the call context); the client sends a child.
        let root = TraceContext::new_root();
        let mut meta = MetaInfo::new();
        root.inject(&mut meta, None);
        let outer = Arc::new(CallContext {
            metainfo: meta,
            ..Default::default()
        });
        let r = metainfo::scope(outer, client.echo(request("x")))
            .await
            .unwrap();
        assert_eq!(r.action, hex(&root), "thrift server's trace id");
        assert_eq!(r.msg, hex(&root), "grpc server's trace id");

        // Without a served call the client sends no traceparent; the
        // Thrift server, whose span a subscriber wants (the capture),
        // starts a trace and the gRPC hop continues it.
        crate::span_capture::get();
        let r = client.echo(request("y")).await.unwrap();
        assert_eq!(r.action.len(), 32);
        assert_ne!(r.action, hex(&root));
        assert_eq!(r.msg, r.action, "grpc server's trace id");
    }
);

// A call that arrives without a `traceparent` starts a trace at the server
// (when a subscriber wants its span): the `wego.serve` span carries the new
// trace id, the handler's context holds it, and the calls the handler makes
// continue it.
wego_test_support::each_backend!(
    a_call_without_traceparent_starts_a_trace_the_handler_continues,
    |_backend| async move {
        use std::sync::atomic::{AtomicUsize, Ordering};

        use bytes::Bytes;
        use wego_kitex::client::{Client, ClientRequest};
        use wego_kitex::metainfo;
        use wego_kitex::server::{Server, ThriftReply};

        use crate::span_capture as capture;
        use crate::thrift_common::{service, start};

        capture::get();
        // One method name per run (backends, schedulers): the capture is
        // process-wide.
        static RUN: AtomicUsize = AtomicUsize::new(0);
        let method = format!("rootTrace{}", RUN.fetch_add(1, Ordering::SeqCst));
        // C: answers with the trace id it received.
        let c_svc = service(|_req| async move {
            let t = metainfo::current_trace().expect("the caller's traceparent");
            Ok(ThriftReply::Result(Bytes::from(t.trace_id_hex())))
        });
        let c = Server::builder()
            .service("C", &[method.as_str()], c_svc)
            .build()
            .unwrap();
        let (c_addr, _c) = start(c).await;
        // B: no traceparent comes in; it calls C and reports both ids.
        let b_client = Client::builder(c_addr).build().unwrap();
        let m = method.clone();
        let b_svc = service(move |_req| {
            let client = b_client.clone();
            let m = m.clone();
            async move {
                let own = metainfo::current_trace().expect("a trace started here");
                let r = client.call(ClientRequest::new(&m, Bytes::new())).await?;
                let seen = String::from_utf8_lossy(&r.body).into_owned();
                Ok(ThriftReply::Result(Bytes::from(format!(
                    "{}|{seen}",
                    own.trace_id_hex()
                ))))
            }
        });
        let b = Server::builder()
            .service("B", &[method.as_str()], b_svc)
            .build()
            .unwrap();
        let (b_addr, _b) = start(b).await;
        let r = Client::builder(b_addr)
            .build()
            .unwrap()
            .call(ClientRequest::new(&method, Bytes::new()))
            .await
            .unwrap();
        let text = String::from_utf8(r.body.to_vec()).unwrap();
        let (own, seen) = text.split_once('|').unwrap();
        assert_eq!(own.len(), 32);
        assert_eq!(own, seen, "C continues B's trace");
        let spans = capture::closed("wego.serve", |f| {
            f.get("rpc.method").map(String::as_str) == Some(method.as_str())
                && f.get("rpc.system").map(String::as_str) == Some("thrift")
        });
        let root = spans
            .iter()
            .find(|f| f.get("remote_parent").map(String::as_str) == Some("false"))
            .expect("B's span, a root");
        assert_eq!(root.get("trace_id").map(String::as_str), Some(own));
        let child = spans
            .iter()
            .find(|f| f.get("remote_parent").map(String::as_str) == Some("true"))
            .expect("C's span, under B's call");
        assert_eq!(child.get("trace_id").map(String::as_str), Some(own));
    }
);
