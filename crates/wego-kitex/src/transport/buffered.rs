//! Buffered (unframed) transport: messages back to back.
//!
//! Nothing says where a message ends, so the decoder walks the envelope and
//! the argument struct ("need more" until all of it is buffered). The walk
//! checks every length against the bytes present and `max`, so a hostile
//! peer gets an error once `max` bytes are claimed, never an allocation of
//! the size it declared. With the connection's [`DecodeState`]
//! ([`decode_resume`]) each read resumes the walk where the last one
//! stopped, so a message is walked once however many reads bring it.

use bytes::{Bytes, BytesMut};

use super::FrameError;
use crate::thrift::{CodecError, DecodeState, MessageCodec};

/// Splits one complete message off the front of `buf`, walking it from
/// byte 0 (see [`decode_resume`]).
///
/// # Errors
///
/// [`FrameError::TooLarge`] once the message would exceed `max`,
/// [`FrameError::Thrift`] if it is malformed.
pub fn decode<P: MessageCodec + ?Sized>(
    buf: &mut BytesMut,
    proto: &P,
    max: usize,
) -> Result<Option<Bytes>, FrameError> {
    decode_resume(buf, proto, max, &mut DecodeState::default())
}

/// Splits one complete message off the front of `buf`, resuming the walk
/// where the last call with `state` (the connection's) stopped.
///
/// # Errors
///
/// As [`decode`].
pub fn decode_resume<P: MessageCodec + ?Sized>(
    buf: &mut BytesMut,
    proto: &P,
    max: usize,
    state: &mut DecodeState,
) -> Result<Option<Bytes>, FrameError> {
    match proto.message_len_resume(buf, max, state) {
        Ok(Some(n)) => Ok(Some(buf.split_to(n).freeze())),
        Ok(None) => Ok(None),
        Err(CodecError::TooLarge { .. }) => Err(FrameError::TooLarge { size: 0, max }),
        Err(e) => Err(FrameError::Thrift(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::{
        ApplicationException, ExceptionKind, MessageHeader, MessageType, Protocol, encode_message,
    };

    fn message(proto: Protocol) -> BytesMut {
        let h = MessageHeader {
            name: "m".into(),
            kind: MessageType::Exception,
            seq_id: 3,
        };
        let mut dst = BytesMut::new();
        let e = ApplicationException::new(ExceptionKind::InternalError, "x");
        encode_message(proto, &h, &e, &mut dst).unwrap();
        dst
    }

    #[test]
    fn finds_the_end_of_each_message() {
        for proto in [Protocol::Binary, Protocol::Compact] {
            let one = message(proto);
            let mut two = one.clone();
            two.extend_from_slice(&one);
            for cut in 0..one.len() {
                let mut b = BytesMut::from(&one[..cut]);
                assert_eq!(decode(&mut b, &proto, 1 << 20), Ok(None));
            }
            assert_eq!(
                decode(&mut two, &proto, 1 << 20).unwrap().unwrap(),
                one.clone().freeze()
            );
            assert_eq!(
                decode(&mut two, &proto, 1 << 20).unwrap().unwrap(),
                one.freeze()
            );
            assert!(two.is_empty());
        }
    }

    #[test]
    fn rejects_messages_beyond_the_limit() {
        // strict header, then a string field claiming 1 GiB.
        let mut b = BytesMut::from(
            &[
                0x80, 1, 0, 1, 0, 0, 0, 1, b'm', 0, 0, 0, 1, 11, 0, 1, 0x40, 0, 0, 0,
            ][..],
        );
        assert!(matches!(
            decode(&mut b, &Protocol::Binary, 1 << 20),
            Err(FrameError::TooLarge { .. })
        ));
    }
}
