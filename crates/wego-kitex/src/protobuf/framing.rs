//! The two framings Kitex Protobuf travels in: TTHeader (Kitex's default)
//! and Framed (a 4-byte length), with detection from the first bytes.

use bytes::{Bytes, BytesMut};

use super::codec;
use crate::transport::{FrameCodec, FramedCodec, TtHeaderCodec};
use crate::ttheader::{Header, HeaderFormat, PROTOCOL_KITEX_PROTOBUF, TTHEADER_MAGIC};

/// How messages are framed on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtobufFraming {
    /// Kitex TTHeader, protocol id Kitex Protobuf.
    TtHeader,
    /// A 4-byte big-endian length, then the payload.
    Framed,
}

static TTHEADER: TtHeaderCodec = TtHeaderCodec::new(HeaderFormat::TtHeader);

impl ProtobufFraming {
    /// The frame codec of this framing.
    pub fn codec(self) -> &'static dyn FrameCodec {
        match self {
            ProtobufFraming::TtHeader => &TTHEADER,
            ProtobufFraming::Framed => &FramedCodec,
        }
    }
}

/// Bytes [`detect`] needs: a length, then the TTHeader magic or the first
/// word of a Kitex Protobuf payload.
pub(crate) const DETECT_LEN: usize = 8;

/// Detects the framing from a connection's first bytes: `None` while fewer
/// than [`DETECT_LEN`] bytes are buffered or when neither matches.
pub(crate) fn detect(buf: &[u8]) -> Option<ProtobufFraming> {
    let b = buf.get(4..DETECT_LEN)?;
    if u16::from_be_bytes([b[0], b[1]]) == TTHEADER_MAGIC {
        return Some(ProtobufFraming::TtHeader);
    }
    codec::is_protobuf(b).then_some(ProtobufFraming::Framed)
}

/// Splits one frame off `buf`: the TTHeader (if any) and the payload.
pub(crate) fn decode(
    framing: ProtobufFraming,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<(Option<Header>, Bytes)>, ()> {
    match framing.codec().decode(buf, max) {
        Ok(f) => Ok(f.map(|f| (f.header, f.payload))),
        Err(e) => {
            tracing::debug!(error = %e, ?framing, "bad frame");
            Err(())
        }
    }
}

/// Frames `payload`; a TTHeader reply copies the request header's format,
/// flags, sequence id and info, or a call gets an empty header.
pub(crate) fn encode(
    framing: ProtobufFraming,
    header: Option<&Header>,
    payload: &[u8],
    out: &mut BytesMut,
) -> Result<(), ()> {
    let h = match (framing, header) {
        (ProtobufFraming::TtHeader, Some(h)) => {
            let mut r = Header::new(h.format, PROTOCOL_KITEX_PROTOBUF, h.seq_id);
            r.flags = h.flags;
            r.int_info = h.int_info.clone();
            r.str_info = h.str_info.clone();
            Some(r)
        }
        (ProtobufFraming::TtHeader, None) => Some(Header::new(
            HeaderFormat::TtHeader,
            PROTOCOL_KITEX_PROTOBUF,
            0,
        )),
        (ProtobufFraming::Framed, _) => None,
    };
    framing
        .codec()
        .encode(h.as_ref(), out, &mut |d| {
            d.extend_from_slice(payload);
            Ok(())
        })
        .map_err(|_| ())
}
