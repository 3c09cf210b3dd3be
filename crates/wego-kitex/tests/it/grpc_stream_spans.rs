//! A `tracing` span per governed stream, on the server and on the client,
//! lasting the whole stream and recording its final status.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tower_layer::Layer;
use wego_governance::trace::TraceLayer;
use wego_kitex::grpc::{
    BoxStream, Channel, Code, GovernedClient, GovernedStreams, GrpcRouter, GrpcStreamCall, Request,
    RequestStream, Response, Status,
};

use super::grpc_common::{EchoRequest, EchoResponse, req};
use super::grpc_governance_streams::{feed, serve};

/// Closed `wego.call` spans of one service: their fields, as text.
type SpanLog = std::sync::Mutex<Vec<std::collections::HashMap<String, String>>>;

/// A minimal global `tracing` subscriber keeping every closed span's
/// recorded fields (the test binary has no other subscriber).
mod capture {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, OnceLock};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// A span's clone count and recorded fields.
    type OpenSpan = (usize, HashMap<String, String>);

    #[derive(Default)]
    pub(super) struct Capture {
        next: AtomicU64,
        open: Mutex<HashMap<u64, OpenSpan>>,
        pub(super) closed: super::SpanLog,
    }

    struct Fields<'a>(&'a mut HashMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
            let mut fields = HashMap::new();
            fields.insert("span".to_owned(), attrs.metadata().name().to_owned());
            attrs.record(&mut Fields(&mut fields));
            self.open.lock().unwrap().insert(id, (1, fields));
            Id::from_u64(id)
        }
        fn record(&self, span: &Id, values: &Record<'_>) {
            if let Some((_, f)) = self.open.lock().unwrap().get_mut(&span.into_u64()) {
                values.record(&mut Fields(f));
            }
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
        fn clone_span(&self, id: &Id) -> Id {
            if let Some((n, _)) = self.open.lock().unwrap().get_mut(&id.into_u64()) {
                *n += 1;
            }
            id.clone()
        }
        fn try_close(&self, id: Id) -> bool {
            let mut open = self.open.lock().unwrap();
            let Some((n, _)) = open.get_mut(&id.into_u64()) else {
                return false;
            };
            *n -= 1;
            if *n > 0 {
                return false;
            }
            let (_, fields) = open.remove(&id.into_u64()).unwrap();
            self.closed.lock().unwrap().push(fields);
            true
        }
    }

    /// The process-wide capture, installed on first use.
    pub(super) fn get() -> &'static Capture {
        static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let c: &'static Capture = Box::leak(Box::default());
            tracing::subscriber::set_global_default(Forward(c))
                .expect("no other global subscriber in this test binary");
            c
        })
    }

    /// Forwards to the leaked capture (the global default must own a value).
    struct Forward(&'static Capture);

    impl Subscriber for Forward {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            self.0.enabled(m)
        }
        fn new_span(&self, a: &Attributes<'_>) -> Id {
            self.0.new_span(a)
        }
        fn record(&self, s: &Id, v: &Record<'_>) {
            self.0.record(s, v)
        }
        fn record_follows_from(&self, s: &Id, f: &Id) {
            self.0.record_follows_from(s, f)
        }
        fn event(&self, e: &Event<'_>) {
            self.0.event(e)
        }
        fn enter(&self, s: &Id) {
            self.0.enter(s)
        }
        fn exit(&self, s: &Id) {
            self.0.exit(s)
        }
        fn clone_span(&self, s: &Id) -> Id {
            self.0.clone_span(s)
        }
        fn try_close(&self, s: Id) -> bool {
            self.0.try_close(s)
        }
    }
}

/// The closed `wego.call` spans of `service`, as (status, latency in ms).
fn call_spans(service: &str) -> Vec<(String, f64)> {
    capture::get()
        .closed
        .lock()
        .unwrap()
        .iter()
        .filter(|f| {
            f.get("span").map(String::as_str) == Some("wego.call")
                && f.get("service").map(String::as_str) == Some(service)
        })
        .map(|f| {
            let status = f.get("status").cloned().unwrap_or_default();
            let ms = f
                .get("latency_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1.0);
            (status, ms)
        })
        .collect()
}

/// A bidi route at `/<service>/Bidi` that echoes, and fails with the
/// status `code:message` sent as a message's `msg` when `action` is "fail".
fn span_router(service: &str) -> GrpcRouter {
    GrpcRouter::new().streaming(
        &format!("/{service}/Bidi"),
        |r: Request<RequestStream<EchoRequest>>| async move {
            let s = futures_util::StreamExt::map(r.into_inner(), |m| {
                let m = m?;
                if m.action == "fail" {
                    return Err(Status::new(Code::Unavailable, m.msg));
                }
                Ok(EchoResponse {
                    action: m.action,
                    msg: m.msg,
                })
            });
            let mut resp = Response::new(Box::pin(s) as BoxStream<EchoResponse>);
            // The test opens the call before it sends.
            resp.set_early_headers(true);
            Ok(resp)
        },
    )
}

wego_test_support::each_backend!(
    a_span_covers_each_stream_with_its_final_status,
    |_backend| async move {
        capture::get();
        // One service name per run (backends, flavours): the capture is
        // process-wide.
        static RUN: AtomicUsize = AtomicUsize::new(0);
        let run = RUN.fetch_add(1, Ordering::SeqCst);
        let server_svc = format!("spans.Server{run}");
        let client_svc = format!("spans.Client{run}");
        let svc = GovernedStreams::layer(TraceLayer::new(), span_router(&server_svc));
        let (addr, _server) = serve(svc).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let mut client = GovernedClient::new(TraceLayer::new().layer(ch));
        let path = format!("/{server_svc}/Bidi");

        // Per stream, how long it surely stayed open: from its first answer
        // until its end was sent.
        let mut open_at_least = Vec::new();
        for fail in [false, true] {
            let started = Instant::now();
            let (tx, reqs) = feed();
            let reqs: BoxStream<bytes::Bytes> = Box::pin(futures_util::StreamExt::map(reqs, |m| {
                Ok(bytes::Bytes::from(prost::Message::encode_to_vec(&m)))
            }));
            let call = GrpcStreamCall::stream(&path, Request::new(reqs)).with_callee(&client_svc);
            let mut s = client
                .call_stream(call)
                .await
                .unwrap()
                .into_inner()
                .decode_into::<EchoResponse>();
            tx.send(req("hello")).await.unwrap();
            s.message().await.unwrap().unwrap();
            let answered = Instant::now();
            // Keep the stream busy for longer than opening and answering
            // took: a span ending at the response head is shorter than that.
            let head = answered - started;
            while answered.elapsed() <= head {
                tx.send(req("more")).await.unwrap();
                assert_eq!(s.message().await.unwrap().unwrap().msg, "more");
            }
            open_at_least.push(answered.elapsed().as_secs_f64() * 1000.0);
            if fail {
                tx.send(EchoRequest {
                    action: "fail".into(),
                    msg: "gone".into(),
                })
                .await
                .unwrap();
                assert_eq!(s.message().await.unwrap_err().code(), Code::Unavailable);
            } else {
                drop(tx);
                assert!(s.message().await.unwrap().is_none());
            }
        }
        // The server records before it sends trailers; the client when its
        // stream reports the end. Both have closed their spans by now.
        for svc in [&server_svc, &client_svc] {
            let spans = call_spans(svc);
            assert_eq!(spans.len(), 2, "{svc}: one span per stream: {spans:?}");
            assert_eq!(spans[0].0, "ok", "{svc}: {spans:?}");
            assert_eq!(spans[1].0, "unavailable", "{svc}: {spans:?}");
            for ((_, ms), least) in spans.iter().zip(&open_at_least) {
                assert!(
                    ms >= least,
                    "{svc}: the span lasts the stream ({least} ms at least): {spans:?}"
                );
            }
        }
    }
);
