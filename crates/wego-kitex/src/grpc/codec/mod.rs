//! The gRPC length-prefixed message framing, sans-IO.
//!
//! ```text
//! +------------+----------------------+---------------------+
//! | flag (1 B) | length (4 B, BE u32) | message (length B)  |
//! +------------+----------------------+---------------------+
//!   0 = identity, 1 = compressed with the call's grpc-encoding
//! ```
//!
//! The decoder checks the declared length against a maximum before
//! buffering, so a peer cannot make us allocate an arbitrary size, and the
//! decompressed size is bounded by the same maximum (a "zip bomb" stops at
//! the limit).

pub(crate) mod message;
pub(crate) mod timeout;

use std::io::{Read, Write};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::Compression as Level;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// Length of the message prefix.
pub const HEADER_LEN: usize = 5;

/// Default maximum message size, both directions (4 MiB, as in grpc-go).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// A message compression algorithm (`grpc-encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// gzip (RFC 1952) through `flate2`.
    Gzip,
}

impl Encoding {
    /// The `grpc-encoding` token.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
        }
    }

    /// Parses a `grpc-encoding` token; `identity` and unknown tokens are
    /// `None` (the caller decides whether unknown is an error).
    pub fn from_token(token: &[u8]) -> Option<Encoding> {
        match token {
            b"gzip" => Some(Encoding::Gzip),
            _ => None,
        }
    }

    /// Whether `grpc-accept-encoding` (a comma-separated list) names this.
    pub fn is_accepted_by(self, accept: &[u8]) -> bool {
        accept
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii() == self.as_str().as_bytes())
    }
}

/// Why a message could not be framed or unframed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The message (declared or decompressed) exceeds the maximum size.
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Declared or decompressed length (a lower bound when decompressing).
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The compression flag is neither 0 nor 1.
    #[error("invalid compression flag {0}")]
    InvalidFlag(u8),
    /// A message is flagged compressed but the call has no `grpc-encoding`.
    #[error("compressed message without a grpc-encoding")]
    MissingEncoding,
    /// Decompression failed.
    #[error("cannot decompress message: {0}")]
    Decompress(String),
    /// Compression failed (I/O error inside the compressor).
    #[error("cannot compress message: {0}")]
    Compress(String),
    /// The stream ended inside a message.
    #[error("stream ended inside a message ({0} bytes buffered)")]
    Truncated(usize),
}

/// Appends one framed message to `dst`, compressed with `encoding` if given.
///
/// # Errors
///
/// [`MessageError::TooLarge`] if the (compressed) payload exceeds `max` or
/// `u32::MAX`; [`MessageError::Compress`] if the compressor fails.
pub fn encode(
    payload: &[u8],
    encoding: Option<Encoding>,
    max: usize,
    dst: &mut BytesMut,
) -> Result<(), MessageError> {
    let compressed;
    let (flag, body): (u8, &[u8]) = match encoding {
        None => (0, payload),
        Some(Encoding::Gzip) => {
            let mut enc = GzEncoder::new(Vec::with_capacity(payload.len() / 2 + 32), Level::fast());
            enc.write_all(payload)
                .map_err(|e| MessageError::Compress(e.to_string()))?;
            compressed = enc
                .finish()
                .map_err(|e| MessageError::Compress(e.to_string()))?;
            (1, &compressed)
        }
    };
    if payload.len() > max || body.len() > max || u32::try_from(body.len()).is_err() {
        return Err(MessageError::TooLarge {
            len: payload.len().max(body.len()),
            max,
        });
    }
    dst.reserve(HEADER_LEN + body.len());
    dst.put_u8(flag);
    dst.put_u32(body.len() as u32);
    dst.put_slice(body);
    Ok(())
}

/// One unframed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The (decompressed) payload.
    pub data: Bytes,
    /// Whether it arrived compressed.
    pub compressed: bool,
}

/// Decodes framed messages from a growing buffer.
#[derive(Debug, Clone)]
pub struct Decoder {
    max: usize,
    encoding: Option<Encoding>,
}

impl Decoder {
    /// Creates a decoder for a call whose `grpc-encoding` is `encoding`,
    /// rejecting messages over `max` bytes.
    pub fn new(max: usize, encoding: Option<Encoding>) -> Decoder {
        Decoder { max, encoding }
    }

    /// Takes one message from the front of `buf`: `Ok(None)` means more
    /// bytes are needed.
    ///
    /// # Errors
    ///
    /// [`MessageError`] for an invalid flag, an oversize message, a compressed
    /// message without encoding, or a corrupt compressed body.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<RawMessage>, MessageError> {
        let Some((flag, len)) = self.header(buf)? else {
            return Ok(None);
        };
        if buf.len() < HEADER_LEN + len {
            buf.reserve(HEADER_LEN + len - buf.len());
            return Ok(None);
        }
        buf.advance(HEADER_LEN);
        self.body(flag, buf.split_to(len).freeze())
    }

    /// [`Decoder::decode`] from contiguous bytes: the payload shares
    /// `buf`'s memory (no copy). `Ok(None)` leaves `buf` untouched.
    ///
    /// # Errors
    ///
    /// As [`Decoder::decode`].
    pub fn decode_bytes(&self, buf: &mut Bytes) -> Result<Option<RawMessage>, MessageError> {
        let Some((flag, len)) = self.header(buf)? else {
            return Ok(None);
        };
        if buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        buf.advance(HEADER_LEN);
        self.body(flag, buf.split_to(len))
    }

    /// The flag and checked length of the message at the front of `buf`,
    /// if its prefix is complete.
    fn header(&self, buf: &[u8]) -> Result<Option<(u8, usize)>, MessageError> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let flag = buf[0];
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if flag > 1 {
            return Err(MessageError::InvalidFlag(flag));
        }
        if len > self.max {
            return Err(MessageError::TooLarge { len, max: self.max });
        }
        Ok(Some((flag, len)))
    }

    /// The message from its flag and (possibly compressed) body.
    fn body(&self, flag: u8, body: Bytes) -> Result<Option<RawMessage>, MessageError> {
        if flag == 0 {
            return Ok(Some(RawMessage {
                data: body,
                compressed: false,
            }));
        }
        let data = match self.encoding {
            None => return Err(MessageError::MissingEncoding),
            Some(Encoding::Gzip) => gunzip(&body, self.max)?,
        };
        Ok(Some(RawMessage {
            data,
            compressed: true,
        }))
    }

    /// Checks what is left when the stream ends.
    ///
    /// # Errors
    ///
    /// [`MessageError::Truncated`] if a partial message is buffered.
    pub fn finish(&self, buf: &BytesMut) -> Result<(), MessageError> {
        if buf.is_empty() {
            Ok(())
        } else {
            Err(MessageError::Truncated(buf.len()))
        }
    }
}

fn gunzip(body: &[u8], max: usize) -> Result<Bytes, MessageError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(2).min(max));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    GzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| MessageError::Decompress(e.to_string()))?;
    if out.len() > max {
        return Err(MessageError::TooLarge {
            len: out.len(),
            max,
        });
    }
    Ok(Bytes::from(out))
}

/// Maps a framing error to the status the gRPC spec asks for.
pub(crate) fn message_status(e: MessageError) -> crate::grpc::status::Status {
    use crate::grpc::status::Status;
    match e {
        MessageError::TooLarge { .. } => Status::resource_exhausted(e.to_string()),
        MessageError::MissingEncoding
        | MessageError::InvalidFlag(_)
        | MessageError::Truncated(_) => Status::internal(e.to_string()),
        MessageError::Decompress(_) | MessageError::Compress(_) => Status::internal(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(flag: u8, body: &[u8]) -> BytesMut {
        let mut b = BytesMut::new();
        b.put_u8(flag);
        b.put_u32(body.len() as u32);
        b.put_slice(body);
        b
    }

    #[test]
    fn decodes_one_message_at_a_time() {
        let mut buf = frame(0, b"abc");
        buf.extend_from_slice(&frame(0, b"")[..]);
        buf.extend_from_slice(&[0, 0]);
        let d = Decoder::new(10, None);
        assert_eq!(d.decode(&mut buf).unwrap().unwrap().data.as_ref(), b"abc");
        assert_eq!(d.decode(&mut buf).unwrap().unwrap().data.as_ref(), b"");
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        assert_eq!(d.finish(&buf), Err(MessageError::Truncated(2)));
    }

    #[test]
    fn waits_for_a_partial_body() {
        let full = frame(0, b"hello");
        let d = Decoder::new(10, None);
        for cut in 0..full.len() {
            let mut part = BytesMut::from(&full[..cut]);
            assert_eq!(d.decode(&mut part).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn rejects_oversize_declared_length_before_buffering() {
        let mut buf = BytesMut::from(&[0u8, 0xff, 0xff, 0xff, 0xff][..]);
        let d = Decoder::new(DEFAULT_MAX_MESSAGE_SIZE, None);
        assert_eq!(
            d.decode(&mut buf),
            Err(MessageError::TooLarge {
                len: u32::MAX as usize,
                max: DEFAULT_MAX_MESSAGE_SIZE
            })
        );
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn rejects_bad_flags_and_missing_encoding() {
        let d = Decoder::new(10, None);
        assert_eq!(
            d.decode(&mut frame(2, b"x")),
            Err(MessageError::InvalidFlag(2))
        );
        assert_eq!(
            d.decode(&mut frame(1, b"x")),
            Err(MessageError::MissingEncoding)
        );
        let g = Decoder::new(10, Some(Encoding::Gzip));
        assert!(matches!(
            g.decode(&mut frame(1, b"not gzip")),
            Err(MessageError::Decompress(_))
        ));
    }

    #[test]
    fn gzip_round_trips_and_bombs_stop_at_the_limit() {
        let payload = vec![7u8; 10_000];
        let mut buf = BytesMut::new();
        encode(&payload, Some(Encoding::Gzip), 20_000, &mut buf).unwrap();
        assert_eq!(buf[0], 1);
        assert!(buf.len() < 1_000);
        let mut copy = buf.clone();
        let m = Decoder::new(20_000, Some(Encoding::Gzip))
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        assert!(m.compressed);
        assert_eq!(m.data.as_ref(), &payload[..]);
        assert_eq!(
            Decoder::new(5_000, Some(Encoding::Gzip)).decode(&mut copy),
            Err(MessageError::TooLarge {
                len: 5_001,
                max: 5_000
            })
        );
    }

    #[test]
    fn encode_rejects_oversize() {
        let mut buf = BytesMut::new();
        assert_eq!(
            encode(&[0; 11], None, 10, &mut buf),
            Err(MessageError::TooLarge { len: 11, max: 10 })
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn accept_encoding_lists_are_parsed() {
        assert!(Encoding::Gzip.is_accepted_by(b"identity, gzip"));
        assert!(Encoding::Gzip.is_accepted_by(b"gzip"));
        assert!(!Encoding::Gzip.is_accepted_by(b"identity,deflate"));
        assert_eq!(Encoding::from_token(b"gzip"), Some(Encoding::Gzip));
        assert_eq!(Encoding::from_token(b"identity"), None);
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            gzip in any::<bool>(),
        ) {
            let enc = gzip.then_some(Encoding::Gzip);
            let mut buf = BytesMut::new();
            for m in &msgs {
                encode(m, enc, 1024, &mut buf).unwrap();
            }
            let d = Decoder::new(1024, enc);
            for m in &msgs {
                let got = d.decode(&mut buf).unwrap().unwrap();
                prop_assert_eq!(got.data.as_ref(), &m[..]);
                prop_assert_eq!(got.compressed, gzip);
            }
            prop_assert!(d.decode(&mut buf).unwrap().is_none());
            prop_assert!(d.finish(&buf).is_ok());
        }

        #[test]
        fn decoding_from_bytes_matches_decoding_from_a_buffer(
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
            cut in 0usize..2000,
            gzip in any::<bool>(),
        ) {
            let enc = gzip.then_some(Encoding::Gzip);
            let mut all = BytesMut::new();
            for m in &msgs {
                encode(m, enc, 1024, &mut all).unwrap();
            }
            // A prefix of the stream, cut anywhere.
            let cut = cut.min(all.len());
            let d = Decoder::new(1024, enc);
            let mut buf = BytesMut::from(&all[..cut]);
            let mut bytes = Bytes::copy_from_slice(&all[..cut]);
            loop {
                let a = d.decode(&mut buf).unwrap();
                let b = d.decode_bytes(&mut bytes).unwrap();
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(&buf[..], &bytes[..]);
                if a.is_none() {
                    break;
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut buf = BytesMut::from(&data[..]);
            let d = Decoder::new(32, Some(Encoding::Gzip));
            while let Ok(Some(_)) = d.decode(&mut buf) {}
            let mut bytes = Bytes::from(data);
            while let Ok(Some(_)) = d.decode_bytes(&mut bytes) {}
        }
    }
}
