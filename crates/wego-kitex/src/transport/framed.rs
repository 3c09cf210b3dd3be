//! Framed transport: a 4-byte big-endian length, then the message.

use bytes::{BufMut, Bytes, BytesMut};

use super::FrameError;

/// Splits one complete frame's payload off the front of `buf`.
///
/// Returns `Ok(None)` until the whole frame is buffered. The declared length
/// is checked against `max` before anything is buffered for it.
///
/// # Errors
///
/// [`FrameError::TooLarge`] if the declared length exceeds `max`.
pub fn decode(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    let Some(len) = buf.get(..4) else {
        return Ok(None);
    };
    let size = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if size > max {
        return Err(FrameError::TooLarge { size, max });
    }
    if buf.len() < 4 + size {
        return Ok(None);
    }
    let mut frame = buf.split_to(4 + size);
    let _ = frame.split_to(4);
    Ok(Some(frame.freeze()))
}

/// Writes a length placeholder; append the payload, then call [`finish`].
pub fn begin(dst: &mut BytesMut) -> usize {
    let start = dst.len();
    dst.put_u32(0);
    start
}

/// Patches the length of the frame that starts at `start`.
///
/// # Errors
///
/// [`FrameError::TooLarge`] if the payload exceeds `u32::MAX` bytes.
pub fn finish(dst: &mut BytesMut, start: usize) -> Result<(), FrameError> {
    let size = dst.len() - start - 4;
    let len = u32::try_from(size).map_err(|_| FrameError::TooLarge {
        size,
        max: u32::MAX as usize,
    })?;
    dst[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rejects_oversized_length_without_buffering() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            decode(&mut buf, 16 << 20),
            Err(FrameError::TooLarge {
                size: 0xffff_ffff,
                max: 16 << 20
            })
        );
    }

    #[test]
    fn needs_more_then_splits_exactly_one_frame() {
        let mut buf = BytesMut::from(&[0, 0, 0, 3, b'a', b'b'][..]);
        assert_eq!(decode(&mut buf, 100), Ok(None));
        buf.extend_from_slice(b"cZ");
        assert_eq!(
            decode(&mut buf, 100).unwrap().unwrap(),
            Bytes::from_static(b"abc")
        );
        assert_eq!(&buf[..], b"Z");
    }

    proptest! {
        #[test]
        fn roundtrip(payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut dst = BytesMut::new();
            let start = begin(&mut dst);
            dst.extend_from_slice(&payload);
            finish(&mut dst, start).unwrap();
            let got = decode(&mut dst, 1 << 20).unwrap().unwrap();
            prop_assert_eq!(&got[..], &payload[..]);
            prop_assert!(dst.is_empty());
        }
    }
}
