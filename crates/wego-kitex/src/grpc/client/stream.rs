//! [`ResponseStream<T>`]: the messages a server sends back on a call, as
//! the client reads them, then the trailers: a non-OK `grpc-status` is
//! returned as the last item, and the trailing metadata is kept for
//! [`ResponseStream::trailers`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use wego_netpoll::rt::{Sleep, sleep_until};

use super::pump::PumpGuard;
use crate::grpc::codec::message::{DecodeFn, decode_prost, decode_raw};
use crate::grpc::codec::{Decoder, message_status};
use crate::grpc::conn::recv::{Recv, RecvError};
use crate::grpc::metadata::Metadata;
use crate::grpc::status::{Code, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Trailers,
    Done,
}

/// The inbound messages of a call on the client. Implements [`Stream`],
/// and [`ResponseStream::message`] for `while let` loops.
///
/// # Cancel safety
///
/// [`ResponseStream::message`] is cancel safe: bytes read so far stay
/// buffered.
pub struct ResponseStream<T> {
    recv: Recv,
    decode: DecodeFn<T>,
    state: State,
    trailers: Option<Metadata>,
    deadline: Option<Pin<Box<Sleep>>>,
    // Keeps the request pump alive while the response is read; dropping
    // the stream aborts it, which resets the h2 stream.
    guard: Option<PumpGuard>,
    // Governance over the whole stream (see grpc/governance/client.rs).
    governed: Option<Box<Governed>>,
}

/// What a governed client stream reports to, and drives, while it is read.
#[derive(Default)]
pub(crate) struct Governed {
    /// Told the stream's final status (dropped unsent: cancelled).
    pub(crate) on_end: Option<tokio::sync::oneshot::Sender<Result<(), Status>>>,
    /// The governance stack's future, which completes after `on_end`.
    pub(crate) stack: Option<crate::BoxFuture<'static, Result<(), Status>>>,
}

impl<T> fmt::Debug for ResponseStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseStream")
            .field("state", &self.state)
            .field("buffered", &self.recv.buffered_len())
            .finish()
    }
}

impl ResponseStream<Bytes> {
    /// Reads `body` (none: a Trailers-Only answer already read) until
    /// `deadline`, keeping the request pump behind `guard` alive.
    pub(crate) fn new(
        body: Option<h2::RecvStream>,
        decoder: Decoder,
        deadline: Option<std::time::Instant>,
        guard: Option<PumpGuard>,
    ) -> ResponseStream<Bytes> {
        let done = body.is_none();
        ResponseStream {
            recv: Recv::new(body, decoder),
            decode: decode_raw,
            state: if done { State::Done } else { State::Data },
            trailers: if done { Some(Metadata::new()) } else { None },
            deadline: deadline.map(|d| Box::pin(sleep_until(d))),
            guard,
            governed: None,
        }
    }

    /// Turns a raw stream into one of decoded prost messages.
    pub fn decode_into<M: prost::Message + Default>(self) -> ResponseStream<M> {
        self.with_decoder(decode_prost::<M>)
    }

    pub(crate) fn with_decoder<M>(self, decode: DecodeFn<M>) -> ResponseStream<M> {
        ResponseStream {
            recv: self.recv,
            decode,
            state: self.state,
            trailers: self.trailers,
            deadline: self.deadline,
            guard: self.guard,
            governed: self.governed,
        }
    }
}

impl<T> ResponseStream<T> {
    /// The next message: `Ok(None)` at a clean end.
    ///
    /// # Errors
    ///
    /// The server's status, a reset (`CANCELLED`), an oversize message
    /// (`RESOURCE_EXHAUSTED`), a passed deadline or a decode error.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }

    /// The trailing metadata, once the stream ended.
    pub fn trailers(&self) -> Option<&Metadata> {
        self.trailers.as_ref()
    }

    /// Whether the last message arrived compressed.
    pub fn is_last_compressed(&self) -> bool {
        self.recv.is_last_compressed()
    }

    /// Reports the final status to `on_end` (set by a governed attempt).
    #[cfg_attr(not(feature = "governance"), allow(dead_code))] // used by the governance glue
    pub(crate) fn set_on_end(&mut self, tx: tokio::sync::oneshot::Sender<Result<(), Status>>) {
        self.governed.get_or_insert_with(Box::default).on_end = Some(tx);
    }

    /// Drives the governance stack's future while the stream is read.
    #[cfg_attr(not(feature = "governance"), allow(dead_code))] // used by the governance glue
    pub(crate) fn set_stack(&mut self, fut: crate::BoxFuture<'static, Result<(), Status>>) {
        self.governed.get_or_insert_with(Box::default).stack = Some(fut);
    }

    /// Polls for the next message.
    pub fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        let Some(g) = self.governed.as_mut() else {
            return self.poll_inner(cx);
        };
        // A governance layer may end the call first (a timeout over the
        // whole stream): the stream then ends with its status.
        if let Some(stack) = g.stack.as_mut()
            && let Poll::Ready(r) = stack.as_mut().poll(cx)
        {
            g.stack = None;
            if let Err(status) = r
                && self.state != State::Done
            {
                let _ = self.fail(status.clone());
                self.finish_governed(cx, Err(status.clone()));
                return Poll::Ready(Err(status));
            }
        }
        let r = ready!(self.poll_inner(cx));
        match &r {
            Ok(Some(_)) => {}
            Ok(None) => self.finish_governed(cx, Ok(())),
            Err(s) => self.finish_governed(cx, Err(s.clone())),
        }
        Poll::Ready(r)
    }

    /// Reports the end and lets the governance stack complete (in the
    /// background if it needs more than this poll).
    fn finish_governed(&mut self, cx: &mut Context<'_>, end: Result<(), Status>) {
        let Some(g) = self.governed.as_mut() else {
            return;
        };
        if let Some(tx) = g.on_end.take() {
            let _ = tx.send(end);
        }
        if let Some(mut stack) = g.stack.take()
            && stack.as_mut().poll(cx).is_pending()
        {
            wego_netpoll::rt::spawn(async move {
                let _ = stack.await;
            });
        }
    }

    fn fail(&mut self, status: Status) -> Poll<Result<Option<T>, Status>> {
        self.state = State::Done;
        self.recv.close();
        Poll::Ready(Err(status))
    }

    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        loop {
            if self.state == State::Done {
                return Poll::Ready(Ok(None));
            }
            if let Some(d) = self.deadline.as_mut()
                && d.as_mut().poll(cx).is_ready()
            {
                return self.fail(Status::deadline_exceeded("deadline exceeded"));
            }
            if self.state == State::Data {
                match ready!(self.recv.poll_payload(cx)) {
                    Ok(Some(payload)) => {
                        return match (self.decode)(payload) {
                            Ok(v) => Poll::Ready(Ok(Some(v))),
                            Err(s) => self.fail(s),
                        };
                    }
                    Ok(None) if self.recv.has_body() => self.state = State::Trailers,
                    Ok(None) => {
                        self.state = State::Done;
                        return Poll::Ready(Ok(None));
                    }
                    Err(RecvError::Message(e)) => return self.fail(message_status(e)),
                    Err(RecvError::Reset(e)) => {
                        // A reset we sent because the request pump failed
                        // reports the pump's reason.
                        let pumped = self.guard.as_ref().and_then(PumpGuard::error);
                        return self.fail(pumped.unwrap_or_else(|| Status::from_h2(&e)));
                    }
                }
                continue;
            }
            // The trailers carry the call's status.
            let trailers = match ready!(self.recv.poll_trailers(cx)) {
                Ok(t) => t,
                Err(e) => return self.fail(Status::from_h2(&e)),
            };
            self.state = State::Done;
            let Some(map) = trailers else {
                return Poll::Ready(Err(Status::internal("missing trailers: no grpc-status")));
            };
            let status = Status::from_header_map(&map)
                .unwrap_or_else(|| Status::new(Code::Internal, "missing grpc-status in trailers"));
            self.trailers = Some(status.metadata().clone());
            if !status.is_ok() {
                return Poll::Ready(Err(status));
            }
            return Poll::Ready(Ok(None));
        }
    }
}

impl<T> Stream for ResponseStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // ResponseStream holds only Unpin fields (the Sleep is boxed).
        let this = self.get_mut();
        match ready!(this.poll_message(cx)) {
            Ok(Some(v)) => Poll::Ready(Some(Ok(v))),
            Ok(None) => Poll::Ready(None),
            Err(s) => Poll::Ready(Some(Err(s))),
        }
    }
}
