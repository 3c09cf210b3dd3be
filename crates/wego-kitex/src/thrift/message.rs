//! [`MessageCodec`]: the payload-protocol layer of the codec onion, the
//! innermost one (TTHeader around Framed around Binary or Compact).

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::scan::{self, DecodeState};
use super::walk::Stop;
use super::{CodecError, MessageHeader, Protocol, decode_header, encode_header};

/// A Thrift payload protocol's messages: the envelope that begins one, the
/// end of one, and where an unframed one ends (what Buffered framing
/// needs). Struct bodies between begin and end go through pilota's
/// protocols ([`encode_body`](super::encode_body),
/// [`decode_body`](super::decode_body)).
///
/// Binary and Compact implement it on [`Protocol`]; a protocol written
/// outside wego implements it and [`PayloadProtocol`](super::PayloadProtocol),
/// which adds its struct bodies.
pub trait MessageCodec: fmt::Debug + Send + Sync + 'static {
    /// The length of the complete message at the front of `buf`:
    /// `Ok(None)` until all of it is buffered.
    ///
    /// # Errors
    ///
    /// [`CodecError::TooLarge`] once the message would exceed `max`,
    /// [`CodecError::Invalid`] (or another variant) if it is malformed.
    fn message_len(&self, buf: &[u8], max: usize) -> Result<Option<usize>, CodecError>;

    /// As [`message_len`](Self::message_len), resuming from where the last
    /// call on this buffer left off: `state` is the connection's, kept
    /// between calls while the buffer only grows at its end. Binary and
    /// Compact walk each byte once this way, however many reads bring the
    /// message; a scan from byte 0 after every read costs O(B²) for a
    /// message of B bytes. A protocol written outside wego keeps its own
    /// progress in `state` with [`DecodeState::codec_state`]. The default
    /// ignores `state`.
    ///
    /// # Errors
    ///
    /// As [`message_len`](Self::message_len).
    fn message_len_resume(
        &self,
        buf: &[u8],
        max: usize,
        state: &mut DecodeState,
    ) -> Result<Option<usize>, CodecError> {
        let _ = state;
        self.message_len(buf, max)
    }

    /// Decodes a message's envelope from the front of `buf`, advancing past
    /// it; returns it and whether its form was strict.
    ///
    /// # Errors
    ///
    /// Any [`CodecError`] for a malformed envelope.
    fn decode_begin(&self, buf: &mut Bytes) -> Result<(MessageHeader, bool), CodecError>;

    /// Appends a message's envelope (`strict`: the versioned form, where
    /// the protocol has two).
    fn encode_begin(&self, header: &MessageHeader, strict: bool, dst: &mut BytesMut);

    /// Appends what ends a message after its body (nothing, for Binary and
    /// Compact).
    fn encode_end(&self, dst: &mut BytesMut) {
        let _ = dst;
    }

    /// Reads what ends a message after its body from the front of `buf`,
    /// advancing past it (nothing, for Binary and Compact).
    ///
    /// # Errors
    ///
    /// Any [`CodecError`] when the message does not end as it must.
    fn decode_end(&self, buf: &mut Bytes) -> Result<(), CodecError> {
        let _ = buf;
        Ok(())
    }
}

impl<P: MessageCodec + ?Sized> MessageCodec for Arc<P> {
    fn message_len(&self, buf: &[u8], max: usize) -> Result<Option<usize>, CodecError> {
        (**self).message_len(buf, max)
    }

    fn message_len_resume(
        &self,
        buf: &[u8],
        max: usize,
        state: &mut DecodeState,
    ) -> Result<Option<usize>, CodecError> {
        (**self).message_len_resume(buf, max, state)
    }

    fn decode_begin(&self, buf: &mut Bytes) -> Result<(MessageHeader, bool), CodecError> {
        (**self).decode_begin(buf)
    }

    fn encode_begin(&self, header: &MessageHeader, strict: bool, dst: &mut BytesMut) {
        (**self).encode_begin(header, strict, dst);
    }

    fn encode_end(&self, dst: &mut BytesMut) {
        (**self).encode_end(dst);
    }

    fn decode_end(&self, buf: &mut Bytes) -> Result<(), CodecError> {
        (**self).decode_end(buf)
    }
}

impl MessageCodec for Protocol {
    fn message_len(&self, buf: &[u8], max: usize) -> Result<Option<usize>, CodecError> {
        self.message_len_resume(buf, max, &mut DecodeState::default())
    }

    fn message_len_resume(
        &self,
        buf: &[u8],
        max: usize,
        state: &mut DecodeState,
    ) -> Result<Option<usize>, CodecError> {
        match scan::message_len(buf, *self, max, &mut state.scan) {
            Ok(n) => Ok(Some(n)),
            Err(Stop::NeedMore) => Ok(None),
            Err(Stop::TooLarge) => Err(CodecError::TooLarge { max }),
            Err(Stop::Invalid(why)) => Err(CodecError::Invalid(why)),
        }
    }

    fn decode_begin(&self, buf: &mut Bytes) -> Result<(MessageHeader, bool), CodecError> {
        decode_header(*self, buf)
    }

    fn encode_begin(&self, header: &MessageHeader, strict: bool, dst: &mut BytesMut) {
        encode_header(*self, header, strict, dst);
    }
}
