//! `Streaming<T>`: the inbound messages of a call, decoded from an h2 body.
//!
//! On a server it yields the client's messages and ends at the request's end
//! of stream. On a client it yields the server's messages, then reads the
//! trailers: a non-OK `grpc-status` is returned as the last item, and the
//! trailing metadata is kept for [`Streaming::trailers`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use wego_netpoll::rt::{Sleep, sleep_until};

use super::codec::{Decoder, MessageError};
use super::metadata::Metadata;
use super::status::{Code, Status};

/// Decodes one message from its payload.
pub(crate) type DecodeFn<T> = fn(Bytes) -> Result<T, Status>;

pub(crate) fn decode_prost<T: prost::Message + Default>(b: Bytes) -> Result<T, Status> {
    T::decode(b).map_err(|e| Status::internal(format!("cannot decode message: {e}")))
}

fn decode_raw(b: Bytes) -> Result<Bytes, Status> {
    Ok(b)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Trailers,
    Done,
}

/// Maps a framing error to the status the spec asks for.
pub(crate) fn codec_status(e: MessageError) -> Status {
    match e {
        MessageError::TooLarge { .. } => Status::resource_exhausted(e.to_string()),
        MessageError::MissingEncoding
        | MessageError::InvalidFlag(_)
        | MessageError::Truncated(_) => Status::internal(e.to_string()),
        MessageError::Decompress(_) | MessageError::Compress(_) => Status::internal(e.to_string()),
    }
}

/// A stream of inbound messages. Implements [`Stream`], and
/// [`Streaming::message`] for `while let` loops.
///
/// # Cancel safety
///
/// [`Streaming::message`] is cancel safe: bytes read so far stay buffered.
pub struct Streaming<T> {
    body: Option<h2::RecvStream>,
    /// The newest chunk, while nothing older is buffered: whole messages in
    /// it are decoded without a copy; a partial one moves to `buf`.
    chunk: Bytes,
    buf: BytesMut,
    decoder: Decoder,
    decode: DecodeFn<T>,
    state: State,
    client: bool,
    trailers: Option<Metadata>,
    deadline: Option<Pin<Box<Sleep>>>,
    last_compressed: bool,
    // Keeps the request pump alive while the response is read (client side);
    // dropping the stream aborts it, which resets the h2 stream.
    _guard: Option<super::pump::PumpGuard>,
    // Governance over the whole stream (client side, see govern_client.rs).
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

impl<T> fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming")
            .field("state", &self.state)
            .field("client", &self.client)
            .field("buffered", &(self.buf.len() + self.chunk.len()))
            .finish()
    }
}

impl Streaming<Bytes> {
    pub(crate) fn new_server(body: h2::RecvStream, decoder: Decoder) -> Streaming<Bytes> {
        Streaming {
            body: Some(body),
            chunk: Bytes::new(),
            buf: BytesMut::new(),
            decoder,
            decode: decode_raw,
            state: State::Data,
            client: false,
            trailers: None,
            deadline: None,
            last_compressed: false,
            _guard: None,
            governed: None,
        }
    }

    /// A finished stream holding exactly one message, for transports that
    /// carry a single message outside HTTP/2 (Kitex Protobuf).
    pub(crate) fn from_message(payload: &[u8], max: usize) -> Result<Streaming<Bytes>, Status> {
        let mut buf = BytesMut::new();
        super::codec::encode(payload, None, max, &mut buf).map_err(codec_status)?;
        Ok(Streaming {
            body: None,
            chunk: Bytes::new(),
            buf,
            decoder: Decoder::new(max, None),
            decode: decode_raw,
            state: State::Data,
            client: false,
            trailers: None,
            deadline: None,
            last_compressed: false,
            _guard: None,
            governed: None,
        })
    }

    pub(crate) fn new_client(
        body: Option<h2::RecvStream>,
        decoder: Decoder,
        deadline: Option<std::time::Instant>,
        guard: Option<super::pump::PumpGuard>,
    ) -> Streaming<Bytes> {
        let done = body.is_none();
        Streaming {
            body,
            chunk: Bytes::new(),
            buf: BytesMut::new(),
            decoder,
            decode: decode_raw,
            state: if done { State::Done } else { State::Data },
            client: true,
            trailers: if done { Some(Metadata::new()) } else { None },
            deadline: deadline.map(|d| Box::pin(sleep_until(d))),
            last_compressed: false,
            _guard: guard,
            governed: None,
        }
    }

    /// Turns a raw stream into one of decoded prost messages.
    pub fn decode_into<M: prost::Message + Default>(self) -> Streaming<M> {
        self.with_decoder(decode_prost::<M>)
    }

    pub(crate) fn with_decoder<M>(self, decode: DecodeFn<M>) -> Streaming<M> {
        Streaming {
            body: self.body,
            chunk: self.chunk,
            buf: self.buf,
            decoder: self.decoder,
            decode,
            state: self.state,
            client: self.client,
            trailers: self.trailers,
            deadline: self.deadline,
            last_compressed: self.last_compressed,
            _guard: self._guard,
            governed: self.governed,
        }
    }
}

impl<T> Streaming<T> {
    /// The next message: `Ok(None)` at a clean end.
    ///
    /// # Errors
    ///
    /// The peer's status (client side), a reset (`CANCELLED`), an oversize
    /// message (`RESOURCE_EXHAUSTED`), a passed deadline or a decode error.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }

    /// The trailing metadata, once the stream ended (client side).
    pub fn trailers(&self) -> Option<&Metadata> {
        self.trailers.as_ref()
    }

    /// Whether the last message arrived compressed.
    pub fn is_last_compressed(&self) -> bool {
        self.last_compressed
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
        self.body = None;
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
            if !self.chunk.is_empty() {
                match self.decoder.decode_bytes(&mut self.chunk) {
                    Ok(Some(m)) => {
                        self.last_compressed = m.compressed;
                        return match (self.decode)(m.data) {
                            Ok(v) => Poll::Ready(Ok(Some(v))),
                            Err(s) => self.fail(s),
                        };
                    }
                    Ok(None) => {
                        // A message continues in the next chunk.
                        self.buf.extend_from_slice(&self.chunk);
                        self.chunk = Bytes::new();
                    }
                    Err(e) => return self.fail(codec_status(e)),
                }
            }
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(m)) => {
                    self.last_compressed = m.compressed;
                    return match (self.decode)(m.data) {
                        Ok(v) => Poll::Ready(Ok(Some(v))),
                        Err(s) => self.fail(s),
                    };
                }
                Ok(None) => {}
                Err(e) => return self.fail(codec_status(e)),
            }
            let Some(body) = self.body.as_mut() else {
                return Poll::Ready(Ok(None));
            };
            if self.state == State::Data {
                match ready!(body.poll_data(cx)) {
                    Some(Ok(chunk)) => {
                        // Give the window back as soon as the bytes are ours;
                        // the decoder's limit bounds what we hold.
                        let _ = body.flow_control().release_capacity(chunk.len());
                        if self.buf.is_empty() {
                            // Decoded in place: no copy for whole messages.
                            self.chunk = chunk;
                        } else {
                            self.buf.extend_from_slice(&chunk);
                        }
                    }
                    Some(Err(e)) => {
                        // A reset we sent because the request pump failed
                        // reports the pump's reason.
                        let pumped = self._guard.as_ref().and_then(|g| g.error());
                        return self.fail(pumped.unwrap_or_else(|| Status::from_h2(&e)));
                    }
                    None => {
                        if let Err(e) = self.decoder.finish(&self.buf) {
                            return self.fail(codec_status(e));
                        }
                        if !self.client {
                            self.state = State::Done;
                            return Poll::Ready(Ok(None));
                        }
                        self.state = State::Trailers;
                    }
                }
                continue;
            }
            // Client side: the trailers carry the call's status.
            let trailers = match ready!(body.poll_trailers(cx)) {
                Ok(t) => t,
                Err(e) => return self.fail(Status::from_h2(&e)),
            };
            self.state = State::Done;
            self.body = None;
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

impl<T> Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Streaming holds only Unpin fields (the Sleep is boxed).
        let this = self.get_mut();
        match ready!(this.poll_message(cx)) {
            Ok(Some(v)) => Poll::Ready(Some(Ok(v))),
            Ok(None) => Poll::Ready(None),
            Err(s) => Poll::Ready(Some(Err(s))),
        }
    }
}
