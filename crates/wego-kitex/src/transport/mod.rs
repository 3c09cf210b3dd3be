//! Framings (how a message's end is found) and first-bytes detection, sans-IO,
//! plus [`Prefixed`], which replays sniffed bytes in front of a connection.
//!
//! Framings are [`FrameCodec`]s that stack like layers ([`codec`]); a
//! [`Framing`] names a stack wego ships and builds it with [`Framing::codec`].
//!
//! | framing | on the wire | stack |
//! |---------|-------------|-------|
//! | [`Framing::TtHeader`] | length, magic `0x1000`, header, payload | [`TtHeaderCodec`] ([`crate::ttheader`]) |
//! | [`Framing::TtHeaderFramed`] | a TTHeader frame whose payload is a Framed frame | [`Layered`]`(`[`TtHeaderCodec`]`, `[`FramedCodec`]`)` |
//! | [`Framing::THeader`] | length, magic `0x0FFF`, header, payload | [`TtHeaderCodec`] |
//! | [`Framing::Framed`] | 4-byte big-endian length, payload | [`FramedCodec`] ([`framed`]) |
//! | [`Framing::Buffered`] | the bare message | [`BufferedCodec`] ([`buffered`]: the protocol finds its end) |

pub mod buffered;
pub mod codec;
pub(crate) mod detect;
pub mod framed;

pub use codec::{
    BufferedCodec, DetectFraming, Frame, FrameCodec, FramedCodec, Layered, Match, PayloadWriter,
    TtHeaderCodec,
};
pub use detect::{Detection, HTTP2_PREFACE, SNIFF_LIMIT, detect};
pub use wego_netpoll::net::Prefixed;

use std::sync::Arc;

use crate::thrift::{CodecError, Protocol};
use crate::ttheader::{HeaderError, HeaderFormat};

/// Default maximum frame (or unframed message) size: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// How messages are delimited on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Framing {
    /// Kitex TTHeader (carries metainfo and sequence ids).
    TtHeader,
    /// TTHeader around Framed: each TTHeader payload is itself a Framed
    /// frame (Kitex's "TTHeaderFramed", volo-thrift's default).
    TtHeaderFramed,
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
    /// A frame is malformed (a framing's own rule is broken).
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
}

impl Framing {
    /// The codec stack of this framing, for messages of `proto` (which
    /// only Buffered, having no lengths, needs).
    pub fn codec(self, proto: Protocol) -> Arc<dyn FrameCodec> {
        match self {
            Framing::TtHeader => Arc::new(TtHeaderCodec::new(HeaderFormat::TtHeader)),
            Framing::TtHeaderFramed => Arc::new(Layered::new(
                TtHeaderCodec::new(HeaderFormat::TtHeader),
                FramedCodec,
            )),
            Framing::THeader => Arc::new(TtHeaderCodec::new(HeaderFormat::THeader)),
            Framing::Framed => Arc::new(FramedCodec),
            Framing::Buffered => Arc::new(BufferedCodec::new(proto)),
        }
    }

    /// Whether replies can be paired with calls other than by order (the
    /// frames carry a header with a sequence id).
    pub fn has_header(self) -> bool {
        match self {
            Framing::TtHeader | Framing::TtHeaderFramed | Framing::THeader => true,
            Framing::Framed | Framing::Buffered => false,
        }
    }
}
