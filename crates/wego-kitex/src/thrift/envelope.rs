//! Message envelopes: binary strict (`0x8001` version word), binary
//! non-strict (name first) and compact (`0x82` protocol id).
//!
//! Spec: Apache Thrift `doc/specs/thrift-binary-protocol.md` and
//! `thrift-compact-protocol.md`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::walk::Cursor;
use super::{CodecError, Protocol};

const BINARY_VERSION_1: u32 = 0x8001_0000;
const BINARY_VERSION_MASK: u32 = 0xffff_0000;
const COMPACT_PROTOCOL_ID: u8 = 0x82;
const COMPACT_VERSION: u8 = 1;
/// Longest method name accepted in an envelope.
const MAX_NAME_LEN: usize = 64 * 1024;

/// The kind of a Thrift message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageType {
    /// A request that expects a reply.
    Call,
    /// A successful (or declared-exception) reply.
    Reply,
    /// A `TApplicationException` reply.
    Exception,
    /// A request that gets no reply.
    Oneway,
}

impl MessageType {
    /// The wire code (1 to 4).
    pub fn code(self) -> u8 {
        match self {
            MessageType::Call => 1,
            MessageType::Reply => 2,
            MessageType::Exception => 3,
            MessageType::Oneway => 4,
        }
    }

    /// Parses a wire code.
    ///
    /// # Errors
    ///
    /// [`CodecError::UnknownMessageType`] for codes other than 1 to 4.
    pub fn from_code(code: u8) -> Result<Self, CodecError> {
        Ok(match code {
            1 => MessageType::Call,
            2 => MessageType::Reply,
            3 => MessageType::Exception,
            4 => MessageType::Oneway,
            c => return Err(CodecError::UnknownMessageType(c)),
        })
    }
}

/// A message envelope: method name, type and sequence id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeader {
    /// The method name.
    pub name: String,
    /// Call, reply, exception or oneway.
    pub kind: MessageType,
    /// The sequence id that pairs a reply with its call.
    pub seq_id: i32,
}

/// Appends the envelope `h` to `dst`; `strict` selects the binary protocol's
/// versioned form (ignored for compact).
pub fn encode_header(proto: Protocol, h: &MessageHeader, strict: bool, dst: &mut BytesMut) {
    encode_parts(proto, &h.name, h.kind, h.seq_id, strict, dst);
}

/// [`encode_header`] from the envelope's parts, for a caller that holds
/// the name in another string type.
pub(crate) fn encode_parts(
    proto: Protocol,
    name: &str,
    kind: MessageType,
    seq_id: i32,
    strict: bool,
    dst: &mut BytesMut,
) {
    match proto {
        Protocol::Binary | Protocol::BinaryBase64 if strict => {
            dst.put_u32(BINARY_VERSION_1 | u32::from(kind.code()));
            put_len(dst, name.len());
            dst.put_slice(name.as_bytes());
            dst.put_i32(seq_id);
        }
        Protocol::Binary | Protocol::BinaryBase64 => {
            put_len(dst, name.len());
            dst.put_slice(name.as_bytes());
            dst.put_u8(kind.code());
            dst.put_i32(seq_id);
        }
        Protocol::Compact => {
            dst.put_u8(COMPACT_PROTOCOL_ID);
            dst.put_u8((kind.code() << 5) | COMPACT_VERSION);
            put_varint(dst, u64::from(seq_id as u32));
            put_varint(dst, name.len() as u64);
            dst.put_slice(name.as_bytes());
        }
    }
}

fn put_len(dst: &mut BytesMut, n: usize) {
    // Names are bounded by the caller's memory; i32::MAX is never reached in
    // practice, and saturating keeps the encoder total.
    dst.put_i32(i32::try_from(n).unwrap_or(i32::MAX));
}

pub(crate) fn put_varint(dst: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        dst.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    dst.put_u8(v as u8);
}

/// Decodes an envelope from the front of `buf` and advances past it.
///
/// For [`Protocol::Binary`] both the strict and the non-strict forms are
/// accepted. Returns the header and whether it was strict.
///
/// # Errors
///
/// [`CodecError::Truncated`], [`CodecError::BadVersion`],
/// [`CodecError::UnknownMessageType`], [`CodecError::InvalidUtf8`] or
/// [`CodecError::Invalid`].
pub fn decode_header(
    proto: Protocol,
    buf: &mut Bytes,
) -> Result<(MessageHeader, bool), CodecError> {
    let mut cur = Cursor::new(buf, buf.len());
    let (header, strict) = match proto {
        Protocol::Binary | Protocol::BinaryBase64 => {
            let first = cur.i32_be()?;
            if first < 0 {
                let word = first as u32;
                if word & BINARY_VERSION_MASK != BINARY_VERSION_1 {
                    return Err(CodecError::BadVersion(word & BINARY_VERSION_MASK));
                }
                let kind = MessageType::from_code((word & 0xff) as u8)?;
                let name = name(cur.binary(proto)?)?;
                let seq_id = cur.i32_be()?;
                (MessageHeader { name, kind, seq_id }, true)
            } else {
                let n = first as usize;
                if n > MAX_NAME_LEN {
                    return Err(CodecError::Invalid("method name too long"));
                }
                let raw = buf.get(4..4 + n).ok_or(CodecError::Truncated)?;
                let name = name(raw)?;
                let rest = buf.get(4 + n..4 + n + 5).ok_or(CodecError::Truncated)?;
                let kind = MessageType::from_code(rest[0])?;
                let seq_id = i32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]);
                buf.advance(4 + n + 5);
                return Ok((MessageHeader { name, kind, seq_id }, false));
            }
        }
        Protocol::Compact => {
            let b = buf.get(..2).ok_or(CodecError::Truncated)?;
            if b[0] != COMPACT_PROTOCOL_ID {
                return Err(CodecError::Invalid("not a compact protocol message"));
            }
            if b[1] & 0x1f != COMPACT_VERSION {
                return Err(CodecError::BadVersion(u32::from(b[1] & 0x1f)));
            }
            let kind = MessageType::from_code(b[1] >> 5)?;
            let mut cur2 = Cursor::new(&buf[2..], buf.len() - 2);
            let seq_id = cur2.varint(5)? as u32 as i32;
            let name = name(cur2.binary(proto)?)?;
            let used = 2 + cur2.pos();
            buf.advance(used);
            return Ok((MessageHeader { name, kind, seq_id }, true));
        }
    };
    let used = cur.pos();
    buf.advance(used);
    Ok((header, strict))
}

fn name(raw: &[u8]) -> Result<String, CodecError> {
    if raw.len() > MAX_NAME_LEN {
        return Err(CodecError::Invalid("method name too long"));
    }
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| CodecError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(proto: Protocol, strict: bool) {
        let h = MessageHeader {
            name: "testString".into(),
            kind: MessageType::Call,
            seq_id: -7,
        };
        let mut dst = BytesMut::new();
        encode_header(proto, &h, strict, &mut dst);
        dst.put_u8(0xaa);
        let mut b = dst.freeze();
        let (got, was_strict) = decode_header(proto, &mut b).unwrap();
        assert_eq!(got, h);
        assert_eq!(was_strict, strict || proto == Protocol::Compact);
        assert_eq!(&b[..], &[0xaa]);
    }

    #[test]
    fn envelopes_roundtrip() {
        roundtrip(Protocol::Binary, true);
        roundtrip(Protocol::Binary, false);
        roundtrip(Protocol::Compact, true);
    }

    #[test]
    fn strict_binary_fixture() {
        // From the binary protocol spec: 0x80010001, name "ab", seq 1.
        let mut b = Bytes::from_static(&[0x80, 1, 0, 1, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 1]);
        let (h, strict) = decode_header(Protocol::Binary, &mut b).unwrap();
        assert!(strict);
        assert_eq!(
            (h.name.as_str(), h.kind, h.seq_id),
            ("ab", MessageType::Call, 1)
        );
    }

    #[test]
    fn rejects_malformed_envelopes() {
        let cases: &[(&[u8], Protocol)] = &[
            (&[0x80, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], Protocol::Binary),
            (&[0x80, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1], Protocol::Binary),
            (&[0x80, 1, 0, 1, 0xff, 0xff, 0xff, 0xff], Protocol::Binary),
            (
                &[0x80, 1, 0, 1, 0, 0, 0, 2, 0xff, 0xfe, 0, 0, 0, 1],
                Protocol::Binary,
            ),
            (&[0x80, 1], Protocol::Binary),
            (&[0x7f, 0xff, 0xff, 0xff], Protocol::Binary),
            (&[0x82, 0x22], Protocol::Compact),
            (
                &[0x82, 0x21, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Protocol::Compact,
            ),
            (&[0x81, 0x21, 0, 0], Protocol::Compact),
            (&[0x82, 0xe1, 0, 0], Protocol::Compact),
        ];
        for (bytes, proto) in cases {
            let mut b = Bytes::copy_from_slice(bytes);
            assert!(decode_header(*proto, &mut b).is_err(), "{bytes:?} accepted");
        }
    }
}
