//! What the body decoders yield: data, trailers or the end.

use bytes::Bytes;
use http::HeaderMap;

/// One piece of a decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decoded {
    /// Body bytes, shared with the input buffer.
    Data(Bytes),
    /// The trailer section of a chunked body.
    Trailers(HeaderMap),
    /// The body is complete; bytes after it belong to the next message.
    End,
}
