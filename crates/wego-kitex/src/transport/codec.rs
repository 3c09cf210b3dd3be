//! The framing seam: [`FrameCodec`], sans-IO frame codecs that stack like
//! layers, as volo-thrift composes its codecs.
//!
//! ```text
//! TTHeader( Framed( Binary | Compact ) )     TtHeaderCodec ∘ FramedCodec
//! TTHeader( Binary | Compact )               TtHeaderCodec
//! Framed( Binary | Compact )                 FramedCodec
//! Binary | Compact, back to back             BufferedCodec (asks the protocol where a message ends)
//! ```
//!
//! A codec decodes the next frame from a growing buffer (`Ok(None)` is
//! "need more"; every declared length is checked against the limit before
//! anything is buffered for it) and encodes by reserving its header,
//! letting the payload be written in place after it, then finishing the
//! header: no copy of the payload. An outer layer hands an inner one a
//! payload it has already delimited ([`FrameCodec::decode_inner`]).
//!
//! [`Framing`](super::Framing) values are constructors of these stacks
//! ([`Framing::codec`](super::Framing::codec)); a framing wego does not
//! know is a type implementing [`FrameCodec`], given to
//! `ClientBuilder::with_frame_codec` and, with [`DetectFraming`], to
//! `ServerBuilder::with_framing`.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::{FrameError, buffered, framed};
pub use crate::thrift::sniff::Match;
use crate::thrift::{DecodeState, MessageCodec};
use crate::ttheader::{self, Header, HeaderFormat};

/// One decoded frame: the TTHeader/THeader header, when the framing has
/// one, and the payload (a whole Thrift or Kitex Protobuf message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The TTHeader/THeader header; `None` for headerless framings.
    pub header: Option<Header>,
    /// The message.
    pub payload: Bytes,
}

impl Frame {
    /// A headerless frame around `payload`.
    pub fn plain(payload: Bytes) -> Self {
        Self {
            header: None,
            payload,
        }
    }
}

/// Writes a frame's payload into the buffer the codec reserved a header in.
pub type PayloadWriter<'a> = dyn FnMut(&mut BytesMut) -> Result<(), FrameError> + 'a;

/// A framing layer: where a message ends on the wire, and its header.
///
/// Implementations are stateless and shared by every connection that
/// uses them (`&self`); the per-connection state is the read buffer.
pub trait FrameCodec: fmt::Debug + Send + Sync + 'static {
    /// Splits the next complete frame off the front of `buf`.
    ///
    /// Returns `Ok(None)` until the whole frame is buffered. A declared
    /// length is checked against `max` before anything is buffered for it.
    ///
    /// # Errors
    ///
    /// Any [`FrameError`]; the connection should be closed.
    fn decode(&self, buf: &mut BytesMut, max: usize) -> Result<Option<Frame>, FrameError>;

    /// As [`decode`](Self::decode), resuming from where the last call on
    /// this connection's buffer left off. `state` is the connection's: a
    /// driver keeps one per connection and passes it to every decode while
    /// `buf` only grows at its end (splitting a frame off is the codec's
    /// own doing). A framing that finds a message's end by walking it
    /// ([`BufferedCodec`]) then walks each byte once, however many reads
    /// bring the message; [`decode`](Self::decode) walks from byte 0 on
    /// every call. The default ignores `state`: framings with a length
    /// prefix need none.
    ///
    /// # Errors
    ///
    /// As [`decode`](Self::decode).
    fn decode_resume(
        &self,
        buf: &mut BytesMut,
        max: usize,
        state: &mut DecodeState,
    ) -> Result<Option<Frame>, FrameError> {
        let _ = state;
        self.decode(buf, max)
    }

    /// Removes this layer's framing from a payload an outer layer has
    /// already delimited (`frame.payload` is exactly one of this layer's
    /// frames). The header, if the outer layer had one, stays.
    ///
    /// # Errors
    ///
    /// Any [`FrameError`] when the payload is not one whole frame.
    fn decode_inner(&self, frame: Frame) -> Result<Frame, FrameError>;

    /// Appends one frame to `dst`: this layer's header (from `header`
    /// where the layer has one), then what `payload` writes, then the
    /// header is finished (lengths patched).
    ///
    /// # Errors
    ///
    /// What `payload` returns, or [`FrameError`] if the frame cannot be
    /// framed (too large, a header field out of range).
    fn encode(
        &self,
        header: Option<&Header>,
        dst: &mut BytesMut,
        payload: &mut PayloadWriter<'_>,
    ) -> Result<(), FrameError>;

    /// The TTHeader/THeader format of this layer or an outer one: a client
    /// builds a [`Header`] for each call only when there is one.
    fn header_format(&self) -> Option<HeaderFormat> {
        None
    }
}

impl<C: FrameCodec + ?Sized> FrameCodec for std::sync::Arc<C> {
    fn decode(&self, buf: &mut BytesMut, max: usize) -> Result<Option<Frame>, FrameError> {
        (**self).decode(buf, max)
    }

    fn decode_resume(
        &self,
        buf: &mut BytesMut,
        max: usize,
        state: &mut DecodeState,
    ) -> Result<Option<Frame>, FrameError> {
        (**self).decode_resume(buf, max, state)
    }

    fn decode_inner(&self, frame: Frame) -> Result<Frame, FrameError> {
        (**self).decode_inner(frame)
    }

    fn encode(
        &self,
        header: Option<&Header>,
        dst: &mut BytesMut,
        payload: &mut PayloadWriter<'_>,
    ) -> Result<(), FrameError> {
        (**self).encode(header, dst, payload)
    }

    fn header_format(&self) -> Option<HeaderFormat> {
        (**self).header_format()
    }
}

/// A framing a server can recognise from a connection's first bytes, for
/// framings beyond the built-in ones (`ServerBuilder::with_framing`).
pub trait DetectFraming: FrameCodec {
    /// Whether a connection starting with `first` uses this framing. The
    /// server gives up on [`Match::NeedMore`] after 64 bytes.
    fn detect(&self, first: &[u8]) -> Match;
}

/// Kitex TTHeader or Apache THeader frames ([`crate::ttheader`]).
///
/// Encoding with no header writes an empty one of this format (protocol
/// id binary, sequence id 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtHeaderCodec {
    format: HeaderFormat,
}

impl TtHeaderCodec {
    /// Frames of `format`.
    pub const fn new(format: HeaderFormat) -> Self {
        Self { format }
    }
}

impl FrameCodec for TtHeaderCodec {
    fn decode(&self, buf: &mut BytesMut, max: usize) -> Result<Option<Frame>, FrameError> {
        Ok(ttheader::decode(buf, max)?.map(|(h, payload)| Frame {
            header: Some(h),
            payload,
        }))
    }

    fn decode_inner(&self, frame: Frame) -> Result<Frame, FrameError> {
        let (h, payload) = ttheader::decode_frame(frame.payload)?;
        Ok(Frame {
            header: Some(h),
            payload,
        })
    }

    fn encode(
        &self,
        header: Option<&Header>,
        dst: &mut BytesMut,
        payload: &mut PayloadWriter<'_>,
    ) -> Result<(), FrameError> {
        let start = match header {
            Some(h) => ttheader::encode(h, dst)?,
            None => ttheader::encode(&Header::new(self.format, 0, 0), dst)?,
        };
        payload(dst)?;
        ttheader::finish(dst, start)?;
        Ok(())
    }

    fn header_format(&self) -> Option<HeaderFormat> {
        Some(self.format)
    }
}

/// Framed: a 4-byte big-endian length, then the message ([`framed`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FramedCodec;

impl FrameCodec for FramedCodec {
    fn decode(&self, buf: &mut BytesMut, max: usize) -> Result<Option<Frame>, FrameError> {
        Ok(framed::decode(buf, max)?.map(Frame::plain))
    }

    fn decode_inner(&self, mut frame: Frame) -> Result<Frame, FrameError> {
        let p = &frame.payload;
        let len = match p.get(..4) {
            Some(l) => u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize,
            None => return Err(FrameError::Malformed("inner frame shorter than its length")),
        };
        if len != p.len() - 4 {
            return Err(FrameError::Malformed(
                "inner frame length differs from the outer frame's payload",
            ));
        }
        frame.payload.advance(4);
        Ok(frame)
    }

    fn encode(
        &self,
        _: Option<&Header>,
        dst: &mut BytesMut,
        payload: &mut PayloadWriter<'_>,
    ) -> Result<(), FrameError> {
        let start = framed::begin(dst);
        payload(dst)?;
        framed::finish(dst, start)
    }
}

/// Buffered: messages back to back, their ends found by the message
/// protocol `P` ([`buffered`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferedCodec<P> {
    proto: P,
}

impl<P: MessageCodec> BufferedCodec<P> {
    /// Unframed messages of `proto`.
    pub fn new(proto: P) -> Self {
        Self { proto }
    }
}

impl<P: MessageCodec> FrameCodec for BufferedCodec<P> {
    fn decode(&self, buf: &mut BytesMut, max: usize) -> Result<Option<Frame>, FrameError> {
        Ok(buffered::decode(buf, &self.proto, max)?.map(Frame::plain))
    }

    fn decode_resume(
        &self,
        buf: &mut BytesMut,
        max: usize,
        state: &mut DecodeState,
    ) -> Result<Option<Frame>, FrameError> {
        Ok(buffered::decode_resume(buf, &self.proto, max, state)?.map(Frame::plain))
    }

    fn decode_inner(&self, frame: Frame) -> Result<Frame, FrameError> {
        Ok(frame)
    }

    fn encode(
        &self,
        _: Option<&Header>,
        dst: &mut BytesMut,
        payload: &mut PayloadWriter<'_>,
    ) -> Result<(), FrameError> {
        payload(dst)
    }
}

/// `Outer(Inner(message))`: each frame of `Outer` carries exactly one frame
/// of `Inner`, e.g. TTHeader around Framed (Kitex's "TTHeaderFramed",
/// volo-thrift's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layered<O, I> {
    outer: O,
    inner: I,
}

impl<O: FrameCodec, I: FrameCodec> Layered<O, I> {
    /// `outer` around `inner`.
    pub fn new(outer: O, inner: I) -> Self {
        Self { outer, inner }
    }
}

impl<O: FrameCodec, I: FrameCodec> FrameCodec for Layered<O, I> {
    fn decode(&self, buf: &mut BytesMut, max: usize) -> Result<Option<Frame>, FrameError> {
        match self.outer.decode(buf, max)? {
            Some(f) => self.inner.decode_inner(f).map(Some),
            None => Ok(None),
        }
    }

    fn decode_resume(
        &self,
        buf: &mut BytesMut,
        max: usize,
        state: &mut DecodeState,
    ) -> Result<Option<Frame>, FrameError> {
        match self.outer.decode_resume(buf, max, state)? {
            Some(f) => self.inner.decode_inner(f).map(Some),
            None => Ok(None),
        }
    }

    fn decode_inner(&self, frame: Frame) -> Result<Frame, FrameError> {
        self.inner.decode_inner(self.outer.decode_inner(frame)?)
    }

    fn encode(
        &self,
        header: Option<&Header>,
        dst: &mut BytesMut,
        payload: &mut PayloadWriter<'_>,
    ) -> Result<(), FrameError> {
        let inner = &self.inner;
        self.outer
            .encode(header, dst, &mut |d| inner.encode(header, d, payload))
    }

    fn header_format(&self) -> Option<HeaderFormat> {
        self.outer.header_format().or(self.inner.header_format())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::thrift::Protocol;

    fn stacks() -> Vec<Box<dyn FrameCodec>> {
        vec![
            Box::new(TtHeaderCodec::new(HeaderFormat::TtHeader)),
            Box::new(TtHeaderCodec::new(HeaderFormat::THeader)),
            Box::new(FramedCodec),
            Box::new(Layered::new(
                TtHeaderCodec::new(HeaderFormat::TtHeader),
                FramedCodec,
            )),
            Box::new(Layered::new(FramedCodec, FramedCodec)),
        ]
    }

    #[test]
    fn ttheader_around_framed_writes_both_lengths() {
        let c = Layered::new(TtHeaderCodec::new(HeaderFormat::TtHeader), FramedCodec);
        let h = Header::new(HeaderFormat::TtHeader, 0, 7);
        let mut out = BytesMut::new();
        c.encode(Some(&h), &mut out, &mut |d| {
            d.extend_from_slice(b"\x80\x01abc");
            Ok(())
        })
        .unwrap();
        let (got, payload) = ttheader::decode_frame(out.clone().freeze()).unwrap();
        assert_eq!(got.seq_id, 7);
        assert_eq!(&payload[..], b"\0\0\0\x05\x80\x01abc");
        let f = c.decode(&mut out, 1 << 20).unwrap().unwrap();
        assert_eq!(&f.payload[..], b"\x80\x01abc");
        assert!(out.is_empty());
    }

    #[test]
    fn an_inner_length_that_disagrees_is_an_error() {
        let outer = FramedCodec;
        let mut out = BytesMut::new();
        outer
            .encode(None, &mut out, &mut |d| {
                d.extend_from_slice(b"\0\0\0\x09abc");
                Ok(())
            })
            .unwrap();
        let c = Layered::new(FramedCodec, FramedCodec);
        assert!(matches!(
            c.decode(&mut out, 1 << 20),
            Err(FrameError::Malformed(_))
        ));
        let short = Frame::plain(Bytes::from_static(b"\0\0"));
        assert!(FramedCodec.decode_inner(short).is_err());
    }

    #[test]
    fn buffered_asks_the_protocol_for_the_end() {
        let c = BufferedCodec::new(Protocol::Binary);
        // A strict binary call "m" with an empty struct, then a partial one.
        let msg = b"\x80\x01\x00\x01\x00\x00\x00\x01m\x00\x00\x00\x01\x00";
        let mut buf = BytesMut::from(&msg[..]);
        buf.extend_from_slice(&msg[..5]);
        assert_eq!(
            &c.decode(&mut buf, 1 << 20).unwrap().unwrap().payload[..],
            msg
        );
        assert_eq!(c.decode(&mut buf, 1 << 20), Ok(None));
    }

    #[test]
    fn buffered_resumes_its_walk_from_read_to_read() {
        // The codec as a driver holds it; a call "m" whose struct holds a
        // list<string> of 20 000 strings, then a second call, trickled in
        // 512-byte reads.
        let c: std::sync::Arc<dyn FrameCodec> =
            crate::transport::Framing::Buffered.codec(Protocol::Binary);
        let mut msg = b"\x80\x01\x00\x01\x00\x00\x00\x01m\x00\x00\x00\x01\x0f\x00\x01\x0b".to_vec();
        msg.extend_from_slice(&20_000u32.to_be_bytes());
        for _ in 0..20_000 {
            msg.extend_from_slice(b"\x00\x00\x00\x03abc");
        }
        msg.push(0);
        let second = b"\x80\x01\x00\x01\x00\x00\x00\x01m\x00\x00\x00\x02\x00";
        let mut wire = msg.clone();
        wire.extend_from_slice(second);
        let mut state = DecodeState::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for chunk in wire.chunks(512) {
            buf.extend_from_slice(chunk);
            while let Some(f) = c.decode_resume(&mut buf, 1 << 20, &mut state).unwrap() {
                got.push(f.payload);
            }
        }
        assert_eq!(
            got,
            vec![Bytes::from(msg.clone()), Bytes::from_static(second)]
        );
        assert!(buf.is_empty());
        // Walked once (a value cut by a read is read again from its start):
        // from byte 0 after every read, about 280 times.
        let walked = state.scan.walked;
        assert!(
            (wire.len()..2 * wire.len()).contains(&walked),
            "walked {walked} of {} bytes",
            wire.len()
        );
    }

    proptest! {
        #[test]
        fn every_stack_roundtrips(payload in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..400) {
            for c in stacks() {
                let mut out = BytesMut::new();
                c.encode(None, &mut out, &mut |d| { d.extend_from_slice(&payload); Ok(()) }).unwrap();
                let whole = out.len();
                let mut part = out.split_to(cut.min(whole));
                if part.len() < whole {
                    prop_assert_eq!(c.decode(&mut part, 1 << 20), Ok(None));
                }
                part.unsplit(out);
                let f = c.decode(&mut part, 1 << 20).unwrap().unwrap();
                prop_assert_eq!(&f.payload[..], &payload[..]);
                prop_assert_eq!(f.header.is_some(), c.header_format().is_some());
                prop_assert!(part.is_empty());
            }
        }

        #[test]
        fn every_stack_survives_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for c in stacks() {
                let mut buf = BytesMut::from(&bytes[..]);
                while let Ok(Some(_)) = c.decode(&mut buf, 4096) {}
            }
        }
    }
}
