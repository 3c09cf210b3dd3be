//! Request body decoding: `Content-Length` or chunked.

use bytes::BytesMut;

use super::chunked::ChunkedDecoder;
use super::decoded::Decoded;
use super::error::ChunkError;
use super::request::BodyFraming;

/// A decoder for the body that follows a request head.
#[derive(Debug, Clone)]
pub enum BodyDecoder {
    /// This many bytes remain.
    Length(u64),
    /// A chunked body.
    Chunked(ChunkedDecoder),
}

impl BodyDecoder {
    /// The decoder for `framing`; chunked trailers may be `max_trailers`
    /// bytes long.
    pub fn new(framing: BodyFraming, max_trailers: usize) -> Self {
        match framing {
            BodyFraming::Length(n) => Self::Length(n),
            BodyFraming::Chunked => Self::Chunked(ChunkedDecoder::new(max_trailers)),
            BodyFraming::Empty => Self::Length(0),
        }
    }

    /// Returns true once the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        match self {
            Self::Length(n) => *n == 0,
            Self::Chunked(c) => c.is_done(),
        }
    }

    /// Decodes the next piece from the front of `buf`; `Ok(None)` means more
    /// input is needed. See [`ChunkedDecoder::decode`].
    ///
    /// # Errors
    ///
    /// A [`ChunkError`] for a malformed chunked body.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ChunkError> {
        match self {
            Self::Length(0) => Ok(Some(Decoded::End)),
            Self::Length(remaining) => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                *remaining -= n as u64;
                Ok(Some(Decoded::Data(buf.split_to(n).freeze())))
            }
            Self::Chunked(c) => c.decode(buf),
        }
    }
}
