//! Property tests of the Thrift codecs: round trips and hostile input.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::transport::buffered;

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Binary),
        Just(Protocol::Compact),
        Just(Protocol::BinaryBase64)
    ]
}

fn kind() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        Just(MessageType::Call),
        Just(MessageType::Reply),
        Just(MessageType::Exception),
        Just(MessageType::Oneway)
    ]
}

proptest! {
    #[test]
    fn messages_roundtrip(
        proto in protocol(),
        strict in any::<bool>(),
        name in "[a-zA-Z_:]{0,24}",
        k in kind(),
        seq_id in any::<i32>(),
        code in any::<i32>(),
        text in ".{0,64}",
    ) {
        let header = MessageHeader { name, kind: k, seq_id };
        let body = ApplicationException::new(ExceptionKind::from_code(code), text);
        let mut dst = BytesMut::new();
        encode_header(proto, &header, strict, &mut dst);
        encode_body(proto, &body, &mut dst).unwrap();
        let wire = dst.freeze();
        // Buffered framing finds exactly the end of the message.
        let mut two = BytesMut::from(&wire[..]);
        two.extend_from_slice(&wire);
        let first = buffered::decode(&mut two, &proto, 1 << 20).unwrap().unwrap();
        prop_assert_eq!(&first, &wire);
        let mut b = wire.clone();
        let (got, _) = decode_header(proto, &mut b).unwrap();
        prop_assert_eq!(got, header);
        let got: ApplicationException = decode_body(proto, &mut b).unwrap();
        prop_assert_eq!(got, body);
        prop_assert!(b.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(proto in protocol(), bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut b = Bytes::from(bytes.clone());
        if decode_header(proto, &mut b).is_ok() {
            let _ = decode_body::<ApplicationException>(proto, &mut b);
        }
        let _ = decode_body::<ApplicationException>(proto, &mut Bytes::from(bytes.clone()));
        let _ = buffered::decode(&mut BytesMut::from(&bytes[..]), &proto, 1 << 16);
    }
}

/// `struct { 1: binary b, 2: string s }`, as generated code writes and
/// reads it (`write_bytes` for binary, `write_string` for string).
#[derive(Debug, Clone, PartialEq)]
struct Blob {
    b: Bytes,
    s: String,
}

impl Message for Blob {
    fn encode<T: pilota::thrift::TOutputProtocol>(
        &self,
        p: &mut T,
    ) -> Result<(), pilota::thrift::ThriftException> {
        use pilota::thrift::TType;
        p.write_struct_begin(&pilota::thrift::TStructIdentifier::new("Blob"))?;
        p.write_field_begin(TType::Binary, 1)?;
        p.write_bytes(self.b.clone())?;
        p.write_field_end()?;
        p.write_field_begin(TType::Binary, 2)?;
        p.write_string(&self.s)?;
        p.write_field_end()?;
        p.write_field_stop()?;
        p.write_struct_end()
    }
    fn decode<T: pilota::thrift::TInputProtocol>(
        p: &mut T,
    ) -> Result<Self, pilota::thrift::ThriftException> {
        p.read_struct_begin()?;
        p.read_field_begin()?;
        let b = p.read_bytes()?;
        p.read_field_end()?;
        p.read_field_begin()?;
        let s = p.read_string()?;
        p.read_field_end()?;
        p.read_field_begin()?;
        p.read_struct_end()?;
        Ok(Blob { b, s })
    }
    async fn decode_async<T: pilota::thrift::TAsyncInputProtocol>(
        _p: &mut T,
    ) -> Result<Self, pilota::thrift::ThriftException> {
        unreachable!("not used")
    }
    fn size<T: pilota::thrift::TLengthProtocol>(&self, _p: &mut T) -> usize {
        0
    }
}

#[test]
fn binary_base64_writes_binary_fields_as_base64_and_reads_them_back() {
    let blob = Blob {
        b: Bytes::from_static(&[0, 0xff, 0x10]),
        s: "AP8Q".into(),
    };
    let mut dst = BytesMut::new();
    encode_body(Protocol::BinaryBase64, &blob, &mut dst).unwrap();
    // The binary field holds base64 text; the string field its own text.
    assert_eq!(
        &dst[..],
        b"\x0b\x00\x01\x00\x00\x00\x04AP8Q\x0b\x00\x02\x00\x00\x00\x04AP8Q\x00"
    );
    let got: Blob = decode_body(Protocol::BinaryBase64, &mut dst.clone().freeze()).unwrap();
    assert_eq!(got, blob);
    // Read as plain binary, the field is the text.
    let raw: Blob = decode_body(Protocol::Binary, &mut dst.freeze()).unwrap();
    assert_eq!(&raw.b[..], b"AP8Q");
    // Unpadded base64 (Apache's Java and C++ writers) reads too; text that
    // is not base64 is a decode error.
    let unpadded = b"\x0b\x00\x01\x00\x00\x00\x02AA\x0b\x00\x02\x00\x00\x00\x00\x00";
    let got: Blob = decode_body(Protocol::BinaryBase64, &mut Bytes::from_static(unpadded)).unwrap();
    assert_eq!(&got.b[..], &[0]);
    let bad = b"\x0b\x00\x01\x00\x00\x00\x02!!\x0b\x00\x02\x00\x00\x00\x00\x00";
    assert!(decode_body::<Blob>(Protocol::BinaryBase64, &mut Bytes::from_static(bad)).is_err());
}

#[test]
fn a_string_that_is_not_utf8_is_a_decode_error_in_binary_and_compact() {
    // An exception body whose message (field 1, a string) is 0xff 0xfe.
    let binary: &[u8] = &[0x0b, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x00];
    let compact: &[u8] = &[0x18, 0x02, 0xff, 0xfe, 0x00];
    for (proto, body) in [(Protocol::Binary, binary), (Protocol::Compact, compact)] {
        let got = decode_body::<ApplicationException>(proto, &mut Bytes::from_static(body));
        assert!(got.is_err(), "{proto:?} decoded a non-UTF-8 string");
        // The same bytes with a valid string decode.
        let mut ok = body.to_vec();
        let at = ok.len() - 3;
        ok[at..at + 2].copy_from_slice(b"hi");
        let e: ApplicationException = decode_body(proto, &mut Bytes::from(ok)).unwrap();
        assert_eq!(e.message, "hi", "{proto:?}");
    }
}

#[test]
fn a_truncated_body_or_envelope_is_truncated_not_too_large() {
    // A string field claiming 10 bytes with 2 present.
    for (proto, body) in [
        (Protocol::Binary, &[11, 0, 1, 0, 0, 0, 10, b'a', b'b'][..]),
        (Protocol::Compact, &[0x18, 10, b'a', b'b'][..]),
    ] {
        let mut b = Bytes::copy_from_slice(body);
        let e = decode_body::<ApplicationException>(proto, &mut b).unwrap_err();
        assert_eq!(e, CodecError::Truncated, "{proto:?}: {e}");
    }
    // A list claiming more elements than bytes are left.
    let mut b = Bytes::from_static(&[15, 0, 1, 8, 0, 0, 0, 100, 0, 0, 0, 1, 0]);
    let e = decode_body::<ApplicationException>(Protocol::Binary, &mut b).unwrap_err();
    assert_eq!(e, CodecError::Truncated, "{e}");
    // A strict envelope whose name runs past the end.
    let mut b = Bytes::from_static(&[0x80, 1, 0, 1, 0, 0, 0, 9, b'e', b'c']);
    let e = decode_header(Protocol::Binary, &mut b).unwrap_err();
    assert_eq!(e, CodecError::Truncated, "{e}");
}
