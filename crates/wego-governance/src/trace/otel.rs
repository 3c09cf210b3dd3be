//! Bridges to the `opentelemetry` API crate (feature `opentelemetry`).
//!
//! `TraceContext` converts to and from `SpanContext`, and [`OtelCarrier`]
//! lets any [`Carrier`] (HTTP headers, gRPC metadata, TTHeader metainfo) be
//! used with OpenTelemetry propagators as an `Injector` / `Extractor`.
//! The `opentelemetry` types are 0.x: this module follows their releases
//! and is outside wego's semver promises.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use super::{Carrier, TRACEPARENT, TRACESTATE, TraceContext};

impl From<TraceContext> for SpanContext {
    /// A remote span context (it came from, or goes to, another process).
    fn from(c: TraceContext) -> Self {
        SpanContext::new(
            TraceId::from_bytes(c.trace_id),
            SpanId::from_bytes(c.span_id),
            TraceFlags::new(c.flags),
            true,
            TraceState::default(),
        )
    }
}

impl TraceContext {
    /// The context of an OpenTelemetry span, or `None` if it is invalid.
    pub fn from_span_context(sc: &SpanContext) -> Option<Self> {
        sc.is_valid().then(|| TraceContext {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
            flags: sc.trace_flags().to_u8(),
        })
    }
}

/// Adapts a [`Carrier`] to OpenTelemetry's `Injector` and `Extractor`.
#[derive(Debug)]
pub struct OtelCarrier<'a, C: ?Sized>(pub &'a mut C);

impl<C: Carrier + ?Sized> Injector for OtelCarrier<'_, C> {
    fn set(&mut self, key: &str, value: String) {
        self.0.set(&key.to_ascii_lowercase(), value);
    }
}

impl<C: Carrier + ?Sized> Extractor for OtelCarrier<'_, C> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(&key.to_ascii_lowercase())
    }

    /// Only the trace-context keys: a `Carrier` cannot list its keys.
    fn keys(&self) -> Vec<&str> {
        [TRACEPARENT, TRACESTATE]
            .into_iter()
            .filter(|k| self.0.get(k).is_some())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn converts_both_ways_and_adapts_carriers() {
        let c = TraceContext::new_root();
        let sc: SpanContext = c.into();
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(TraceContext::from_span_context(&sc), Some(c));
        assert_eq!(
            TraceContext::from_span_context(&SpanContext::empty_context()),
            None
        );

        let mut headers: HashMap<String, String> = HashMap::new();
        let mut otel = OtelCarrier(&mut headers);
        Injector::set(&mut otel, "TraceParent", c.to_string());
        assert_eq!(
            Extractor::get(&otel, "traceparent"),
            Some(c.to_string().as_str())
        );
        assert_eq!(otel.keys(), vec![TRACEPARENT]);
        assert_eq!(TraceContext::extract(&headers), Some(c));
    }
}
