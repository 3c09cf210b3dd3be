//! [`OtelLayer`]: a `tracing-subscriber` layer that turns wego's spans
//! (`wego.serve`, `wego.call`) into OpenTelemetry spans.
//!
//! The spans carry their place in the distributed trace as fields (see
//! `wego_governance::trace`): `trace_id`, `span_id` (the id sent to a
//! callee in `traceparent`), `parent_span_id` (the caller's span, on
//! server spans), `trace_flags` (the caller's flags, two hex digits or
//! a number; bit 0 is "sampled") and `otel.kind`. A span without them takes its trace and
//! parent from the nearest enclosing wego span, or starts a new trace.
//! So the exported ids are exactly the ones that travel on the wire, and
//! each hop's server span points at the caller's client span.
//!
//! The span is built when it closes, with the SDK tracer: its start and
//! end times, attributes and status are known then. The sampling decision
//! is taken when the span opens, with the provider's sampler: parent
//! based (a child follows its parent, a caller's `traceparent` is
//! honoured) with a trace-id ratio for new traces. An unsampled span
//! costs one sampler call and is never built.
//!
//! Attribute names: a field whose name has a dot (`rpc.system`,
//! `http.request.method`) is exported as is; any other field is exported
//! as `wego.<name>` (`wego.service`, `wego.latency_ms`). A `status` other
//! than `ok` sets the span status to error with that kind.

use std::any::TypeId;
use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use std::cell::Cell;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample, Tracer,
};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;
use wego_governance::trace::RootSampler;

/// The name prefix of the spans exported.
const PREFIX: &str = "wego.";

thread_local! {
    /// The ids of the span [`OtelLayer`] is building on this thread.
    static NEXT_IDS: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// The tracer provider's id generator: the ids [`OtelLayer`] chose for
/// the span it is building (the SDK takes ids only from its generator),
/// random ids for any other span.
#[derive(Debug, Default)]
pub(crate) struct WegoIds {
    random: RandomIdGenerator,
}

impl IdGenerator for WegoIds {
    fn new_trace_id(&self) -> TraceId {
        NEXT_IDS
            .with(Cell::get)
            .map_or_else(|| self.random.new_trace_id(), |(t, _)| t)
    }

    fn new_span_id(&self) -> SpanId {
        NEXT_IDS
            .with(Cell::get)
            .map_or_else(|| self.random.new_span_id(), |(_, s)| s)
    }
}

/// Exports wego's `tracing` spans through an OpenTelemetry tracer. Add it
/// to a `tracing_subscriber::Registry`; get it from
/// [`Telemetry::layer`](crate::Telemetry::layer).
pub struct OtelLayer {
    tracer: Tracer,
    sampler: Sampler,
    ids: RandomIdGenerator,
    /// The sampler's decision for new traces, for `TraceContext::new_root`
    /// (see [`Layer::downcast_raw`] below).
    root: RootSampler,
}

impl fmt::Debug for OtelLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelLayer")
            .field("sampler", &self.sampler)
            .finish()
    }
}

impl OtelLayer {
    /// A layer building spans with `tracer` (of a provider whose id
    /// generator is [`WegoIds`]), deciding with `sampler` (the provider's
    /// sampler, so both decide alike).
    pub(crate) fn new(tracer: Tracer, sampler: Sampler) -> OtelLayer {
        let decide = sampler.clone();
        let root = RootSampler::new(move |trace_id| {
            decide
                .should_sample(
                    None,
                    TraceId::from_bytes(*trace_id),
                    "wego.serve",
                    &SpanKind::Server,
                    &[],
                    &[],
                )
                .decision
                == SamplingDecision::RecordAndSample
        });
        OtelLayer {
            tracer,
            sampler,
            root,
            ids: RandomIdGenerator::default(),
        }
    }
}

/// A wego span on its way to export.
struct SpanState {
    name: &'static str,
    kind: SpanKind,
    start: SystemTime,
    /// Explicit ids from the span's fields (the first recorded wins).
    trace_id: Option<TraceId>,
    span_id: Option<SpanId>,
    remote_parent: Option<SpanId>,
    /// The caller's sampled flag (`trace_flags` bit 0); sampled if absent.
    remote_sampled: bool,
    /// Decided when the span opened.
    resolved_trace: TraceId,
    generated_id: SpanId,
    local_parent: Option<Id>,
    sampled: bool,
    attributes: Vec<KeyValue>,
    error: Option<String>,
}

impl SpanState {
    fn span_id(&self) -> SpanId {
        self.span_id.unwrap_or(self.generated_id)
    }

    fn trace_id(&self) -> TraceId {
        self.trace_id.unwrap_or(self.resolved_trace)
    }

    fn set(&mut self, key: &str, value: Value) {
        match key {
            "trace_id" => {
                if self.trace_id.is_none() {
                    self.trace_id = parse_trace_id(&value);
                }
            }
            "span_id" => {
                if self.span_id.is_none() {
                    self.span_id = parse_span_id(&value);
                }
            }
            "parent_span_id" => {
                if self.remote_parent.is_none() {
                    self.remote_parent = parse_span_id(&value);
                }
            }
            "remote_parent" => {}
            "trace_flags" => {
                let flags = match value {
                    Value::I64(n) => Some(n),
                    v => i64::from_str_radix(&v.as_str(), 16).ok(),
                };
                if let Some(f) = flags {
                    self.remote_sampled = f & 1 == 1;
                }
            }
            "otel.kind" => self.kind = parse_kind(&value.as_str()),
            _ => {
                if key == "status" {
                    let s = value.as_str();
                    self.error = (s != "ok").then(|| s.into_owned());
                }
                let key: Cow<'static, str> = if key.contains('.') {
                    Cow::Owned(key.to_owned())
                } else {
                    Cow::Owned(format!("wego.{key}"))
                };
                match self.attributes.iter_mut().find(|kv| kv.key.as_str() == key) {
                    Some(kv) => kv.value = value,
                    None => self.attributes.push(KeyValue::new(key, value)),
                }
            }
        }
    }
}

fn parse_trace_id(v: &Value) -> Option<TraceId> {
    TraceId::from_hex(&v.as_str())
        .ok()
        .filter(|t| *t != TraceId::INVALID)
}

fn parse_span_id(v: &Value) -> Option<SpanId> {
    SpanId::from_hex(&v.as_str())
        .ok()
        .filter(|s| *s != SpanId::INVALID)
}

fn parse_kind(s: &str) -> SpanKind {
    match s {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

/// Collects a span's fields into its state.
struct Fields<'a>(&'a mut SpanState);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.set(field.name(), Value::from(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set(field.name(), Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let v = i64::try_from(value).map_or_else(|_| Value::F64(value as f64), Value::I64);
        self.0.set(field.name(), v);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set(field.name(), Value::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.set(field.name(), Value::Bool(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.set(field.name(), Value::from(format!("{value:?}")));
    }
}

fn remote_context(trace_id: TraceId, parent: SpanId, sampled: bool) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Context::new().with_remote_span_context(SpanContext::new(
        trace_id,
        parent,
        flags,
        true,
        TraceState::default(),
    ))
}

impl<S> Layer<S> for OtelLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let meta = attrs.metadata();
        if !meta.name().starts_with(PREFIX) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut state = SpanState {
            name: meta.name(),
            kind: SpanKind::Internal,
            start: SystemTime::now(),
            trace_id: None,
            span_id: None,
            remote_parent: None,
            remote_sampled: true,
            resolved_trace: TraceId::INVALID,
            generated_id: self.ids.new_span_id(),
            local_parent: None,
            sampled: false,
            attributes: Vec::new(),
            error: None,
        };
        attrs.record(&mut Fields(&mut state));
        // The nearest enclosing wego span, unless a remote parent is named.
        let ancestor = span.scope().skip(1).find_map(|s| {
            s.extensions()
                .get::<SpanState>()
                .map(|p| (s.id(), p.trace_id(), p.sampled))
        });
        let parent_cx = match (state.remote_parent, state.trace_id, ancestor) {
            (Some(remote), Some(trace), _) => {
                state.resolved_trace = trace;
                Some(remote_context(trace, remote, state.remote_sampled))
            }
            (_, explicit, Some((pid, trace, sampled))) if explicit.is_none_or(|t| t == trace) => {
                state.resolved_trace = trace;
                state.local_parent = Some(pid);
                Some(remote_context(trace, state.generated_id, sampled))
            }
            (_, explicit, _) => {
                state.resolved_trace = explicit.unwrap_or_else(|| self.ids.new_trace_id());
                None
            }
        };
        let decision = self.sampler.should_sample(
            parent_cx.as_ref(),
            state.resolved_trace,
            state.name,
            &state.kind,
            &state.attributes,
            &[],
        );
        state.sampled = decision.decision == SamplingDecision::RecordAndSample;
        span.extensions_mut().insert(state);
    }

    /// Exposes the layer itself and its [`RootSampler`], so that
    /// `TraceContext::new_root` flags a new trace with the decision this
    /// layer takes for the trace's spans (a trace-id ratio is a pure
    /// function of the id).
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        // SAFETY: each pointer returned points to a value of exactly the
        // type `id` names, owned by `self`, so it is valid for as long as
        // the caller's borrow of the subscriber that holds this layer.
        if id == TypeId::of::<Self>() {
            Some(std::ptr::from_ref(self).cast())
        } else if id == TypeId::of::<RootSampler>() {
            Some(std::ptr::from_ref(&self.root).cast())
        } else {
            None
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(state) = ext.get_mut::<SpanState>() {
            values.record(&mut Fields(state));
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut state) = span.extensions_mut().remove::<SpanState>() else {
            return;
        };
        if !state.sampled {
            return;
        }
        let trace_id = state.trace_id();
        let parent = match (state.remote_parent, &state.local_parent) {
            (Some(remote), _) => Some(remote),
            (None, Some(pid)) => ctx.span(pid).and_then(|p| {
                p.extensions()
                    .get::<SpanState>()
                    .filter(|s| s.trace_id() == trace_id)
                    .map(SpanState::span_id)
            }),
            (None, None) => None,
        };
        let parent_cx = match parent {
            Some(p) => remote_context(trace_id, p, true),
            None => Context::new(),
        };
        let status = match state.error.take() {
            Some(kind) => Status::error(kind),
            None => Status::Unset,
        };
        let span_id = state.span_id();
        let builder = self
            .tracer
            .span_builder(state.name)
            .with_kind(state.kind)
            .with_start_time(state.start)
            .with_attributes(state.attributes);
        NEXT_IDS.with(|ids| ids.set(Some((trace_id, span_id))));
        let mut otel = self.tracer.build_with_context(builder, &parent_cx);
        NEXT_IDS.with(|ids| ids.set(None));
        otel.set_status(status);
        otel.end_with_timestamp(SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SpanState {
        SpanState {
            name: "wego.call",
            kind: SpanKind::Internal,
            start: SystemTime::now(),
            trace_id: None,
            span_id: None,
            remote_parent: None,
            remote_sampled: true,
            resolved_trace: TraceId::from(7u128),
            generated_id: SpanId::from(9u64),
            local_parent: None,
            sampled: true,
            attributes: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn malformed_ids_are_ignored() {
        let mut s = state();
        s.set("trace_id", Value::from("not hex"));
        s.set("span_id", Value::from("0000000000000000"));
        s.set("parent_span_id", Value::from("zz"));
        s.set("trace_flags", Value::from("q"));
        assert_eq!(s.trace_id(), TraceId::from(7u128));
        assert_eq!(s.span_id(), SpanId::from(9u64));
        assert_eq!(s.remote_parent, None);
        assert!(s.remote_sampled);
    }

    #[test]
    fn the_first_recorded_id_wins_and_fields_map_to_attributes() {
        let mut s = state();
        s.set("span_id", Value::from("00f067aa0ba902b7"));
        s.set("span_id", Value::from("1111111111111111"));
        assert_eq!(s.span_id(), SpanId::from(0x00f0_67aa_0ba9_02b7u64));
        s.set("trace_flags", Value::from("00"));
        assert!(!s.remote_sampled);
        s.set("otel.kind", Value::from("client"));
        assert_eq!(s.kind, SpanKind::Client);
        s.set("status", Value::from("ok"));
        s.set("status", Value::from("timeout"));
        s.set("rpc.method", Value::from("Echo"));
        assert_eq!(s.error.as_deref(), Some("timeout"));
        let keys: Vec<_> = s.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["wego.status", "rpc.method"]);
        assert_eq!(parse_kind("nonsense"), SpanKind::Internal);
    }
}
