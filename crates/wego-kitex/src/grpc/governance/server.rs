//! Server governance over whole streams.
//!
//! A `tower::Service` call ends when its future resolves, and a gRPC
//! handler's future resolves with the response *head*: its messages are
//! streamed afterwards. Layers wrapping a [`Router`](crate::grpc::GrpcRouter)
//! directly therefore see a streaming call as over as soon as it starts
//! (tonic with plain `tower` layers behaves the same way). [`GovernedStreams`]
//! gives the layers the whole stream instead, without changing them:
//!
//! ```text
//! server ─ GovernedStreams ─ (your layers) ─ StreamScope ─ Router
//!            │                                   │
//!            └──── response head (oneshot) ◄─────┘ handler returned
//!          layers' future resolves when the response stream ends, with
//!          its final status
//! ```
//!
//! [`StreamScope`] calls the router, hands the response to
//! [`GovernedStreams`] through the request ([`StreamCall`]) and then waits
//! until the response stream ends, resolving with [`StreamEnd`] or the
//! final status. So a concurrency limit counts open streams, a rate limit
//! admits stream opens, metrics record the stream's duration and final
//! status, and a span covers the stream. A refusal (or a handler error
//! before the head) is an error of the layers' future and becomes a
//! trailers-only response.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::oneshot;
use tower_layer::Layer;
use tower_service::Service;

use crate::BoxFuture;
use crate::grpc::request::{BoxStream, Request};
use crate::grpc::server::{RawRequest, RawResponse, RequestStream};
use crate::grpc::status::Status;

/// The request message inside governed layers: the call's inbound
/// messages and where the response head goes. Layers see it as
/// `Request<StreamCall>`, which is [`CallInfo`](wego_governance::CallInfo).
pub struct StreamCall {
    messages: RequestStream<Bytes>,
    head: oneshot::Sender<RawResponse>,
}

impl fmt::Debug for StreamCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamCall")
            .field("messages", &self.messages)
            .finish_non_exhaustive()
    }
}

/// What governed layers' futures resolve with: the response stream ended
/// with `OK`. Any other end is the `Err(Status)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd;

/// The innermost service of a governed stack: runs the router and resolves
/// when the response stream ends.
#[derive(Debug, Clone)]
pub struct StreamScope<S> {
    inner: S,
}

impl<S> StreamScope<S> {
    /// Wraps a service over raw calls (a [`Router`](crate::grpc::GrpcRouter)).
    pub fn new(inner: S) -> StreamScope<S> {
        StreamScope { inner }
    }
}

impl<S> Service<Request<StreamCall>> for StreamScope<S>
where
    S: Service<RawRequest, Response = RawResponse, Error = Status>,
    S::Future: Send + 'static,
{
    type Response = StreamEnd;
    type Error = Status;
    type Future = BoxFuture<'static, Result<StreamEnd, Status>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<StreamCall>) -> Self::Future {
        let (call, req) = req.replace(());
        let StreamCall { messages, head } = call;
        let fut = self.inner.call(req.map(|()| messages));
        Box::pin(async move {
            let resp = fut.await?;
            let (done_tx, done_rx) = oneshot::channel();
            let resp = resp.map(|s| -> BoxStream<Bytes> {
                Box::pin(Tracked {
                    inner: s,
                    done: Some(done_tx),
                })
            });
            if head.send(resp).is_err() {
                return Err(Status::cancelled("call dropped before its response"));
            }
            match done_rx.await {
                Ok(end) => end.map(|()| StreamEnd),
                Err(_) => Err(Status::cancelled("stream cancelled")),
            }
        })
    }
}

/// Reports the response stream's end to [`StreamScope`].
struct Tracked {
    inner: BoxStream<Bytes>,
    done: Option<oneshot::Sender<Result<(), Status>>>,
}

impl Stream for Tracked {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.inner.as_mut().poll_next(cx));
        let end = match &item {
            Some(Ok(_)) => return Poll::Ready(item),
            Some(Err(s)) => Err(s.clone()),
            None => Ok(()),
        };
        if let Some(tx) = self.done.take() {
            let _ = tx.send(end);
        }
        Poll::Ready(item)
    }
}

/// Puts layers around whole streams: `GovernedStreams::layer(layers, router)`
/// serves `layers` over [`StreamScope`]`(router)`.
#[derive(Debug, Clone)]
pub struct GovernedStreams<G> {
    inner: G,
}

impl GovernedStreams<()> {
    /// Wraps `service` (a [`Router`](crate::grpc::GrpcRouter)) in `layer` so that the
    /// layers see every call, streaming or not, from its start to the end
    /// of its response stream.
    pub fn layer<L, S>(layer: L, service: S) -> GovernedStreams<L::Service>
    where
        L: Layer<StreamScope<S>>,
    {
        GovernedStreams {
            inner: layer.layer(StreamScope::new(service)),
        }
    }
}

impl<G> Service<RawRequest> for GovernedStreams<G>
where
    G: Service<Request<StreamCall>, Response = StreamEnd, Error = Status>,
    G::Future: Send + 'static,
{
    type Response = RawResponse;
    type Error = Status;
    type Future = BoxFuture<'static, Result<RawResponse, Status>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: RawRequest) -> Self::Future {
        let (head_tx, mut head_rx) = oneshot::channel();
        let req = req.map(|messages| StreamCall {
            messages,
            head: head_tx,
        });
        let mut stack: BoxFuture<'static, Result<StreamEnd, Status>> =
            Box::pin(self.inner.call(req));
        Box::pin(async move {
            tokio::select! {
                biased;
                head = &mut head_rx => match head {
                    Ok(resp) => Ok(resp.map(|s| -> BoxStream<Bytes> {
                        Box::pin(Tail { inner: s, stack: Some(stack), last: None, finished: false })
                    })),
                    // The scope dropped the sender: the stack failed first.
                    Err(_) => Err(stack.await.err().unwrap_or_else(|| {
                        Status::internal("governed call ended without a response")
                    })),
                },
                end = &mut stack => Err(end.err().unwrap_or_else(|| {
                    Status::internal("governed call ended without a response")
                })),
            }
        })
    }
}

/// The response stream as the server sends it: drives the layers' future
/// alongside, ends the stream if a layer ends the call (a timeout), and
/// holds the last item until the layers have recorded the end.
struct Tail {
    inner: BoxStream<Bytes>,
    stack: Option<BoxFuture<'static, Result<StreamEnd, Status>>>,
    /// The final item (`None` or an error), once the inner stream ended.
    last: Option<Option<Result<Bytes, Status>>>,
    finished: bool,
}

impl Stream for Tail {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        if let Some(stack) = this.stack.as_mut()
            && let Poll::Ready(end) = stack.as_mut().poll(cx)
        {
            this.stack = None;
            if this.last.is_none()
                && let Err(status) = end
            {
                // A layer ended the call while the stream was open.
                this.last = Some(None);
                return Poll::Ready(Some(Err(status)));
            }
        }
        if this.last.is_none() {
            let item = ready!(this.inner.as_mut().poll_next(cx));
            if let Some(Ok(_)) = item {
                return Poll::Ready(item);
            }
            this.last = Some(item);
        }
        if let Some(stack) = this.stack.as_mut() {
            let _ = ready!(stack.as_mut().poll(cx));
            this.stack = None;
        }
        this.finished = true;
        Poll::Ready(this.last.take().flatten())
    }
}
