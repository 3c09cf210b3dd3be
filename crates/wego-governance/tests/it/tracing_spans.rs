//! The trace layer's `wego.call` span and its fields, including the peer
//! recorded by the load balancer underneath.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tower_layer::Layer;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;
use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
use wego_governance::trace::TraceLayer;
use wego_governance::{Discover, StaticDiscover};

use crate::support::{Fleet, call, inst, send};

type Fields = Arc<Mutex<BTreeMap<u64, BTreeMap<String, String>>>>;

/// Records every span's fields (a minimal subscriber; no extra crate).
struct Recorder {
    next: AtomicU64,
    fields: Fields,
    meta: Mutex<BTreeMap<u64, &'static Metadata<'static>>>,
    stack: Mutex<Vec<u64>>,
}

struct Collect<'a>(&'a mut BTreeMap<String, String>);
impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut map = BTreeMap::new();
        map.insert("name".to_owned(), attrs.metadata().name().to_owned());
        attrs.record(&mut Collect(&mut map));
        self.fields.lock().unwrap().insert(id, map);
        self.meta.lock().unwrap().insert(id, attrs.metadata());
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(map) = self.fields.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Collect(map));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, span: &Id) {
        self.stack.lock().unwrap().push(span.into_u64());
    }
    fn exit(&self, span: &Id) {
        let mut st = self.stack.lock().unwrap();
        if let Some(pos) = st.iter().rposition(|&s| s == span.into_u64()) {
            st.remove(pos);
        }
    }
    fn current_span(&self) -> Current {
        // One test task: a single stack is enough.
        match self.stack.lock().unwrap().last() {
            Some(&id) => Current::new(Id::from_u64(id), self.meta.lock().unwrap()[&id]),
            None => Current::none(),
        }
    }
}

wego_test_support::each_backend!(
    each_call_gets_a_span_with_peer_status_latency,
    |_backend| async move {
        let fields: Fields = Arc::default();
        let recorder = Recorder {
            next: AtomicU64::new(0),
            fields: fields.clone(),
            meta: Mutex::default(),
            stack: Mutex::default(),
        };
        let d = StaticDiscover::with_service("echo", vec![inst(7)]);
        let fleet = Fleet::default();
        fleet.set_down(7, true);
        let watch = d.discover("echo").await.unwrap();
        let lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new).layer(fleet.make());
        let mut svc = TraceLayer::new().layer(lb);
        let _guard = tracing::subscriber::set_default(recorder);
        let _ = send(&mut svc, call(0)).await;
        let spans = fields.lock().unwrap().clone();
        let span = spans
            .values()
            .find(|m| m["name"] == "wego.call")
            .expect("a wego.call span");
        assert_eq!(span["service"], "echo");
        assert_eq!(span["method"], "say");
        assert_eq!(span["peer"], "127.0.0.1:7");
        assert_eq!(span["status"], "transport");
        assert!(span["latency_ms"].parse::<f64>().unwrap() >= 0.0);
    }
);

/// A callee that sends `ctx` as its `traceparent`, as a client that
/// makes the child context itself does.
#[derive(Clone)]
struct Sends(wego_governance::trace::TraceContext);

impl<B> tower_service::Service<wego_governance::Call<B>> for Sends {
    type Response = ();
    type Error = wego_governance::Error;
    type Future = std::future::Ready<Result<(), wego_governance::Error>>;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: wego_governance::Call<B>) -> Self::Future {
        wego_governance::trace::record_sent(&self.0);
        std::future::ready(Ok(()))
    }
}

wego_test_support::each_backend!(
    a_client_span_records_the_ids_it_sends,
    |_backend| async move {
        let fields: Fields = Arc::default();
        let recorder = Recorder {
            next: AtomicU64::new(0),
            fields: fields.clone(),
            meta: Mutex::default(),
            stack: Mutex::default(),
        };
        let sent = wego_governance::trace::TraceContext::new_root();
        let mut svc = TraceLayer::client()
            .with_system("thrift")
            .layer(Sends(sent));
        let _guard = tracing::subscriber::set_default(recorder);
        send(&mut svc, call(0)).await.unwrap();
        let spans = fields.lock().unwrap().clone();
        let span = spans
            .values()
            .find(|m| m["name"] == "wego.call")
            .expect("a wego.call span");
        assert_eq!(span["otel.kind"], "client");
        assert_eq!(span["rpc.system"], "thrift");
        assert_eq!(span["rpc.service"], "echo");
        assert_eq!(span["rpc.method"], "say");
        assert_eq!(span["trace_id"], sent.trace_id_hex());
        assert_eq!(span["span_id"], sent.span_id_hex());
    }
);
