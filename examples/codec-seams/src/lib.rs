//! Two codecs wego-kitex does not ship, written against its public seams
//! only, as a third-party crate would:
//!
//! - [`ShortFramed`]: Thrift messages behind a 2-byte big-endian length, a
//!   [`FrameCodec`] the client takes with `ClientBuilder::with_frame_codec`
//!   and, being a [`DetectFraming`], the server takes with
//!   `ServerBuilder::with_framing` (its first bytes are offered to it before
//!   the built-in detection).
//! - [`TJson`]: Apache Thrift's TJSONProtocol, a [`PayloadProtocol`] the
//!   client takes with `ClientBuilder::with_payload_protocol` and the
//!   server with `ServerBuilder::with_payload_protocol`: whole messages,
//!   bodies included, transcoded from and to the binary form generated
//!   code encodes, through any framing ([`tjson`]).
//! - [`JsonCodec`]: gRPC messages as serde JSON, a [`Codec`] for
//!   `GrpcRouter::unary_with_codec` and `Channel::unary_with_codec`, sent as
//!   `application/grpc+json`.

pub mod tjson;

use std::fmt;
use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wego_kitex::grpc::{Codec, MessageDecoder, MessageEncoder, Status};
use wego_kitex::transport::{DetectFraming, Frame, FrameCodec, FrameError, Match, PayloadWriter};
use wego_kitex::ttheader::Header;

pub use tjson::{TJson, TJsonError};
#[cfg(doc)]
use wego_kitex::thrift::PayloadProtocol;

/// Length of [`ShortFramed`]'s prefix.
const PREFIX: usize = 2;

/// Thrift messages behind a 2-byte big-endian length (frames up to 64 KiB).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShortFramed;

impl FrameCodec for ShortFramed {
    fn decode(&self, buf: &mut BytesMut, max: usize) -> Result<Option<Frame>, FrameError> {
        let Some(len) = buf.get(..PREFIX) else {
            return Ok(None);
        };
        let size = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if size > max {
            return Err(FrameError::TooLarge { size, max });
        }
        if size == 0 {
            return Err(FrameError::Malformed("empty frame"));
        }
        if buf.len() < PREFIX + size {
            return Ok(None);
        }
        let mut frame = buf.split_to(PREFIX + size);
        let _ = frame.split_to(PREFIX);
        Ok(Some(Frame::plain(frame.freeze())))
    }

    fn decode_inner(&self, mut frame: Frame) -> Result<Frame, FrameError> {
        let mut buf = BytesMut::from(&frame.payload[..]);
        match self.decode(&mut buf, usize::from(u16::MAX))? {
            Some(inner) if buf.is_empty() => {
                frame.payload = inner.payload;
                Ok(frame)
            }
            _ => Err(FrameError::Malformed("payload is not exactly one frame")),
        }
    }

    fn encode(
        &self,
        _: Option<&Header>,
        dst: &mut BytesMut,
        payload: &mut PayloadWriter<'_>,
    ) -> Result<(), FrameError> {
        // Reserve the prefix, write the message in place, then patch it.
        let start = dst.len();
        dst.put_u16(0);
        payload(dst)?;
        let size = dst.len() - start - PREFIX;
        let len = u16::try_from(size).map_err(|_| FrameError::TooLarge {
            size,
            max: usize::from(u16::MAX),
        })?;
        dst[start..start + PREFIX].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

impl DetectFraming for ShortFramed {
    /// A non-zero length, then a strict binary envelope (`80 01 00 type`)
    /// or a compact one (`82`, version 1): nothing the built-in framings
    /// start with.
    fn detect(&self, first: &[u8]) -> Match {
        let Some(b) = first.get(..6) else {
            return Match::NeedMore;
        };
        let nonzero = b[0] != 0 || b[1] != 0;
        let binary = b[2] == 0x80 && b[3] == 0x01 && b[4] == 0 && (1..=4).contains(&b[5]);
        let compact = b[2] == 0x82 && b[3] & 0x1f == 1;
        if nonzero && (binary || compact) {
            Match::Yes
        } else {
            Match::No
        }
    }
}

/// gRPC messages as JSON through serde: sends `E`, receives `D`, with the
/// content-type `application/grpc+json`.
pub struct JsonCodec<E, D> {
    _types: PhantomData<fn() -> (E, D)>,
}

impl<E, D> JsonCodec<E, D> {
    /// The JSON codec for these types.
    pub fn new() -> Self {
        Self {
            _types: PhantomData,
        }
    }
}

impl<E, D> Default for JsonCodec<E, D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E, D> fmt::Debug for JsonCodec<E, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonCodec")
    }
}

impl<E, D> Codec for JsonCodec<E, D>
where
    E: Serialize + Send + 'static,
    D: DeserializeOwned + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = JsonEncoder<E>;
    type Decoder = JsonDecoder<D>;

    fn content_type(&self) -> &'static str {
        "application/grpc+json"
    }

    fn encoder(&self) -> JsonEncoder<E> {
        JsonEncoder(PhantomData)
    }

    fn decoder(&self) -> JsonDecoder<D> {
        JsonDecoder(PhantomData)
    }
}

/// [`JsonCodec`]'s encoder.
pub struct JsonEncoder<E>(PhantomData<fn(E)>);

impl<E> fmt::Debug for JsonEncoder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonEncoder")
    }
}

impl<E: Serialize + 'static> MessageEncoder for JsonEncoder<E> {
    type Item = E;

    fn encode(&mut self, item: E, dst: &mut BytesMut) -> Result<(), Status> {
        serde_json::to_writer(dst.writer(), &item)
            .map_err(|e| Status::internal(format!("cannot encode json message: {e}")))
    }
}

/// [`JsonCodec`]'s decoder.
pub struct JsonDecoder<D>(PhantomData<fn() -> D>);

impl<D> fmt::Debug for JsonDecoder<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonDecoder")
    }
}

impl<D: DeserializeOwned + 'static> MessageDecoder for JsonDecoder<D> {
    type Item = D;

    fn decode(&mut self, src: Bytes) -> Result<D, Status> {
        serde_json::from_slice(&src)
            .map_err(|e| Status::internal(format!("cannot decode json message: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_frames_roundtrip_and_check_their_length() {
        let mut out = BytesMut::new();
        ShortFramed
            .encode(None, &mut out, &mut |d| {
                d.extend_from_slice(b"\x80\x01\x00\x01abc");
                Ok(())
            })
            .unwrap();
        assert_eq!(&out[..4], b"\x00\x07\x80\x01");
        assert_eq!(ShortFramed.detect(&out), Match::Yes);
        let mut part = out.split_to(5);
        assert_eq!(ShortFramed.decode(&mut part, 100), Ok(None));
        part.unsplit(out);
        let f = ShortFramed.decode(&mut part, 100).unwrap().unwrap();
        assert_eq!(&f.payload[..], b"\x80\x01\x00\x01abc");
        let mut big = BytesMut::from(&b"\xff\xff"[..]);
        assert!(matches!(
            ShortFramed.decode(&mut big, 1024),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn built_in_framings_are_not_taken_for_short_frames() {
        // Framed, TTHeader and Buffered strict binary openings.
        for first in [
            &b"\x00\x00\x00\x14\x80\x01\x00\x01"[..],
            b"\x00\x00\x00\x14\x10\x00\x00\x00",
            b"\x80\x01\x00\x01\x00\x00\x00\x04",
        ] {
            assert_eq!(ShortFramed.detect(first), Match::No, "{first:?}");
        }
    }
}
