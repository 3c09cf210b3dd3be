//! Parse errors of the HTTP/1.1 codec and the status each one answers with.

use http::StatusCode;

/// Why a request head was rejected. Each kind maps to the status code the
/// server answers with ([`status`](Self::status)); the connection is closed
/// after every one of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The request line is longer than the limit (414).
    #[error("request line longer than {limit} bytes")]
    RequestLineTooLong {
        /// The configured limit.
        limit: usize,
    },
    /// The header block is larger than the limit (431).
    #[error("request head larger than {limit} bytes")]
    HeadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// More header fields than the limit (431).
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The method is not a valid token (400).
    #[error("invalid method token")]
    Method,
    /// The request target is not a valid URI (400).
    #[error("invalid request target")]
    Target,
    /// An HTTP version other than 1.0 or 1.1 (505).
    #[error("unsupported http version")]
    Version,
    /// The request line is malformed (400).
    #[error("malformed request line")]
    RequestLine,
    /// A header name is invalid: whitespace before the colon, a control
    /// character, obs-fold (400).
    #[error("invalid header name")]
    HeaderName,
    /// A header value contains NUL, a bare CR or another forbidden byte (400).
    #[error("invalid header value")]
    HeaderValue,
    /// A line ends in a bare LF instead of CRLF (400).
    #[error("bare lf line ending")]
    BareLf,
    /// An HTTP/1.1 request without exactly one `Host` header (400).
    #[error("missing or duplicate host header")]
    Host,
    /// A `Host` value that is not `uri-host [":" port]` (RFC 9112 §3.2,
    /// RFC 3986 §3.2.2; 400).
    #[error("invalid host header value")]
    HostValue,
    /// A `Content-Length` that is not a decimal number, overflows, or
    /// differs between duplicates (400).
    #[error("invalid content-length")]
    ContentLength,
    /// `Content-Length` and `Transfer-Encoding` together (400).
    #[error("both content-length and transfer-encoding")]
    ContentLengthAndTransferEncoding,
    /// A `Transfer-Encoding` whose last coding is not `chunked`, that repeats
    /// `chunked`, or that is sent with HTTP/1.0 (400).
    #[error("invalid transfer-encoding")]
    TransferEncoding,
    /// A transfer coding other than `chunked` before it (501).
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// An `Expect` other than `100-continue` (417).
    #[error("unsupported expectation")]
    Expectation,
}

impl ParseError {
    /// The status code the server answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::RequestLineTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::HeadTooLarge { .. } | Self::TooManyHeaders { .. } => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Self::Version => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            Self::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            Self::Expectation => StatusCode::EXPECTATION_FAILED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Why a chunked body was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// The chunk size is not hexadecimal or is empty.
    #[error("invalid chunk size")]
    Size,
    /// The chunk size does not fit in 64 bits, or has more than 16 hex
    /// digits (leading zeros included).
    #[error("chunk size overflows")]
    SizeOverflow,
    /// A chunk extension contains a forbidden byte or is too long.
    #[error("invalid chunk extension")]
    Extension,
    /// A chunk's data is not followed by CRLF, or a line ends in bare LF.
    #[error("missing crlf after chunk")]
    Crlf,
    /// The trailer section is malformed.
    #[error("invalid trailer section")]
    Trailers,
    /// The trailer section is larger than the limit.
    #[error("trailer section larger than {limit} bytes")]
    TrailersTooLarge {
        /// The configured limit.
        limit: usize,
    },
}
