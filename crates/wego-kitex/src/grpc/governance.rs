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
//!   `TraceLayer`) wrap a [`Router`](super::Router) as they are, and
//!   [`ServerTraceLayer`] opens a span carrying the caller's trace id.
//! - Client: [`GrpcCall`] is the request of the client's `tower::Service`
//!   (an encoded unary call plus its call information); [`Channel`] and
//!   [`LazyChannel`] (one per instance, dialled on first use, for
//!   `LoadBalanceLayer`'s factory) implement it, and [`GovernedClient`] puts
//!   typed unary calls on top of any such stack.
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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use tracing::Instrument;
use wego_governance::trace::{Carrier, TraceContext};
use wego_governance::{CallInfo, Classify};
use wego_netpoll::Address;

use super::connection::ChannelBuilder;
use super::{Channel, Code, Metadata, Request, Response, Status};
use tower_service::Service;

/// The boxed future of the client services here.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<Response<Bytes>, Status>> + Send>>;

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

/// Splits `/pkg.Service/Method` into `("pkg.Service", "Method")`.
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split_once('/')
        .unwrap_or(("", path))
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

/// One unary call as the request of the client's `tower::Service`: the
/// method path, the encoded request message with its metadata, deadline and
/// compression, and what governance needs (callee override, hash key,
/// idempotency). Cloning it is cheap (the message is `Bytes`), so retries
/// and backup requests resend it.
#[derive(Debug)]
pub struct GrpcCall {
    path: Arc<str>,
    callee: Option<Arc<str>>,
    request: Request<Bytes>,
    hash_key: Option<u64>,
    idempotent: bool,
}

impl Clone for GrpcCall {
    fn clone(&self) -> GrpcCall {
        let r = &self.request;
        let mut request =
            Request::from_parts(r.get_ref().clone(), r.metadata().clone(), r.deadline());
        request.set_compression(r.compression());
        GrpcCall {
            path: self.path.clone(),
            callee: self.callee.clone(),
            request,
            hash_key: self.hash_key,
            idempotent: self.idempotent,
        }
    }
}

impl GrpcCall {
    /// A call of `path` (`/pkg.Service/Method`) with an encoded message; not
    /// idempotent unless marked.
    pub fn new(path: &str, request: Request<Bytes>) -> GrpcCall {
        GrpcCall {
            path: Arc::from(path),
            callee: None,
            request,
            hash_key: None,
            idempotent: false,
        }
    }

    /// Encodes a `prost` message into a call.
    pub fn encode<M: prost::Message>(path: &str, request: Request<M>) -> GrpcCall {
        GrpcCall::new(
            path,
            request.map(|m| Bytes::from(prost::Message::encode_to_vec(&m))),
        )
    }

    /// Marks the call safe to send more than once (retries and backup
    /// requests are only made for such calls).
    pub fn with_idempotent(mut self, idempotent: bool) -> GrpcCall {
        self.idempotent = idempotent;
        self
    }

    /// Names the callee for governance (metrics labels, breaker scope)
    /// instead of the service part of the path.
    pub fn with_callee(mut self, callee: &str) -> GrpcCall {
        self.callee = Some(Arc::from(callee));
        self
    }

    /// Sets the key for consistent hashing.
    pub fn with_hash_key(mut self, key: u64) -> GrpcCall {
        self.hash_key = Some(key);
        self
    }

    /// Propagates a trace: sends a child of `parent` as `traceparent`
    /// (W3C Trace Context) in the metadata.
    pub fn with_trace_parent(mut self, parent: &TraceContext) -> GrpcCall {
        parent.child().inject(self.request.metadata_mut(), None);
        self
    }

    /// The method path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The request (encoded message, metadata, deadline).
    pub fn request(&self) -> &Request<Bytes> {
        &self.request
    }

    /// Mutable access to the request.
    pub fn request_mut(&mut self) -> &mut Request<Bytes> {
        &mut self.request
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
}

impl Service<GrpcCall> for Channel {
    type Response = Response<Bytes>;
    type Error = Status;
    type Future = CallFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        // The channel redials lazily per call; there is no queue to wait on.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: GrpcCall) -> CallFuture {
        let ch = self.clone();
        Box::pin(async move { ch.unary_encoded(&call.path, call.request).await })
    }
}

/// A [`Channel`] to one address, dialled on its first call: what a
/// `LoadBalanceLayer` factory returns per instance (the factory is
/// synchronous). A failed dial answers `UNAVAILABLE` (retryable) and the
/// next call dials again; once connected, the channel redials by itself.
#[derive(Debug, Clone)]
pub struct LazyChannel {
    builder: ChannelBuilder,
    addr: Address,
    cell: Arc<tokio::sync::OnceCell<Channel>>,
}

impl LazyChannel {
    /// A channel to `addr` configured by `builder`, not connected yet.
    pub fn new(builder: ChannelBuilder, addr: Address) -> LazyChannel {
        LazyChannel {
            builder,
            addr,
            cell: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The address it dials.
    pub fn address(&self) -> &Address {
        &self.addr
    }

    /// The connected channel, dialling it if needed.
    ///
    /// # Errors
    ///
    /// `UNAVAILABLE` when the dial or the HTTP/2 handshake fails.
    pub async fn channel(&self) -> Result<Channel, Status> {
        self.cell
            .get_or_try_init(|| self.builder.clone().connect(&self.addr))
            .await
            .cloned()
            .map_err(|s| match s.code() {
                Code::Unavailable => s,
                _ => Status::unavailable(format!("connect {}: {}", self.addr, s.message())),
            })
    }
}

impl Service<GrpcCall> for LazyChannel {
    type Response = Response<Bytes>;
    type Error = Status;
    type Future = CallFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: GrpcCall) -> CallFuture {
        let this = self.clone();
        Box::pin(async move {
            let ch = this.channel().await?;
            ch.unary_encoded(&call.path, call.request).await
        })
    }
}

/// Typed unary calls over any client stack of
/// `Service<GrpcCall, Response = Response<Bytes>, Error = Status>` (a
/// channel, or governance layers over per-instance channels).
///
/// Generated clients (`wego-build`) hold a concrete [`Channel`]; until the
/// generator grows a generic parameter, wrap the stack here and call the
/// method paths directly.
#[derive(Debug, Clone)]
pub struct GovernedClient<S> {
    inner: S,
    idempotent: bool,
}

impl<S> GovernedClient<S> {
    /// Wraps a client stack; calls are not idempotent unless marked.
    pub fn new(inner: S) -> GovernedClient<S> {
        GovernedClient {
            inner,
            idempotent: false,
        }
    }

    /// Marks every call of this client idempotent (retryable).
    pub fn with_idempotent(mut self, idempotent: bool) -> GovernedClient<S> {
        self.idempotent = idempotent;
        self
    }

    /// The wrapped stack.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Whether calls are marked idempotent.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }
}

impl<S> GovernedClient<S>
where
    S: Service<GrpcCall, Response = Response<Bytes>, Error = Status>,
{
    /// Sends a prepared call through the stack.
    ///
    /// # Errors
    ///
    /// The call's non-OK status, or a governance refusal as a status.
    pub async fn call(&mut self, call: GrpcCall) -> Result<Response<Bytes>, Status> {
        std::future::poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.call(call).await
    }

    /// A unary call with `prost` messages.
    ///
    /// # Errors
    ///
    /// As [`GovernedClient::call`], plus `INTERNAL` for an undecodable
    /// response message.
    pub async fn unary<Req, Resp>(
        &mut self,
        path: &str,
        request: Request<Req>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let call = GrpcCall::encode(path, request).with_idempotent(self.idempotent);
        let resp = self.call(call).await?;
        let trailers = resp.trailers().clone();
        let metadata = resp.metadata().clone();
        let msg = super::streaming::decode_prost::<Resp>(resp.into_inner())?;
        let mut r = Response::from_parts(msg, metadata);
        r.set_trailers(trailers);
        Ok(r)
    }
}

/// Opens a `wego.serve` span per gRPC call carrying the caller's trace id
/// (from `traceparent` in the metadata; a new root when absent or invalid),
/// so the handler's events join the caller's trace. Handlers read the
/// context itself with `TraceContext::extract(request.metadata())`.
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

/// Lowercase hex of a trace id.
pub(crate) fn trace_id_hex(ctx: &TraceContext) -> String {
    ctx.trace_id.iter().map(|b| format!("{b:02x}")).collect()
}

impl<S, T> Service<Request<T>> for ServerTrace<S>
where
    S: Service<Request<T>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<T>) -> Self::Future {
        let ctx = TraceContext::extract(req.metadata());
        let remote = ctx.is_some();
        let ctx = ctx.unwrap_or_else(TraceContext::new_root);
        let span = tracing::info_span!(
            "wego.serve",
            rpc.path = req.path(),
            trace_id = %trace_id_hex(&ctx),
            remote_parent = remote,
        );
        let fut = span.in_scope(|| self.inner.call(req));
        Box::pin(fut.instrument(span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
