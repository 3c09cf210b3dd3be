//! Governance over streaming gRPC calls: on the server, layers wrapped by
//! `GovernedStreams` see whole streams (limits count open streams,
//! metrics record stream duration and final status); on the client,
//! `GovernedClient` streams pick an instance at open, breakers record the
//! final status, timeouts cover the stream, and retries stop once the call
//! is committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_core::Stream;
use tower_layer::Layer;
use wego_governance::breaker::{BreakerConfig, BreakerLayer};
use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
use wego_governance::limit::{ConcurrencyLimitLayer, RateLimitLayer};
use wego_governance::metrics::{Metrics, MetricsLayer};
use wego_governance::retry::{Backoff, RetryLayer};
use wego_governance::timeout::TimeoutLayer;
use wego_governance::trace::{TraceContext, TraceLayer};
use wego_governance::{Discover, Instance, StaticDiscover};
use wego_kitex::grpc::{
    BoxStream, Channel, Code, GovernedClient, GovernedStreams, GrpcRouter, GrpcServer,
    GrpcStreamCall, LazyChannel, RawRequest, RawResponse, Request, RequestStream, Response,
    ResponseStream, ServerTraceLayer, Status,
};
use wego_netpoll::{Address, rt};

use super::clock::{assert_at, step_until};
use super::grpc_common::{BIDI, EchoRequest, EchoResponse, echo_router, pipe_channel, req};

/// Serves `svc` on loopback; returns the address and the server.
pub(crate) async fn serve<S>(svc: S) -> (Address, GrpcServer)
where
    S: tower_service::Service<RawRequest, Response = RawResponse, Error = Status>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let server = GrpcServer::default();
    let s = server.clone();
    rt::spawn(async move { s.serve(listener, svc).await });
    (addr, server)
}

/// A request stream fed by the returned sender.
pub(crate) fn feed() -> (
    tokio::sync::mpsc::Sender<EchoRequest>,
    impl Stream<Item = EchoRequest> + Send + 'static,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let s =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    (tx, s)
}

async fn open(
    ch: &Channel,
) -> (
    tokio::sync::mpsc::Sender<EchoRequest>,
    ResponseStream<EchoResponse>,
) {
    let (tx, reqs) = feed();
    let s = ch
        .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
        .await
        .unwrap()
        .into_inner();
    (tx, s)
}

/// The value of the first sample of `name` whose labels contain `labels`.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .find(|l| l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

wego_test_support::each_backend!(
    server_concurrency_limit_counts_open_streams,
    |_backend| async move {
        let svc = GovernedStreams::layer(ConcurrencyLimitLayer::new(1), echo_router());
        let (addr, _server) = serve(svc).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let (tx, mut a) = open(&ch).await;
        tx.send(req("one")).await.unwrap();
        assert_eq!(a.message().await.unwrap().unwrap().msg, "one");
        // The open stream holds the only slot: a second one is refused
        // with a trailers-only RESOURCE_EXHAUSTED.
        let (_tx2, reqs) = feed();
        let err = ch
            .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        // The first stream still works, and ending it frees the slot.
        tx.send(req("two")).await.unwrap();
        assert_eq!(a.message().await.unwrap().unwrap().msg, "two");
        drop(tx);
        assert!(a.message().await.unwrap().is_none());
        let (tx, mut c) = open(&ch).await;
        tx.send(req("three")).await.unwrap();
        assert_eq!(c.message().await.unwrap().unwrap().msg, "three");
    }
);

wego_test_support::each_backend!(
    server_rate_limit_admits_stream_opens_not_messages,
    |_backend| async move {
        let svc = GovernedStreams::layer(RateLimitLayer::new(1, 1), echo_router());
        let (addr, _server) = serve(svc).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let (tx, mut a) = open(&ch).await;
        for i in 0..5 {
            tx.send(req(&i.to_string())).await.unwrap();
            assert_eq!(a.message().await.unwrap().unwrap().msg, i.to_string());
        }
        let (_tx2, reqs) = feed();
        let err = ch
            .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        assert!(err.message().contains("rate limit"), "{err:?}");
    }
);

wego_test_support::each_backend!(
    server_metrics_record_stream_duration_and_final_status,
    |_backend| async move {
        let metrics = Metrics::new();
        let layers = tower_layer::Stack::new(MetricsLayer::new(metrics.clone()), TraceLayer::new());
        let svc = GovernedStreams::layer(layers, echo_router());
        let (addr, _server) = serve(svc).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let labels = "method=\"EchoBidiStream\"";

        let started = Instant::now();
        let (tx, mut a) = open(&ch).await;
        tx.send(req("one")).await.unwrap();
        a.message().await.unwrap().unwrap();
        // The server has opened the stream and answered by now.
        let answered = Instant::now();
        let text = metrics.render();
        assert_eq!(sample(&text, "wego_in_flight", labels), Some(1.0), "{text}");
        assert_eq!(sample(&text, "wego_requests_total", labels), None, "{text}");
        // Keep the stream busy for longer than opening and answering took:
        // a duration measured up to the response head is shorter than that.
        let head = answered - started;
        while answered.elapsed() <= head {
            tx.send(req("more")).await.unwrap();
            assert_eq!(a.message().await.unwrap().unwrap().msg, "more");
        }
        let ending = Instant::now();
        drop(tx);
        assert!(a.message().await.unwrap().is_none());
        let held = started.elapsed().as_secs_f64();
        // The server's stream began before `answered` and ended after
        // `ending`, within `held`.
        let open_at_least = (ending - answered).as_secs_f64();

        let text = metrics.render();
        assert_eq!(sample(&text, "wego_in_flight", labels), Some(0.0), "{text}");
        let ok = format!("{labels},status=\"ok\"");
        assert_eq!(
            sample(&text, "wego_requests_total", &ok),
            Some(1.0),
            "{text}"
        );
        let sum = sample(&text, "wego_request_duration_seconds_sum", labels).unwrap();
        assert!(
            (open_at_least..=held).contains(&sum),
            "latency {sum} s is the stream's duration (open at least {open_at_least} s, \
             held {held} s)"
        );

        // A stream ending with UNAVAILABLE after its head counts as an error.
        let (tx, mut b) = open(&ch).await;
        tx.send(EchoRequest {
            action: "fail".into(),
            msg: "14:going away".into(),
        })
        .await
        .unwrap();
        let err = b.message().await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        let text = metrics.render();
        let kind = format!("{labels},kind=\"unavailable\"");
        assert_eq!(
            sample(&text, "wego_errors_total", &kind),
            Some(1.0),
            "{text}"
        );
        assert_eq!(sample(&text, "wego_in_flight", labels), Some(0.0), "{text}");
    }
);

/// A bidi route answering every message with `name` and the trace id the
/// server saw, counting the streams it opened.
fn named_bidi(name: &'static str, opened: Arc<AtomicUsize>) -> GrpcRouter {
    GrpcRouter::new().streaming(BIDI, move |r: Request<RequestStream<EchoRequest>>| {
        opened.fetch_add(1, Ordering::SeqCst);
        let trace: String = TraceContext::extract(r.metadata())
            .map(|c| c.trace_id.iter().map(|b| format!("{b:02x}")).collect())
            .unwrap_or_default();
        async move {
            let s = futures_util::StreamExt::map(r.into_inner(), move |m| {
                m.map(|_| EchoResponse {
                    action: name.into(),
                    msg: trace.clone(),
                })
            });
            let mut resp = Response::new(Box::pin(s) as BoxStream<EchoResponse>);
            // The tests open the call before they send.
            resp.set_early_headers(true);
            Ok(resp)
        }
    })
}

async fn watch(addrs: &[Address]) -> wego_governance::InstanceWatch {
    StaticDiscover::with_service("echo", addrs.iter().cloned().map(Instance::new).collect())
        .discover("echo")
        .await
        .unwrap()
}

wego_test_support::each_backend!(
    client_streams_pick_an_instance_at_open_and_carry_the_trace,
    |_backend| async move {
        let counts = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
        let (a, _sa) = serve(ServerTraceLayer.layer(named_bidi("a", counts[0].clone()))).await;
        let (b, _sb) = serve(named_bidi("b", counts[1].clone())).await;
        let builder = Channel::builder();
        let lb = LoadBalanceLayer::new("echo", watch(&[a, b]).await, RoundRobin::new)
            .layer(move |i: &Instance| LazyChannel::new(builder.clone(), i.address.clone()));
        let mut client = GovernedClient::new(lb);
        let parent = TraceContext::new_root();
        let want: String = parent.trace_id.iter().map(|b| format!("{b:02x}")).collect();
        let mut streams = Vec::new();
        for _ in 0..4 {
            let (tx, reqs) = feed();
            let reqs: BoxStream<bytes::Bytes> = Box::pin(futures_util::StreamExt::map(reqs, |m| {
                Ok(bytes::Bytes::from(prost::Message::encode_to_vec(&m)))
            }));
            let call = GrpcStreamCall::stream(BIDI, Request::new(reqs)).with_trace_parent(&parent);
            let s = client.call_stream(call).await.unwrap().into_inner();
            streams.push((tx, s.decode_into::<EchoResponse>()));
        }
        let mut seen = Vec::new();
        for (tx, s) in &mut streams {
            let mut names = Vec::new();
            for i in 0..3 {
                tx.send(req(&i.to_string())).await.unwrap();
                let m = s.message().await.unwrap().unwrap();
                assert_eq!(m.msg, want, "traceparent reached the server");
                names.push(m.action);
            }
            names.dedup();
            assert_eq!(names.len(), 1, "a stream stays on its instance: {names:?}");
            seen.push(names.remove(0));
        }
        seen.sort();
        assert_eq!(seen, ["a", "a", "b", "b"]);
        assert_eq!(counts[0].load(Ordering::SeqCst), 2);
        assert_eq!(counts[1].load(Ordering::SeqCst), 2);
    }
);

wego_test_support::each_backend!(
    client_breaker_records_a_streams_final_status,
    |_backend| async move {
        let (addr, _server) = serve(echo_router()).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let breaker = BreakerLayer::new(
            BreakerConfig::default()
                .with_consecutive_failures(2)
                .with_cool_down(Duration::from_secs(3600)),
        );
        let mut client = GovernedClient::new(breaker.layer(ch));
        for _ in 0..2 {
            let (tx, reqs) = feed();
            // The head arrives fine; the stream then ends with UNAVAILABLE.
            let mut s = client
                .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
                .await
                .unwrap()
                .into_inner();
            tx.send(req("fine")).await.unwrap();
            assert_eq!(s.message().await.unwrap().unwrap().msg, "fine");
            tx.send(EchoRequest {
                action: "fail".into(),
                msg: "14:down".into(),
            })
            .await
            .unwrap();
            assert_eq!(s.message().await.unwrap_err().code(), Code::Unavailable);
        }
        let (_tx, reqs) = feed();
        let err = client
            .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        assert!(err.message().contains("breaker"), "{err:?}");
    }
);

wego_test_support::each_backend_paused!(
    client_timeout_covers_the_whole_stream,
    |backend| async move {
        let (ch, _conn) = pipe_channel(&GrpcServer::default(), echo_router()).await;
        let timeout = Duration::from_millis(300);
        let mut client = GovernedClient::new(TimeoutLayer::new(timeout).layer(ch));
        let t0 = rt::now();
        let (tx, reqs) = feed();
        let mut s = client
            .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
            .await
            .unwrap()
            .into_inner();
        tx.send(req("in time")).await.unwrap();
        assert_eq!(s.message().await.unwrap().unwrap().msg, "in time");
        // Nothing more is sent: the stream stays open until the timeout,
        // which counts from the stream's start, not from its last message.
        let (r, _) = step_until(Duration::from_secs(10), s.message()).await;
        let err = r.unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
        assert_at(backend, rt::now() - t0, timeout, 1);
    }
);

wego_test_support::each_backend!(
    client_retries_a_stream_that_failed_before_it_started,
    |_backend| async move {
        // The first instance is gone: its connections are refused.
        let (dead, server) = serve(echo_router()).await;
        server.shutdown(Duration::ZERO).await;
        let opened = Arc::new(AtomicUsize::new(0));
        let (live, _s) = serve(named_bidi("live", opened.clone())).await;
        let builder = Channel::builder().with_connect_timeout(Duration::from_secs(2));
        let lb = LoadBalanceLayer::new("echo", watch(&[dead, live]).await, RoundRobin::new)
            .layer(move |i: &Instance| LazyChannel::new(builder.clone(), i.address.clone()));
        let metrics = Metrics::new();
        let retry = RetryLayer::new(3)
            .with_backoff(Backoff::none())
            .with_metrics(metrics.clone())
            .layer(lb);
        let mut client = GovernedClient::new(retry).with_idempotent(true);
        for i in 0..4 {
            let (tx, reqs) = feed();
            let mut s = client
                .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
                .await
                .unwrap_or_else(|e| panic!("stream {i}: {e:?}"))
                .into_inner();
            tx.send(req("x")).await.unwrap();
            assert_eq!(s.message().await.unwrap().unwrap().action, "live");
        }
        assert_eq!(opened.load(Ordering::SeqCst), 4);
        assert!(
            metrics.retries("echo.EchoServer") >= 1,
            "{}",
            metrics.render()
        );
    }
);

/// A bidi route that fails with UNAVAILABLE before its response head,
/// after reading one request message if `read_first`.
fn failing_bidi(read_first: bool, attempts: Arc<AtomicUsize>) -> GrpcRouter {
    GrpcRouter::new().streaming(BIDI, move |r: Request<RequestStream<EchoRequest>>| {
        attempts.fetch_add(1, Ordering::SeqCst);
        async move {
            if read_first {
                let mut s = r.into_inner();
                let _ = s.message().await;
            }
            Err::<Response<BoxStream<EchoResponse>>, _>(Status::unavailable("not now"))
        }
    })
}

wego_test_support::each_backend!(
    client_never_retries_a_committed_stream,
    |_backend| async move {
        for read_first in [false, true] {
            let attempts = Arc::new(AtomicUsize::new(0));
            let (addr, _s) = serve(failing_bidi(read_first, attempts.clone())).await;
            let ch = Channel::connect(&addr).await.unwrap();
            let retry = RetryLayer::new(3).with_backoff(Backoff::none()).layer(ch);
            let mut client = GovernedClient::new(retry).with_idempotent(true);
            let (tx, reqs) = feed();
            if read_first {
                // The server takes this message before it fails.
                tx.send(req("taken")).await.unwrap();
            }
            let err = client
                .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::Unavailable, "{err:?}");
            let n = attempts.load(Ordering::SeqCst);
            if read_first {
                assert!(err.is_committed(), "{err:?}");
                assert_eq!(n, 1, "a consumed request stream is not replayed");
            } else {
                assert!(!err.is_committed(), "{err:?}");
                assert_eq!(n, 3, "nothing was consumed: every attempt is made");
            }
        }
    }
);

wego_test_support::each_backend!(
    attempts_of_one_stream_never_overlap,
    |_backend| async move {
        use tower::Service;
        // The echo stream, reporting each stream it opens.
        let (opened_tx, mut opened) = tokio::sync::mpsc::unbounded_channel::<()>();
        let router =
            GrpcRouter::new().streaming(BIDI, move |r: Request<RequestStream<EchoRequest>>| {
                let _ = opened_tx.send(());
                async move {
                    let s = futures_util::StreamExt::map(r.into_inner(), |m| {
                        m.map(|m| EchoResponse {
                            action: m.action,
                            msg: m.msg,
                        })
                    });
                    Ok(Response::new(Box::pin(s) as BoxStream<EchoResponse>))
                }
            });
        let (addr, _server) = serve(router).await;
        let mut ch = Channel::connect(&addr).await.unwrap();
        let (_tx, reqs) = feed();
        let reqs: BoxStream<bytes::Bytes> = Box::pin(futures_util::StreamExt::map(reqs, |m| {
            Ok(bytes::Bytes::from(prost::Message::encode_to_vec(&m)))
        }));
        let call = GrpcStreamCall::stream(BIDI, Request::new(reqs)).with_idempotent(true);
        // The first attempt reaches the server and holds the request stream,
        // which stays open...
        let first = rt::spawn(Service::call(&mut ch, call.clone()));
        rt::timeout(Duration::from_secs(10), opened.recv())
            .await
            .expect("the first attempt reaches the server")
            .unwrap();
        // ...so a backup attempt cannot share it.
        let err = Service::call(&mut ch, call).await.unwrap_err();
        assert_eq!(err.code(), Code::Aborted, "{err:?}");
        assert!(err.is_committed(), "{err:?}");
        first.abort();
    }
);
