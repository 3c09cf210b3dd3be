//! Tracing: a `tracing` span per call ([`TraceLayer`]) and W3C
//! `traceparent` propagation ([`TraceContext`], [`Carrier`]).
//!
//! The span is `wego.call` with fields `service`, `method`, `peer` (filled
//! in by the load balancer below it), `status` (`ok` or the error's
//! [`Classify::kind`]) and `latency_ms`. A subscriber such as
//! `tracing-opentelemetry` turns these spans into OpenTelemetry spans.
//! With the `opentelemetry` feature, `TraceContext` converts to and from
//! OpenTelemetry's `SpanContext`, and `OtelCarrier` makes any [`Carrier`]
//! an OpenTelemetry `Injector`/`Extractor`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use crate::{CallInfo, Classify};

mod context;
#[cfg(feature = "opentelemetry")]
mod otel;

pub use context::{Carrier, TRACEPARENT, TRACESTATE, TraceContext, TraceParentError};
#[cfg(feature = "opentelemetry")]
pub use otel::OtelCarrier;

/// Wraps each call in a `wego.call` span.
#[derive(Debug, Clone, Default)]
pub struct TraceLayer {
    _priv: (),
}

impl TraceLayer {
    /// Creates the layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;
    fn layer(&self, inner: S) -> Trace<S> {
        Trace { inner }
    }
}

/// A service whose calls run in a span.
#[derive(Debug, Clone)]
pub struct Trace<S> {
    inner: S,
}

impl<S, Req> Service<Req> for Trace<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    S::Error: Classify,
    Req: CallInfo,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let span = tracing::info_span!(
            "wego.call",
            service = req.callee(),
            method = req.method(),
            peer = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let fut = span.in_scope(|| self.inner.call(req));
        let record = span.clone();
        Box::pin(
            async move {
                let res = fut.await;
                let status = match &res {
                    Ok(_) => "ok",
                    Err(e) => e.kind(),
                };
                record.record("status", status);
                record.record("latency_ms", started.elapsed().as_secs_f64() * 1000.0);
                if res.is_err() {
                    tracing::debug!(status, "call failed");
                }
                res
            }
            .instrument(span),
        )
    }
}
