//! RpcInfo and metainfo: what a handler knows about its call.
//!
//! [`RpcInfo`] names the caller, callee, method, sequence id and deadline.
//! [`MetaInfo`] carries user key-values in TTHeader's string info, with
//! Kitex's key conventions: persistent values (`RPCPersist-` prefix) are
//! forwarded across every hop; transient values (`RPCTransient-` prefix) go
//! one hop and arrive as "upstream" values that are not forwarded again.
//!
//! A server runs each handler inside [`scope`]; the handler (or a client it
//! calls) reads the context with [`current`]. The scope is a future wrapper
//! that installs the context for the duration of each poll, so it works on
//! every runtime backend and needs no tokio runtime feature.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

pub use pilota::FastStr;

#[cfg(feature = "governance")]
use wego_governance::trace::{Carrier, TraceContext};

/// W3C Trace Context's header names, carried unprefixed in TTHeader and
/// gRPC metadata whether or not this build propagates traces.
pub(crate) const TRACEPARENT: &str = "traceparent";
/// See [`TRACEPARENT`].
pub(crate) const TRACESTATE: &str = "tracestate";

/// Key prefix of persistent metainfo on the wire.
pub const PREFIX_PERSISTENT: &str = "RPCPersist-";
/// Key prefix of transient metainfo on the wire.
pub const PREFIX_TRANSIENT: &str = "RPCTransient-";

/// TTHeader int info keys (Kitex `transmeta`).
pub mod keys {
    /// The caller's service name.
    pub const FROM_SERVICE: u16 = 3;
    /// The callee's service name.
    pub const TO_SERVICE: u16 = 6;
    /// The method name.
    pub const TO_METHOD: u16 = 9;
    /// The RPC timeout in milliseconds (decimal string).
    pub const RPC_TIMEOUT: u16 = 12;
}

/// User key-values carried with a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaInfo {
    persistent: Vec<(String, String)>,
    transient: Vec<(String, String)>,
    upstream: Vec<(String, String)>,
    /// W3C trace context (`traceparent`, `tracestate`): unprefixed string
    /// keys on the wire, one hop (a client sends a child, not this).
    trace: Vec<(String, String)>,
}

/// Whether `key` is a trace-context key carried unprefixed in TTHeader.
fn is_trace_key(key: &str) -> bool {
    key == TRACEPARENT || key == TRACESTATE
}

/// The trace context of the call being served, if its caller sent one.
#[cfg(feature = "governance")]
pub fn current_trace() -> Option<TraceContext> {
    current().and_then(|c| c.metainfo.trace_context())
}

/// Puts a child of the served call's trace context into `carrier`, unless
/// the carrier already has a `traceparent` (the caller chose one) or no
/// call with a trace is being served. Clients call this on every request.
#[cfg(feature = "governance")]
pub fn inject_child(carrier: &mut dyn Carrier) {
    if carrier.get(TRACEPARENT).is_some() {
        return;
    }
    if let Some(ctx) = current()
        && let Some(parent) = ctx.metainfo.trace_context()
    {
        let state = ctx.metainfo.trace_get(TRACESTATE).map(str::to_owned);
        let child = parent.child();
        child.inject(carrier, state.as_deref());
        // The client span (if any) takes the ids the callee will see.
        wego_governance::trace::record_sent(&child);
    }
}

#[cfg(feature = "governance")]
impl Carrier for MetaInfo {
    fn get(&self, key: &str) -> Option<&str> {
        get(&self.trace, key)
    }
    fn set(&mut self, key: &str, value: String) {
        put(&mut self.trace, key, &value);
    }
}

fn put(v: &mut Vec<(String, String)>, k: &str, val: &str) {
    match v.iter_mut().find(|(key, _)| key == k) {
        Some(slot) => slot.1 = val.to_owned(),
        None => v.push((k.to_owned(), val.to_owned())),
    }
}

/// Sorts `v` by key and keeps one entry per key, with the value that came
/// last: the wire's "last wins" without a search per pair.
fn dedup_keep_last(v: &mut Vec<(String, String)>) {
    if v.len() < 2 {
        return;
    }
    // Stable: equal keys stay in wire order, so the kept slot ends up with
    // the last value.
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(&mut later.1, &mut kept.1);
        }
        same
    });
}

fn get<'a>(v: &'a [(String, String)], k: &str) -> Option<&'a str> {
    v.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

impl MetaInfo {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a persistent value (forwarded across every hop).
    pub fn set_persistent(&mut self, key: &str, value: &str) {
        put(&mut self.persistent, key, value);
    }

    /// Sets a transient value (sent to the next hop only).
    pub fn set_transient(&mut self, key: &str, value: &str) {
        put(&mut self.transient, key, value);
    }

    /// A persistent value.
    pub fn persistent(&self, key: &str) -> Option<&str> {
        get(&self.persistent, key)
    }

    /// A transient value: set here, or received from the previous hop.
    pub fn transient(&self, key: &str) -> Option<&str> {
        get(&self.transient, key).or_else(|| get(&self.upstream, key))
    }

    /// Values that came from the previous hop as transient.
    pub fn upstream_transient(&self, key: &str) -> Option<&str> {
        get(&self.upstream, key)
    }

    /// The W3C trace context carried with the call (`traceparent`), if
    /// valid.
    #[cfg(feature = "governance")]
    pub fn trace_context(&self) -> Option<TraceContext> {
        TraceContext::extract(self)
    }

    #[cfg_attr(not(feature = "governance"), allow(dead_code))] // used by the governance glue
    fn trace_get(&self, key: &str) -> Option<&str> {
        get(&self.trace, key)
    }

    /// Builds the metainfo a server sees from TTHeader string info. A key
    /// sent more than once keeps its last value.
    ///
    /// The cost is O(n log n) in the number of pairs, so a peer sending
    /// thousands of keys costs a sort, not a search per key.
    pub fn from_wire(str_info: &[(String, String)]) -> Self {
        let mut m = MetaInfo::new();
        for (k, v) in str_info {
            let (list, k) = if let Some(k) = k.strip_prefix(PREFIX_PERSISTENT) {
                (&mut m.persistent, k)
            } else if let Some(k) = k.strip_prefix(PREFIX_TRANSIENT) {
                (&mut m.upstream, k)
            } else if is_trace_key(k) {
                (&mut m.trace, k.as_str())
            } else {
                continue;
            };
            list.push((k.to_owned(), v.clone()));
        }
        for list in [&mut m.persistent, &mut m.upstream, &mut m.trace] {
            dedup_keep_last(list);
        }
        m
    }

    /// The values to send to the next hop: persistent and transient, not upstream.
    pub fn to_wire(&self, out: &mut Vec<(String, String)>) {
        for (k, v) in &self.persistent {
            out.push((format!("{PREFIX_PERSISTENT}{k}"), v.clone()));
        }
        for (k, v) in &self.transient {
            out.push((format!("{PREFIX_TRANSIENT}{k}"), v.clone()));
        }
        for (k, v) in &self.trace {
            out.push((k.clone(), v.clone()));
        }
    }

    /// The (key, value, persistent) entries set on this hop.
    pub(crate) fn to_wire_pairs(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        self.to_wire(&mut v);
        v
    }

    /// Sets a value from a wire key, by its prefix.
    pub(crate) fn set_raw(&mut self, key: String, value: String) {
        if let Some(k) = key.strip_prefix(PREFIX_PERSISTENT) {
            put(&mut self.persistent, k, &value);
        } else if let Some(k) = key.strip_prefix(PREFIX_TRANSIENT) {
            put(&mut self.transient, k, &value);
        } else if is_trace_key(&key) {
            put(&mut self.trace, &key, &value);
        }
    }

    /// The metainfo to forward from inside a handler: persistent values
    /// only (transient ones stop at this hop).
    pub fn for_next_hop(&self) -> Self {
        Self {
            persistent: self.persistent.clone(),
            ..Self::default()
        }
    }
}

/// What is known about one call.
///
/// The names are [`FastStr`]s (the string type of pilota's generated code):
/// a name of up to 30 bytes is stored inline and a longer one is shared, so
/// making a call's `RpcInfo` allocates nothing for them.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RpcInfo {
    /// The caller's service name, when it said.
    pub caller: Option<FastStr>,
    /// The callee service.
    pub callee: FastStr,
    /// The method.
    pub method: FastStr,
    /// The sequence id.
    pub seq_id: i32,
    /// When the caller gives up, if it said.
    pub deadline: Option<Instant>,
    /// The peer's address.
    pub peer: Option<FastStr>,
}

/// RpcInfo and metainfo of the call being served.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// Who calls what.
    pub rpc_info: RpcInfo,
    /// User key-values.
    pub metainfo: MetaInfo,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<CallContext>>> = const { RefCell::new(None) };
}

/// The context of the call whose handler is running, if any.
pub fn current() -> Option<Arc<CallContext>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `fut` as part of the trace `parent` (e.g. an HTTP handler's
/// `RequestTrace` context): Thrift and gRPC clients called inside it send a
/// child of `parent`. Persistent metainfo of the call being served, if any,
/// is kept.
#[cfg(feature = "governance")]
pub fn with_trace<F: Future>(parent: &TraceContext, fut: F) -> Scoped<F> {
    let mut ctx = current()
        .map(|c| CallContext::clone(&c))
        .unwrap_or_default();
    parent.inject(&mut ctx.metainfo, None);
    scope(Arc::new(ctx), fut)
}

/// Runs `fut` with `ctx` as the [`current`] context.
pub fn scope<F: Future>(ctx: Arc<CallContext>, fut: F) -> Scoped<F> {
    Scoped {
        ctx: Some(ctx),
        fut,
    }
}

pin_project_lite::pin_project! {
    /// A future running inside a call context; see [`scope`].
    #[derive(Debug)]
    pub struct Scoped<F> {
        ctx: Option<Arc<CallContext>>,
        #[pin]
        fut: F,
    }
}

struct Restore(Option<Arc<CallContext>>);

impl Drop for Restore {
    fn drop(&mut self) {
        let prev = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let prev = CURRENT.with(|c| c.replace(this.ctx.clone()));
        let _restore = Restore(prev);
        this.fut.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_roundtrip_follows_kitex_prefixes() {
        let mut m = MetaInfo::new();
        m.set_persistent("p", "1");
        m.set_transient("t", "2");
        let mut wire = Vec::new();
        m.to_wire(&mut wire);
        assert!(wire.contains(&("RPCPersist-p".into(), "1".into())));
        assert!(wire.contains(&("RPCTransient-t".into(), "2".into())));
        let got = MetaInfo::from_wire(&wire);
        assert_eq!(got.persistent("p"), Some("1"));
        assert_eq!(got.transient("t"), Some("2"));
        // The next hop gets the persistent value, not the transient one.
        let mut next = Vec::new();
        got.for_next_hop().to_wire(&mut next);
        assert_eq!(next, vec![("RPCPersist-p".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn from_wire_keeps_the_last_value_of_a_repeated_key() {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let wire = vec![
            pair("RPCPersist-b", "1"),
            pair("RPCPersist-a", "2"),
            pair("RPCTransient-t", "3"),
            pair("RPCPersist-b", "4"),
            pair("other", "5"),
            pair("RPCPersist-a", "6"),
            pair("RPCPersist-b", "7"),
            pair("RPCTransient-t", "8"),
        ];
        let got = MetaInfo::from_wire(&wire);
        assert_eq!(got.persistent("a"), Some("6"));
        assert_eq!(got.persistent("b"), Some("7"));
        assert_eq!(got.upstream_transient("t"), Some("8"));
        let mut next = Vec::new();
        got.for_next_hop().to_wire(&mut next);
        next.sort();
        assert_eq!(
            next,
            vec![pair("RPCPersist-a", "6"), pair("RPCPersist-b", "7")]
        );
    }

    #[cfg(feature = "governance")]
    #[test]
    fn trace_context_travels_unprefixed_and_clients_send_a_child() {
        let root = TraceContext::new_root();
        let mut m = MetaInfo::new();
        root.inject(&mut m, Some("k=v"));
        let mut wire = Vec::new();
        m.to_wire(&mut wire);
        assert!(wire.iter().any(|(k, _)| k == "traceparent"));
        let got = MetaInfo::from_wire(&wire);
        assert_eq!(got.trace_context().unwrap(), root);
        // Not forwarded as is: the next hop gets a child from inject_child.
        assert_eq!(got.for_next_hop().trace_context(), None);
        let ctx = Arc::new(CallContext {
            metainfo: got,
            ..Default::default()
        });
        let fut = scope(ctx, async {
            let mut out = MetaInfo::new();
            inject_child(&mut out);
            out
        });
        let out = futures_util::FutureExt::now_or_never(fut).unwrap();
        let child = out.trace_context().unwrap();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert_eq!(out.trace_get(TRACESTATE), Some("k=v"));
        // with_trace makes any future part of a trace.
        let fut = with_trace(&root, async {
            let mut out = MetaInfo::new();
            inject_child(&mut out);
            out.trace_context().unwrap().trace_id
        });
        assert_eq!(
            futures_util::FutureExt::now_or_never(fut).unwrap(),
            root.trace_id
        );
        // Outside a call nothing is injected.
        let mut none = MetaInfo::new();
        inject_child(&mut none);
        assert_eq!(none.trace_context(), None);
    }

    #[cfg(feature = "governance")]
    #[test]
    fn scope_sets_and_restores_the_context() {
        let ctx = Arc::new(CallContext {
            rpc_info: RpcInfo {
                method: "m".into(),
                ..Default::default()
            },
            ..Default::default()
        });
        let fut = scope(ctx, async { current().map(|c| c.rpc_info.method.clone()) });
        let got = futures_util::FutureExt::now_or_never(fut).unwrap();
        assert_eq!(got.as_deref(), Some("m"));
        assert!(current().is_none());
    }
}
