//! Client governance over streaming calls.
//!
//! A streaming call goes through the same `tower` stack as a unary one
//! ([`GrpcStreamCall`] instead of [`GrpcCall`](crate::grpc::GrpcCall); a
//! [`Channel`] or [`LazyChannel`] serves both), so discovery and load
//! balancing pick the instance when the stream opens. The stack's future
//! lives as long as the stream: the attempt hands the response head to
//! [`GovernedClient::call_stream`] and then waits for the stream's final
//! status, which the caller's [`ResponseStream`] reports when it ends; the
//! stack's future is driven by that `ResponseStream` while it is read. Hence:
//!
//! - breakers admit the stream at open and record its final status;
//! - a timeout layer (or the call's deadline) covers the whole stream;
//! - metrics count the stream once, with its duration, final status and
//!   in-flight time, and a trace span covers it;
//! - a retry happens only while the call is not committed: no response
//!   headers yet and no request message taken from the caller's stream
//!   (gRPC's retry design calls this a committed RPC; we do not buffer
//!   sent messages for replay). A committed call's status says so
//!   ([`Status::is_committed`]) and is never retryable. Attempts of a call
//!   with a request stream never overlap: a backup request made while an
//!   attempt holds the stream is refused with `ABORTED` (committed, and
//!   not a breaker failure).

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tower_service::Service;
use wego_governance::CallInfo;
use wego_governance::trace::TraceContext;

use crate::BoxFuture;
use crate::grpc::client::{Body, Channel, GovernedClient, LazyChannel, ResponseStream, split_path};
use crate::grpc::codec::{self, message_status};
use crate::grpc::request::{BoxStream, Request, Response};
use crate::grpc::status::{Code, Status};

type Head = oneshot::Sender<Response<ResponseStream<Bytes>>>;

/// The request side of a streaming call, shared by its attempts.
#[derive(Clone)]
enum Messages {
    /// One message (server streaming): any attempt may send it.
    Single(Bytes),
    /// The caller's stream: the first attempt that takes a message from it
    /// commits the call.
    Stream(Arc<Mutex<Replay>>),
}

struct Replay {
    stream: BoxStream<Bytes>,
    /// A message was taken: no other attempt may start.
    consumed: bool,
    /// The latest attempt's number (older attempts' pumps see the end).
    lease: u64,
    /// The attempt using the stream now, if any: a concurrent attempt (a
    /// backup request) cannot share it and is refused.
    holder: Option<u64>,
}

fn lock(m: &Mutex<Replay>) -> std::sync::MutexGuard<'_, Replay> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One attempt's view of the caller's stream.
struct Lease {
    replay: Arc<Mutex<Replay>>,
    id: u64,
}

impl Stream for Lease {
    type Item = Result<Bytes, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut r = lock(&self.replay);
        if r.lease != self.id {
            return Poll::Ready(None);
        }
        let item = r.stream.as_mut().poll_next(cx);
        if let Poll::Ready(Some(_)) = item {
            r.consumed = true;
        }
        item
    }
}

/// One streaming call as the request of the client's `tower::Service`:
/// the method path, the request messages with metadata, deadline and
/// compression, and what governance needs (callee override, hash key,
/// idempotency). Clones share the messages and the response slot, so a
/// retry resends the call only while it is not committed.
#[derive(Clone)]
pub struct GrpcStreamCall {
    path: Arc<str>,
    callee: Option<Arc<str>>,
    request: Request<Messages>,
    head: Arc<Mutex<Option<Head>>>,
    hash_key: Option<u64>,
    idempotent: bool,
}

impl fmt::Debug for GrpcStreamCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcStreamCall")
            .field("path", &self.path)
            .field("callee", &self.callee)
            .field("idempotent", &self.idempotent)
            .finish_non_exhaustive()
    }
}

impl GrpcStreamCall {
    fn with(path: &str, request: Request<Messages>) -> GrpcStreamCall {
        GrpcStreamCall {
            path: Arc::from(path),
            callee: None,
            request,
            head: Arc::new(Mutex::new(None)),
            hash_key: None,
            idempotent: false,
        }
    }

    /// A call of `path` sending the encoded messages of `request`
    /// (bidirectional or client streaming).
    pub fn stream(path: &str, request: Request<BoxStream<Bytes>>) -> GrpcStreamCall {
        GrpcStreamCall::with(
            path,
            request.map(|stream| {
                Messages::Stream(Arc::new(Mutex::new(Replay {
                    stream,
                    consumed: false,
                    lease: 0,
                    holder: None,
                })))
            }),
        )
    }

    /// A call of `path` sending one encoded message (server streaming).
    pub fn single(path: &str, request: Request<Bytes>) -> GrpcStreamCall {
        GrpcStreamCall::with(path, request.map(Messages::Single))
    }

    /// Marks the call safe to send again while it is not committed.
    pub fn with_idempotent(mut self, idempotent: bool) -> GrpcStreamCall {
        self.idempotent = idempotent;
        self
    }

    /// Names the callee for governance instead of the path's service.
    pub fn with_callee(mut self, callee: &str) -> GrpcStreamCall {
        self.callee = Some(Arc::from(callee));
        self
    }

    /// Sets the key for consistent hashing.
    pub fn with_hash_key(mut self, key: u64) -> GrpcStreamCall {
        self.hash_key = Some(key);
        self
    }

    /// Sends a child of `parent` as `traceparent` in the metadata.
    pub fn with_trace_parent(mut self, parent: &TraceContext) -> GrpcStreamCall {
        parent.child().inject(self.request.metadata_mut(), None);
        self
    }

    /// The method path.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl CallInfo for GrpcStreamCall {
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

/// One attempt of a streaming call on `ch`: resolves when the stream ends.
async fn attempt(ch: Channel, call: GrpcStreamCall) -> Result<(), Status> {
    let (messages, request) = call.request.clone().replace(());
    let (body, replay) = match messages {
        Messages::Single(payload) => {
            let cfg = ch.config();
            let encoding = request.compression().or(cfg.compression);
            let mut frame = BytesMut::new();
            codec::encode(&payload, encoding, cfg.max_send, &mut frame).map_err(message_status)?;
            (Body::Single(frame.freeze()), None)
        }
        Messages::Stream(replay) => {
            let id = {
                let mut r = lock(&replay);
                if r.consumed {
                    return Err(Status::new(
                        Code::FailedPrecondition,
                        "request stream already taken by an earlier attempt",
                    )
                    .into_committed());
                }
                if r.holder.is_some() {
                    return Err(Status::new(
                        Code::Aborted,
                        "request stream in use by another attempt",
                    )
                    .into_committed());
                }
                r.lease += 1;
                r.holder = Some(r.lease);
                r.lease
            };
            let lease = Lease {
                replay: replay.clone(),
                id,
            };
            (Body::Stream(Box::pin(lease)), Some((replay, id)))
        }
    };
    let resp = match ch.call_body(&call.path, request.map(|()| body)).await {
        Ok(r) => r,
        Err(s) => {
            // Give the stream back for a retry, unless a message was taken.
            let Some((replay, id)) = &replay else {
                return Err(s);
            };
            let mut r = lock(replay);
            if r.holder == Some(*id) {
                r.holder = None;
            }
            return Err(if r.consumed { s.into_committed() } else { s });
        }
    };
    // Response headers arrived: the call is committed from here on.
    let (done_tx, done_rx) = oneshot::channel();
    let mut resp = resp;
    resp.get_mut().set_on_end(done_tx);
    let head = call
        .head
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(head) = head else {
        return Err(Status::internal("stream already answered").into_committed());
    };
    if head.send(resp).is_err() {
        return Err(Status::cancelled("caller gone").into_committed());
    }
    match done_rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(s)) => Err(s.into_committed()),
        Err(_) => Err(Status::cancelled("stream dropped by the caller").into_committed()),
    }
}

impl Service<GrpcStreamCall> for Channel {
    type Response = ();
    type Error = Status;
    type Future = BoxFuture<'static, Result<(), Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: GrpcStreamCall) -> Self::Future {
        Box::pin(attempt(self.clone(), call))
    }
}

impl Service<GrpcStreamCall> for LazyChannel {
    type Response = ();
    type Error = Status;
    type Future = BoxFuture<'static, Result<(), Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: GrpcStreamCall) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { attempt(this.channel().await?, call).await })
    }
}

impl<S> GovernedClient<S>
where
    S: Service<GrpcStreamCall, Response = (), Error = Status>,
    S::Future: Send + 'static,
{
    /// Opens a streaming call through the stack; the stack's future is
    /// driven by the returned stream until it ends.
    ///
    /// # Errors
    ///
    /// The call's status when it failed before the response head, or a
    /// governance refusal as a status.
    pub async fn call_stream(
        &mut self,
        call: GrpcStreamCall,
    ) -> Result<Response<ResponseStream<Bytes>>, Status> {
        std::future::poll_fn(|cx| self.get_mut().poll_ready(cx)).await?;
        let (tx, mut rx) = oneshot::channel();
        *call.head.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        let mut stack: BoxFuture<'static, Result<(), Status>> = Box::pin(self.get_mut().call(call));
        tokio::select! {
            biased;
            head = &mut rx => match head {
                Ok(mut resp) => {
                    resp.get_mut().set_stack(stack);
                    Ok(resp)
                }
                Err(_) => Err(stack.await.err().unwrap_or_else(|| {
                    Status::internal("governed stream ended without a response")
                })),
            },
            end = &mut stack => match rx.try_recv() {
                // Answered and failed at once (a layer's timeout): the
                // stream reports the failure when read.
                Ok(mut resp) => {
                    resp.get_mut().set_stack(Box::pin(std::future::ready(end)));
                    Ok(resp)
                }
                Err(_) => Err(end.err().unwrap_or_else(|| {
                    Status::internal("governed stream ended without a response")
                })),
            },
        }
    }

    /// A bidirectional (or client) streaming call with `prost` messages.
    ///
    /// # Errors
    ///
    /// As [`GovernedClient::call_stream`].
    pub async fn streaming<St, Req, Resp>(
        &mut self,
        path: &str,
        request: Request<St>,
    ) -> Result<Response<ResponseStream<Resp>>, Status>
    where
        St: Stream<Item = Req> + Send + 'static,
        Req: prost::Message + 'static,
        Resp: prost::Message + Default,
    {
        let request = request.map(|s| -> BoxStream<Bytes> {
            Box::pin(s.map(|m| Ok(Bytes::from(m.encode_to_vec()))))
        });
        let call = GrpcStreamCall::stream(path, request).with_idempotent(self.is_idempotent());
        Ok(self
            .call_stream(call)
            .await?
            .map(ResponseStream::decode_into))
    }

    /// A server-streaming call with `prost` messages.
    ///
    /// # Errors
    ///
    /// As [`GovernedClient::call_stream`].
    pub async fn server_streaming<Req, Resp>(
        &mut self,
        path: &str,
        request: Request<Req>,
    ) -> Result<Response<ResponseStream<Resp>>, Status>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let request = request.map(|m| Bytes::from(m.encode_to_vec()));
        let call = GrpcStreamCall::single(path, request).with_idempotent(self.is_idempotent());
        Ok(self
            .call_stream(call)
            .await?
            .map(ResponseStream::decode_into))
    }
}
