//! The inbound half of a call: length-prefixed messages decoded from an h2
//! body as its DATA frames arrive. The server's request stream and the
//! client's response stream both read through it; the client then reads
//! the trailers with [`Recv::poll_trailers`].

use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;

use crate::grpc::codec::{Decoder, MessageError, RawMessage};

/// Why reading a body stopped early.
#[derive(Debug)]
pub(crate) enum RecvError {
    /// A message broke the framing or a limit.
    Message(MessageError),
    /// The stream was reset or the connection failed.
    Reset(h2::Error),
}

/// Decodes the messages of one h2 body.
pub(crate) struct Recv {
    body: Option<h2::RecvStream>,
    /// The newest chunk, while nothing older is buffered: whole messages in
    /// it are decoded without a copy; a partial one moves to `buf`.
    chunk: Bytes,
    buf: BytesMut,
    decoder: Decoder,
    /// The body's DATA ended (trailers may follow).
    data_done: bool,
    last_compressed: bool,
}

impl Recv {
    /// Reads `body` (none: nothing to read) with `decoder`.
    pub(crate) fn new(body: Option<h2::RecvStream>, decoder: Decoder) -> Recv {
        Recv {
            body,
            chunk: Bytes::new(),
            buf: BytesMut::new(),
            decoder,
            data_done: false,
            last_compressed: false,
        }
    }

    /// Reads already framed messages held in `buf`, with no body behind them.
    pub(crate) fn buffered(buf: BytesMut, decoder: Decoder) -> Recv {
        Recv {
            buf,
            ..Recv::new(None, decoder)
        }
    }

    /// The buffered bytes not decoded yet.
    pub(crate) fn buffered_len(&self) -> usize {
        self.buf.len() + self.chunk.len()
    }

    /// Whether the last message arrived compressed.
    pub(crate) fn is_last_compressed(&self) -> bool {
        self.last_compressed
    }

    /// Whether an h2 body is still attached (trailers may be read).
    pub(crate) fn has_body(&self) -> bool {
        self.body.is_some()
    }

    /// Drops the body, which resets the stream if it is still open.
    pub(crate) fn close(&mut self) {
        self.body = None;
    }

    fn take(&mut self, m: RawMessage) -> Bytes {
        self.last_compressed = m.compressed;
        m.data
    }

    /// The next message's payload; `Ok(None)` once the body's DATA ended
    /// cleanly (or there is no body and nothing buffered).
    pub(crate) fn poll_payload(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, RecvError>> {
        loop {
            if !self.chunk.is_empty() {
                match self.decoder.decode_bytes(&mut self.chunk) {
                    Ok(Some(m)) => return Poll::Ready(Ok(Some(self.take(m)))),
                    Ok(None) => {
                        // A message continues in the next chunk.
                        self.buf.extend_from_slice(&self.chunk);
                        self.chunk = Bytes::new();
                    }
                    Err(e) => return Poll::Ready(Err(RecvError::Message(e))),
                }
            }
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(m)) => return Poll::Ready(Ok(Some(self.take(m)))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(RecvError::Message(e))),
            }
            let Some(body) = self.body.as_mut() else {
                return Poll::Ready(Ok(None));
            };
            if self.data_done {
                return Poll::Ready(Ok(None));
            }
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
                Some(Err(e)) => return Poll::Ready(Err(RecvError::Reset(e))),
                None => {
                    self.data_done = true;
                    if let Err(e) = self.decoder.finish(&self.buf) {
                        return Poll::Ready(Err(RecvError::Message(e)));
                    }
                    return Poll::Ready(Ok(None));
                }
            }
        }
    }

    /// The trailers, after [`Recv::poll_payload`] reported the end of DATA.
    /// `Ok(None)` when the stream ended without them or there is no body.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, h2::Error>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        let r = ready!(body.poll_trailers(cx));
        self.body = None;
        Poll::Ready(r)
    }
}
