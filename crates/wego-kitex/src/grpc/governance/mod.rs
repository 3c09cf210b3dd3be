//! wego-governance on the gRPC side: the capability traits for gRPC types
//! and a `tower::Service` client path, so discovery, load balancing,
//! retries, breakers, timeouts, limits, metrics and tracing wrap gRPC calls
//! unchanged.
//!
//! - [`Status`] is [`Classify`] (only `UNAVAILABLE` is retryable; transport
//!   codes count against breakers, application codes do not) and
//!   `From<wego_governance::Error>` (refusals become `RESOURCE_EXHAUSTED`,
//!   `DEADLINE_EXCEEDED` or `UNAVAILABLE`).
//! - [`Metadata`] is a trace [`Carrier`], so `traceparent` travels in gRPC
//!   metadata; [`Request`] is [`CallInfo`] on the server (callee and method
//!   from the path `/pkg.Service/Method`), so the server layers
//!   (`RateLimitLayer`, `ConcurrencyLimitLayer`, `MetricsLayer`,
//!   `TraceLayer`) wrap a [`GrpcRouter`](crate::grpc::GrpcRouter) as they are, and
//!   [`ServerTraceLayer`] opens a span carrying the caller's trace id.
//! - Client: [`GrpcCall`] (the request of the client's `tower::Service`,
//!   see `client/call.rs`) is [`CallInfo`], so the client layers wrap a
//!   [`Channel`](crate::grpc::Channel) or, per instance for `LoadBalanceLayer`'s
//!   factory, a [`LazyChannel`](crate::grpc::LazyChannel), under a
//!   [`GovernedClient`](crate::grpc::GovernedClient).
//!
//! ```no_run
//! use tower_layer::Layer;
//! use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
//! use wego_governance::retry::RetryLayer;
//! use wego_governance::{Instance, InstanceWatch};
//! use wego_kitex::grpc::{Channel, GovernedClient, LazyChannel};
//!
//! let watch = InstanceWatch::fixed(vec![Instance::new("127.0.0.1:50051".parse().unwrap())]);
//! let builder = Channel::builder();
//! let lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new)
//!     .layer(move |i: &Instance| LazyChannel::new(builder.clone(), i.address.clone()));
//! let client = GovernedClient::new(RetryLayer::new(3).layer(lb));
//! # let _ = client;
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::Instrument;
use wego_governance::trace::{Carrier, TraceContext};
use wego_governance::{CallInfo, Classify};

use tower_service::Service;

use crate::grpc::client::{GrpcCall, split_path};
use crate::grpc::metadata::Metadata;
use crate::grpc::request::Request;
use crate::grpc::status::{Code, Status};

mod client;
mod server;

pub use client::GrpcStreamCall;
pub use server::{GovernedStreams, StreamCall, StreamEnd, StreamScope};

impl Classify for Status {
    /// Only `UNAVAILABLE` (which connection failures become): the call did
    /// not reach the application, per gRPC's retry design; and never a
    /// committed stream (response headers received or a request message
    /// consumed, see [`Status::is_committed`]).
    fn is_retryable(&self) -> bool {
        self.code().is_retryable() && !self.is_committed()
    }

    /// Transport and overload codes count against the callee's health;
    /// application answers (`NOT_FOUND`, `INVALID_ARGUMENT`, ...) do not.
    fn is_breaker_failure(&self) -> bool {
        matches!(
            self.code(),
            Code::Unavailable
                | Code::DeadlineExceeded
                | Code::Internal
                | Code::Unknown
                | Code::ResourceExhausted
        )
    }

    fn kind(&self) -> &'static str {
        code_kind(self.code())
    }
}

/// A lowercase metrics label for a code.
fn code_kind(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

impl From<wego_governance::Error> for Status {
    /// Rate or concurrency refusals → `RESOURCE_EXHAUSTED`, timeouts →
    /// `DEADLINE_EXCEEDED`, anything else (no instance, open breaker,
    /// discovery) → `UNAVAILABLE`; the message says why.
    fn from(e: wego_governance::Error) -> Status {
        let msg = e.to_string();
        if e.is_rejected() {
            Status::resource_exhausted(msg)
        } else if e.is_timeout() {
            Status::deadline_exceeded(msg)
        } else {
            Status::unavailable(msg)
        }
    }
}

impl Carrier for Metadata {
    fn get(&self, key: &str) -> Option<&str> {
        Metadata::get(self, key)
    }

    fn set(&mut self, key: &str, value: String) {
        if let Err(e) = self.insert(key, &value) {
            tracing::debug!(key, error = %e, "trace context not set in grpc metadata");
        }
    }
}

/// Server side: callee and method from the request path, deadline from
/// `grpc-timeout`.
impl<T> CallInfo for Request<T> {
    fn callee(&self) -> &str {
        split_path(self.path()).0
    }
    fn method(&self) -> &str {
        split_path(self.path()).1
    }
    fn deadline(&self) -> Option<Instant> {
        Request::deadline(self)
    }
}

impl GrpcCall {
    /// Propagates a trace: sends a child of `parent` as `traceparent`
    /// (W3C Trace Context) in the metadata.
    pub fn with_trace_parent(mut self, parent: &TraceContext) -> GrpcCall {
        parent.child().inject(self.request.metadata_mut(), None);
        self
    }
}

impl CallInfo for GrpcCall {
    fn callee(&self) -> &str {
        match &self.callee {
            Some(c) => c,
            None => split_path(&self.path).0,
        }
    }
    fn method(&self) -> &str {
        split_path(&self.path).1
    }
    fn hash_key(&self) -> Option<u64> {
        self.hash_key
    }
    fn deadline(&self) -> Option<Instant> {
        self.request.deadline()
    }
    fn is_idempotent(&self) -> bool {
        self.idempotent
    }
    fn trace_context(&self) -> Option<TraceContext> {
        TraceContext::extract(self.request.metadata())
    }
}

/// Opens a `wego.serve` span per gRPC call carrying the caller's trace id
/// (from `traceparent` in the metadata; a new root when absent or invalid),
/// so the handler's events join the caller's trace. Handlers read the
/// context itself with `TraceContext::extract(request.metadata())`.
///
/// The span lasts until the call's final status is known and records it
/// as `status` (`ok` or the status's kind) and `rpc.grpc.status_code`:
/// around a [`GrpcRouter`](crate::grpc::GrpcRouter) the span follows the
/// response stream to its end; inside [`GovernedStreams`] the layers'
/// future already resolves at the stream's end.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerTraceLayer;

impl<S> tower_layer::Layer<S> for ServerTraceLayer {
    type Service = ServerTrace<S>;
    fn layer(&self, inner: S) -> ServerTrace<S> {
        ServerTrace { inner }
    }
}

/// The service of [`ServerTraceLayer`].
#[derive(Debug, Clone)]
pub struct ServerTrace<S> {
    inner: S,
}

/// A response whose end [`ServerTrace`] can see: the response stream of a
/// router ([`RawResponse`](crate::grpc::RawResponse)), or the end of a
/// governed stream ([`StreamEnd`]).
pub trait TracedResponse: Send + Sized + 'static {
    /// Records the call's final status on `span` once it is known, keeping
    /// the span open until then.
    fn finish(self, span: tracing::Span) -> Self;
}

impl TracedResponse for StreamEnd {
    fn finish(self, span: tracing::Span) -> Self {
        record_status(&span, None);
        self
    }
}

impl TracedResponse for crate::grpc::RawResponse {
    fn finish(mut self, span: tracing::Span) -> Self {
        let inner = std::mem::replace(self.get_mut(), Box::pin(futures_util::stream::empty()));
        *self.get_mut() = Box::pin(EndRecorder {
            inner,
            span: Some(span),
        });
        self
    }
}

/// Records `status` and `rpc.grpc.status_code` (`None`: OK).
fn record_status(span: &tracing::Span, status: Option<&Status>) {
    let (kind, code) = match status {
        None => ("ok", Code::Ok),
        Some(s) => (s.kind(), s.code()),
    };
    span.record("status", kind);
    span.record("rpc.grpc.status_code", code as i64);
}

/// A response stream that records its final status on the span it keeps
/// open: `OK` at its end, the status of an error item, `CANCELLED` when it
/// is dropped before either.
struct EndRecorder {
    inner: crate::grpc::BoxStream<bytes::Bytes>,
    span: Option<tracing::Span>,
}

impl futures_core::Stream for EndRecorder {
    type Item = Result<bytes::Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = std::task::ready!(self.inner.as_mut().poll_next(cx));
        match &item {
            Some(Ok(_)) => {}
            Some(Err(status)) => {
                if let Some(span) = self.span.take() {
                    record_status(&span, Some(status));
                }
            }
            None => {
                if let Some(span) = self.span.take() {
                    record_status(&span, None);
                }
            }
        }
        Poll::Ready(item)
    }
}

impl Drop for EndRecorder {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            record_status(
                &span,
                Some(&Status::new(Code::Cancelled, "response stream dropped")),
            );
        }
    }
}

impl<S, T> Service<Request<T>> for ServerTrace<S>
where
    S: Service<Request<T>, Error = Status>,
    S::Future: Send + 'static,
    S::Response: TracedResponse,
{
    type Response = S::Response;
    type Error = Status;
    type Future = wego_netpoll::BoxFuture<'static, Result<S::Response, Status>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<T>) -> Self::Future {
        let ctx = TraceContext::extract(req.metadata());
        let remote = ctx.is_some();
        let ctx = ctx.unwrap_or_else(TraceContext::new_root);
        let (service, method) = split_path(req.path());
        let span = tracing::info_span!(
            "wego.serve",
            rpc.path = req.path(),
            trace_id = %ctx.trace_id_hex(),
            remote_parent = remote,
            parent_span_id = tracing::field::Empty,
            trace_flags = tracing::field::Empty,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            status = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        if remote {
            span.record("parent_span_id", ctx.span_id_hex());
            span.record("trace_flags", ctx.flags_hex());
        }
        let fut = span.in_scope(|| self.inner.call(req));
        let end = span.clone();
        Box::pin(
            async move {
                match fut.await {
                    Ok(r) => Ok(r.finish(end)),
                    Err(status) => {
                        record_status(&end, Some(&status));
                        Err(status)
                    }
                }
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn application_codes_are_not_breaker_failures() {
        assert!(Status::unavailable("x").is_breaker_failure());
        assert!(Status::deadline_exceeded("x").is_breaker_failure());
        assert!(Status::internal("x").is_breaker_failure());
        assert!(!Status::not_found("x").is_breaker_failure());
        assert!(!Status::invalid_argument("x").is_breaker_failure());
        assert!(Status::unavailable("x").is_retryable());
        assert!(!Status::internal("x").is_retryable());
        assert_eq!(Status::not_found("x").kind(), "not_found");
    }

    #[test]
    fn paths_split_into_callee_and_method() {
        let call = GrpcCall::new("/echo.Echo/Say", Request::new(Bytes::new()));
        assert_eq!((call.callee(), call.method()), ("echo.Echo", "Say"));
        assert_eq!(call.clone().with_callee("echo").callee(), "echo");
        assert_eq!(split_path("nonsense"), ("", "nonsense"));
    }

    #[test]
    fn trace_parent_goes_into_metadata_as_a_child() {
        let parent = TraceContext::new_root();
        let call = GrpcCall::new("/a.B/C", Request::new(Bytes::new())).with_trace_parent(&parent);
        let sent = TraceContext::extract(call.request().metadata()).unwrap();
        assert_eq!(sent.trace_id, parent.trace_id);
        assert_ne!(sent.span_id, parent.span_id);
        let cloned = call.clone();
        assert_eq!(
            cloned.request().metadata().get("traceparent"),
            call.request().metadata().get("traceparent")
        );
    }
}
