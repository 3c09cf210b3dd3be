//! [`RequestStream<T>`]: the messages a client sends on a call, as the
//! server's handler reads them. It ends at the request's end of stream;
//! the call's status travels the other way, in the server's trailers.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use crate::grpc::codec::message::{DecodeFn, decode_prost, decode_raw};
use crate::grpc::codec::{self, Decoder, message_status};
use crate::grpc::conn::recv::{Recv, RecvError};
use crate::grpc::status::Status;

/// The inbound messages of a call on the server. Implements [`Stream`],
/// and [`RequestStream::message`] for `while let` loops.
///
/// # Cancel safety
///
/// [`RequestStream::message`] is cancel safe: bytes read so far stay
/// buffered.
pub struct RequestStream<T> {
    recv: Recv,
    decode: DecodeFn<T>,
    done: bool,
}

impl<T> fmt::Debug for RequestStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStream")
            .field("done", &self.done)
            .field("buffered", &self.recv.buffered_len())
            .finish()
    }
}

impl RequestStream<Bytes> {
    pub(crate) fn new(body: h2::RecvStream, decoder: Decoder) -> RequestStream<Bytes> {
        RequestStream {
            recv: Recv::new(Some(body), decoder),
            decode: decode_raw,
            done: false,
        }
    }

    /// A finished stream holding exactly one message, for transports that
    /// carry a single message outside HTTP/2 (Kitex Protobuf).
    pub(crate) fn from_message(payload: &[u8], max: usize) -> Result<RequestStream<Bytes>, Status> {
        let mut buf = BytesMut::new();
        codec::encode(payload, None, max, &mut buf).map_err(message_status)?;
        Ok(RequestStream {
            recv: Recv::buffered(buf, Decoder::new(max, None)),
            decode: decode_raw,
            done: false,
        })
    }

    /// Turns a raw stream into one of decoded prost messages.
    pub fn decode_into<M: prost::Message + Default>(self) -> RequestStream<M> {
        self.with_decoder(decode_prost::<M>)
    }

    pub(crate) fn with_decoder<M>(self, decode: DecodeFn<M>) -> RequestStream<M> {
        RequestStream {
            recv: self.recv,
            decode,
            done: self.done,
        }
    }
}

impl<T> RequestStream<T> {
    /// The next message: `Ok(None)` at the end of the request stream.
    ///
    /// # Errors
    ///
    /// A reset (`CANCELLED`), an oversize message (`RESOURCE_EXHAUSTED`) or
    /// a decode error (`INTERNAL`).
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }

    /// Whether the last message arrived compressed.
    pub fn is_last_compressed(&self) -> bool {
        self.recv.is_last_compressed()
    }

    /// Polls for the next message.
    pub fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        if self.done {
            return Poll::Ready(Ok(None));
        }
        let r = match ready!(self.recv.poll_payload(cx)) {
            Ok(Some(payload)) => match (self.decode)(payload) {
                Ok(v) => return Poll::Ready(Ok(Some(v))),
                Err(s) => Err(s),
            },
            Ok(None) => {
                self.done = true;
                return Poll::Ready(Ok(None));
            }
            Err(RecvError::Message(e)) => Err(message_status(e)),
            Err(RecvError::Reset(e)) => Err(Status::from_h2(&e)),
        };
        // A failed stream reads no further.
        self.done = true;
        self.recv.close();
        Poll::Ready(r)
    }
}

impl<T> Stream for RequestStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // RequestStream holds only Unpin fields.
        let this = self.get_mut();
        match ready!(this.poll_message(cx)) {
            Ok(Some(v)) => Poll::Ready(Some(Ok(v))),
            Ok(None) => Poll::Ready(None),
            Err(s) => Poll::Ready(Some(Err(s))),
        }
    }
}
