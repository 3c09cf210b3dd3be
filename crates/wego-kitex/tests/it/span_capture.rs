//! A minimal global `tracing` subscriber keeping every closed span's
//! recorded fields, for tests of the spans wego opens (the test binary
//! has no other global subscriber).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Closed spans: their fields, as text (`span` is the span's name).
pub(crate) type SpanLog = Mutex<Vec<HashMap<String, String>>>;

/// A span's clone count and recorded fields.
type OpenSpan = (usize, HashMap<String, String>);

#[derive(Default)]
pub(crate) struct Capture {
    next: AtomicU64,
    open: Mutex<HashMap<u64, OpenSpan>>,
    pub(crate) closed: SpanLog,
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
pub(crate) fn get() -> &'static Capture {
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

/// The fields of the closed spans named `name` that `pred` accepts.
pub(crate) fn closed(
    name: &str,
    pred: impl Fn(&HashMap<String, String>) -> bool,
) -> Vec<HashMap<String, String>> {
    get()
        .closed
        .lock()
        .unwrap()
        .iter()
        .filter(|f| f.get("span").map(String::as_str) == Some(name) && pred(f))
        .cloned()
        .collect()
}
