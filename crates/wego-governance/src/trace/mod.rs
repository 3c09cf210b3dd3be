//! Tracing: a `tracing` span per call ([`TraceLayer`]) and W3C
//! `traceparent` propagation ([`TraceContext`], [`Carrier`]).
//!
//! The span is `wego.call` with fields `service`, `method`, `peer` (filled
//! in by the load balancer below it), `status` (`ok` or the error's
//! [`Classify::kind`]) and `latency_ms` (measured on the runtime's clock,
//! [`rt::now`]). With the `opentelemetry` feature, `TraceContext` converts
//! to and from OpenTelemetry's `SpanContext`, and `OtelCarrier` makes any
//! [`Carrier`] an OpenTelemetry `Injector`/`Extractor`.
//!
//! # Span identity fields
//!
//! wego's spans carry their place in the distributed trace as `tracing`
//! fields, so that an exporter (the `wego-otel` crate) exports them with
//! the ids that travel in `traceparent`:
//!
//! | field | meaning |
//! |---|---|
//! | `trace_id` | the trace id, 32 lowercase hex digits |
//! | `span_id` | this span's id, 16 hex digits (the id sent to a callee) |
//! | `parent_span_id` | the remote parent's span id (server spans) |
//! | `trace_flags` | the remote parent's flags, two hex digits (server spans) |
//! | `otel.kind` | `server`, `client` or `internal` |
//!
//! A server span records `trace_id`, `parent_span_id` and `trace_flags` from the
//! caller's `traceparent`. A client span records `trace_id` and `span_id`
//! of the `traceparent` it sends: [`TraceLayer::client`] reads them from
//! [`CallInfo::trace_context`], and a client that makes the child context
//! itself calls [`record_sent`]. A span without these fields takes its
//! trace and parent from the enclosing span.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;
use wego_netpoll::rt;

use crate::{CallInfo, Classify};

mod context;
#[cfg(feature = "opentelemetry")]
mod otel;

pub use context::{Carrier, RootSampler, TRACEPARENT, TRACESTATE, TraceContext, TraceParentError};
#[cfg(feature = "opentelemetry")]
pub use otel::OtelCarrier;

/// Records the trace context a client sends (`traceparent`) on the
/// current span: its `trace_id` and `span_id` fields, which a client span
/// of [`TraceLayer::client`] declares. The first context recorded on a
/// span is the one an exporter uses.
pub fn record_sent(ctx: &TraceContext) {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return;
    }
    span.record("trace_id", ctx.trace_id_hex());
    span.record("span_id", ctx.span_id_hex());
}

/// What a `wego.call` span stands for (its `otel.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    /// A step inside a served request (a server route).
    #[default]
    Internal,
    /// An outgoing call.
    Client,
}

/// Wraps each call in a `wego.call` span.
#[derive(Debug, Clone, Default)]
pub struct TraceLayer {
    kind: Kind,
    system: Option<&'static str>,
}

impl TraceLayer {
    /// Creates the layer for calls inside a served request
    /// (`otel.kind = internal`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates the layer for outgoing calls (`otel.kind = client`): the
    /// span takes the ids of the `traceparent` the request carries
    /// ([`CallInfo::trace_context`]) or that the client records with
    /// [`record_sent`].
    pub fn client() -> Self {
        TraceLayer {
            kind: Kind::Client,
            system: None,
        }
    }

    /// Names the protocol (`thrift`, `grpc`, `http`): the span also gets
    /// `rpc.system`, `rpc.service` and `rpc.method`.
    pub fn with_system(mut self, system: &'static str) -> Self {
        self.system = Some(system);
        self
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;
    fn layer(&self, inner: S) -> Trace<S> {
        Trace {
            inner,
            kind: self.kind,
            system: self.system,
        }
    }
}

/// A service whose calls run in a span.
#[derive(Debug, Clone)]
pub struct Trace<S> {
    inner: S,
    kind: Kind,
    system: Option<&'static str>,
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
        let kind = match self.kind {
            Kind::Internal => "internal",
            Kind::Client => "client",
        };
        let span = tracing::info_span!(
            "wego.call",
            service = req.callee(),
            method = req.method(),
            peer = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            otel.kind = kind,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
            rpc.system = tracing::field::Empty,
            rpc.service = tracing::field::Empty,
            rpc.method = tracing::field::Empty,
        );
        if let Some(system) = self.system {
            span.record("rpc.system", system);
            span.record("rpc.service", req.callee());
            span.record("rpc.method", req.method());
        }
        if self.kind == Kind::Client
            && !span.is_disabled()
            && let Some(ctx) = req.trace_context()
        {
            span.record("trace_id", ctx.trace_id_hex());
            span.record("span_id", ctx.span_id_hex());
        }
        let started = rt::now();
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
                let latency = rt::now().saturating_duration_since(started);
                record.record("latency_ms", latency.as_secs_f64() * 1000.0);
                if res.is_err() {
                    tracing::debug!(status, "call failed");
                }
                res
            }
            .instrument(span),
        )
    }
}
