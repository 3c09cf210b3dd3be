//! The Kitex Protobuf payload, sans-IO (Kitex `pkg/remote/codec/protobuf`).
//!
//! ```text
//! +-------------------------+---------------------------+------------+----------------+
//! | magic|type (4 B, BE u32) | method (4 B len + bytes)  | seq id (4) | protobuf body  |
//! +-------------------------+---------------------------+------------+----------------+
//!   0x9001_0000 | message type (1 call, 2 reply, 3 exception, 4 oneway)
//! ```
//!
//! The framing (TTHeader or Framed) carries the length. An exception's body
//! is Kitex's `ErrorProto { int32 type_id = 1; string message = 2; }`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::transport::detect;

/// The protobuf v1 magic in the high 16 bits of the first word.
pub const MAGIC: u32 = detect::KITEX_PROTOBUF_MAGIC;
const MAGIC_MASK: u32 = detect::KITEX_PROTOBUF_MAGIC_MASK;
/// Longest method name accepted.
pub const MAX_METHOD_LEN: usize = 1024;

/// The message type, as Thrift numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtobufMessageType {
    /// A request expecting a reply.
    Call = 1,
    /// A successful reply.
    Reply = 2,
    /// A failed call; the body is an [`ErrorProto`].
    Exception = 3,
    /// A request without a reply.
    Oneway = 4,
}

impl ProtobufMessageType {
    fn from_u16(n: u16) -> Option<ProtobufMessageType> {
        Some(match n {
            1 => ProtobufMessageType::Call,
            2 => ProtobufMessageType::Reply,
            3 => ProtobufMessageType::Exception,
            4 => ProtobufMessageType::Oneway,
            _ => return None,
        })
    }
}

/// Kitex's protobuf exception body.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorProto {
    /// The application-exception type id (1 unknown method, 6 internal error, ...).
    #[prost(int32, tag = "1")]
    pub type_id: i32,
    /// The error text.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// Why a payload is not a Kitex Protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtobufError {
    /// Fewer bytes than the fixed fields need.
    #[error("kitex protobuf payload truncated")]
    Truncated,
    /// The first word does not carry the 0x9001 magic.
    #[error("bad kitex protobuf magic {0:#010x}")]
    BadMagic(u32),
    /// The message type is not 1 to 4.
    #[error("bad kitex protobuf message type {0}")]
    BadType(u16),
    /// The method name is longer than [`MAX_METHOD_LEN`] or the payload.
    #[error("kitex protobuf method name of {0} bytes is too long")]
    MethodTooLong(usize),
    /// The method name is not UTF-8.
    #[error("kitex protobuf method name is not utf-8")]
    MethodNotUtf8,
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtobufMessage {
    /// Call, reply, exception or oneway.
    pub kind: ProtobufMessageType,
    /// The method name.
    pub method: String,
    /// The sequence id.
    pub seq_id: i32,
    /// The protobuf-encoded argument, result or [`ErrorProto`].
    pub body: Bytes,
}

/// Whether `payload` starts with the Kitex Protobuf magic.
pub fn is_protobuf(payload: &[u8]) -> bool {
    detect::is_kitex_protobuf(payload)
}

/// Decodes a payload (what the framing carried).
///
/// # Errors
///
/// [`ProtobufError`] for anything malformed; never panics.
pub fn decode(mut payload: Bytes) -> Result<ProtobufMessage, ProtobufError> {
    if payload.len() < 8 {
        return Err(ProtobufError::Truncated);
    }
    let word = payload.get_u32();
    if word & MAGIC_MASK != MAGIC {
        return Err(ProtobufError::BadMagic(word));
    }
    let t = (word & 0xffff) as u16;
    let kind = ProtobufMessageType::from_u16(t).ok_or(ProtobufError::BadType(t))?;
    let n = payload.get_u32() as usize;
    if n > MAX_METHOD_LEN {
        return Err(ProtobufError::MethodTooLong(n));
    }
    if payload.len() < n + 4 {
        return Err(ProtobufError::Truncated);
    }
    let method = std::str::from_utf8(&payload[..n])
        .map_err(|_| ProtobufError::MethodNotUtf8)?
        .to_owned();
    payload.advance(n);
    let seq_id = payload.get_i32();
    Ok(ProtobufMessage {
        kind,
        method,
        seq_id,
        body: payload,
    })
}

/// Appends an encoded message to `dst`.
///
/// # Errors
///
/// [`ProtobufError::MethodTooLong`] for a method name over [`MAX_METHOD_LEN`].
pub fn encode(
    kind: ProtobufMessageType,
    method: &str,
    seq_id: i32,
    body: &[u8],
    dst: &mut BytesMut,
) -> Result<(), ProtobufError> {
    if method.len() > MAX_METHOD_LEN {
        return Err(ProtobufError::MethodTooLong(method.len()));
    }
    dst.reserve(12 + method.len() + body.len());
    dst.put_u32(MAGIC | kind as u32);
    dst.put_u32(method.len() as u32);
    dst.put_slice(method.as_bytes());
    dst.put_i32(seq_id);
    dst.put_slice(body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A call as Kitex writes it: `Echo`, seq 7, body `0a 02 68 69`.
    const KITEX_CALL: &[u8] = &[
        0x90, 0x01, 0x00, 0x01, 0, 0, 0, 4, b'E', b'c', b'h', b'o', 0, 0, 0, 7, 0x0a, 0x02, b'h',
        b'i',
    ];

    #[test]
    fn decodes_a_kitex_call() {
        let m = decode(Bytes::from_static(KITEX_CALL)).unwrap();
        assert_eq!(m.kind, ProtobufMessageType::Call);
        assert_eq!(m.method, "Echo");
        assert_eq!(m.seq_id, 7);
        assert_eq!(m.body.as_ref(), b"\x0a\x02hi");
        let mut out = BytesMut::new();
        encode(m.kind, &m.method, m.seq_id, &m.body, &mut out).unwrap();
        assert_eq!(out.as_ref(), KITEX_CALL);
        assert!(is_protobuf(KITEX_CALL));
        assert!(!is_protobuf(b"\x80\x01\x00\x01"));
    }

    #[test]
    fn rejects_malformed_payloads() {
        assert_eq!(
            decode(Bytes::from_static(b"\x90\x01")),
            Err(ProtobufError::Truncated)
        );
        assert_eq!(
            decode(Bytes::from_static(b"\x80\x01\x00\x01\0\0\0\0\0\0\0\0")),
            Err(ProtobufError::BadMagic(0x8001_0001))
        );
        assert_eq!(
            decode(Bytes::from_static(b"\x90\x01\x00\x09\0\0\0\0\0\0\0\0")),
            Err(ProtobufError::BadType(9))
        );
        assert_eq!(
            decode(Bytes::from_static(
                b"\x90\x01\x00\x01\xff\xff\xff\xff\0\0\0\0"
            )),
            Err(ProtobufError::MethodTooLong(u32::MAX as usize))
        );
        assert_eq!(
            decode(Bytes::from_static(b"\x90\x01\x00\x01\0\0\0\x05abc\0\0\0\0")),
            Err(ProtobufError::Truncated)
        );
        assert_eq!(
            decode(Bytes::from_static(
                b"\x90\x01\x00\x01\0\0\0\x01\xff\0\0\0\0"
            )),
            Err(ProtobufError::MethodNotUtf8)
        );
        let long = "m".repeat(MAX_METHOD_LEN + 1);
        assert!(
            encode(
                ProtobufMessageType::Call,
                &long,
                0,
                b"",
                &mut BytesMut::new()
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            kind in prop_oneof![Just(ProtobufMessageType::Call), Just(ProtobufMessageType::Reply), Just(ProtobufMessageType::Exception), Just(ProtobufMessageType::Oneway)],
            method in "[A-Za-z]{0,40}",
            seq in any::<i32>(),
            body in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut out = BytesMut::new();
            encode(kind, &method, seq, &body, &mut out).unwrap();
            let m = decode(out.freeze()).unwrap();
            prop_assert_eq!(m.kind, kind);
            prop_assert_eq!(m.method, method);
            prop_assert_eq!(m.seq_id, seq);
            prop_assert_eq!(m.body.as_ref(), &body[..]);
        }

        #[test]
        fn arbitrary_payloads_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(Bytes::from(data));
        }
    }
}
