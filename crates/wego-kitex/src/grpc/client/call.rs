//! The client's `tower::Service` path for unary calls: [`GrpcCall`] is its
//! request (an encoded call plus what a layer may ask of it: callee, hash
//! key, idempotency), [`Channel`] and [`LazyChannel`] (one per address,
//! dialled on first use) implement it, and [`GovernedClient`] puts typed
//! unary calls on top of any such stack. Generated clients call through
//! it; the `governance` feature adds wego-governance's traits for these
//! types, so its layers stack in between.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tower_service::Service;
use wego_netpoll::Address;

use super::builder::ChannelBuilder;
use super::channel::Channel;
use crate::grpc::codec::message::decode_prost;
use crate::grpc::request::{Request, Response};
use crate::grpc::status::{Code, Status};

/// The boxed future of the client services here.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<Response<Bytes>, Status>> + Send>>;

/// Splits `/pkg.Service/Method` into `("pkg.Service", "Method")`.
#[cfg_attr(not(feature = "governance"), allow(dead_code))] // used by the governance glue
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split_once('/')
        .unwrap_or(("", path))
}

/// One unary call as the request of the client's `tower::Service`: the
/// method path, the encoded request message with its metadata, deadline and
/// compression, and what governance needs (callee override, hash key,
/// idempotency). Cloning it is cheap (the message is `Bytes`), so retries
/// and backup requests resend it.
#[derive(Debug)]
pub struct GrpcCall {
    pub(crate) path: Arc<str>,
    pub(crate) callee: Option<Arc<str>>,
    pub(crate) request: Request<Bytes>,
    pub(crate) hash_key: Option<u64>,
    pub(crate) idempotent: bool,
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
        let msg = decode_prost::<Resp>(resp.into_inner())?;
        let mut r = Response::from_parts(msg, metadata);
        r.set_trailers(trailers);
        Ok(r)
    }
}
