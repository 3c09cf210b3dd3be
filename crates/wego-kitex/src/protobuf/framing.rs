//! The two framings Kitex Protobuf travels in: TTHeader (Kitex's default)
//! and Framed (a 4-byte length), with detection from the first bytes.

use bytes::{Bytes, BytesMut};

use super::codec;
use crate::transport::framed;
use crate::ttheader::{self, Header, HeaderFormat, PROTOCOL_KITEX_PROTOBUF, TTHEADER_MAGIC};

/// How messages are framed on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtobufFraming {
    /// Kitex TTHeader, protocol id Kitex Protobuf.
    TtHeader,
    /// A 4-byte big-endian length, then the payload.
    Framed,
}

/// Detects the framing from a connection's first bytes: `None` while fewer
/// than 6 bytes are buffered or when neither matches.
pub(crate) fn detect(buf: &[u8]) -> Option<ProtobufFraming> {
    let b = buf.get(4..8)?;
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
    match framing {
        ProtobufFraming::TtHeader => match ttheader::decode(buf, max) {
            Ok(Some((h, p))) => Ok(Some((Some(h), p))),
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::debug!(error = %e, "bad ttheader frame");
                Err(())
            }
        },
        ProtobufFraming::Framed => match framed::decode(buf, max) {
            Ok(Some(p)) => Ok(Some((None, p))),
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::debug!(error = %e, "bad frame");
                Err(())
            }
        },
    }
}

/// Frames `payload`; a TTHeader reply copies the request header's format,
/// flags and sequence id, or uses `request` as the header for a call.
pub(crate) fn encode(
    framing: ProtobufFraming,
    header: Option<&Header>,
    payload: &[u8],
    out: &mut BytesMut,
) -> Result<(), ()> {
    match framing {
        ProtobufFraming::TtHeader => {
            let h = match header {
                Some(h) => {
                    let mut r = Header::new(h.format, PROTOCOL_KITEX_PROTOBUF, h.seq_id);
                    r.flags = h.flags;
                    r.int_info = h.int_info.clone();
                    r.str_info = h.str_info.clone();
                    r
                }
                None => Header::new(HeaderFormat::TtHeader, PROTOCOL_KITEX_PROTOBUF, 0),
            };
            let start = ttheader::encode(&h, out).map_err(|_| ())?;
            out.extend_from_slice(payload);
            ttheader::finish(out, start).map_err(|_| ())
        }
        ProtobufFraming::Framed => {
            let start = framed::begin(out);
            out.extend_from_slice(payload);
            framed::finish(out, start).map_err(|_| ())
        }
    }
}
