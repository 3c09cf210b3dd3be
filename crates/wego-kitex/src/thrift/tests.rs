//! Property tests of the Thrift codecs: round trips and hostile input.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::transport::buffered;

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![Just(Protocol::Binary), Just(Protocol::Compact)]
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
