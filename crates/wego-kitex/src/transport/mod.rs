//! Framings (how a message's end is found) and first-bytes detection, sans-IO,
//! plus [`Prefixed`], which replays sniffed bytes in front of a connection.
//!
//! | framing | on the wire | found by |
//! |---------|-------------|----------|
//! | [`Framing::TtHeader`] | length, magic `0x1000`, header, payload | [`crate::ttheader`] |
//! | [`Framing::THeader`] | length, magic `0x0FFF`, header, payload | [`crate::ttheader`] |
//! | [`Framing::Framed`] | 4-byte big-endian length, payload | [`framed`] |
//! | [`Framing::Buffered`] | the bare message | [`buffered`] (parses the message to find its end) |

pub mod buffered;
mod detect;
pub mod framed;
mod prefixed;

pub use detect::{Detection, HTTP2_PREFACE, detect};
pub use prefixed::Prefixed;

use bytes::{Bytes, BytesMut};

use crate::thrift::{CodecError, Protocol};
use crate::ttheader::{self, Header, HeaderError};

/// Default maximum frame (or unframed message) size: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// How messages are delimited on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Framing {
    /// Kitex TTHeader (carries metainfo and sequence ids).
    TtHeader,
    /// Apache THeader.
    THeader,
    /// A 4-byte length prefix.
    Framed,
    /// No framing: messages back to back.
    Buffered,
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame exceeds the configured maximum.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The declared (or, unframed, the known) size; 0 when unknown.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A TTHeader/THeader error.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// An unframed message is malformed.
    #[error(transparent)]
    Thrift(#[from] CodecError),
}

/// Splits the next complete message off `buf` under `framing`: the
/// TTHeader/THeader header (if any) and the payload. `Ok(None)` means "need more".
///
/// # Errors
///
/// Any [`FrameError`]; the connection should be closed.
pub fn decode_frame(
    buf: &mut BytesMut,
    framing: Framing,
    proto: Protocol,
    max: usize,
) -> Result<Option<(Option<Header>, Bytes)>, FrameError> {
    Ok(match framing {
        Framing::TtHeader | Framing::THeader => {
            ttheader::decode(buf, max)?.map(|(h, p)| (Some(h), p))
        }
        Framing::Framed => framed::decode(buf, max)?.map(|p| (None, p)),
        Framing::Buffered => buffered::decode(buf, proto, max)?.map(|p| (None, p)),
    })
}
