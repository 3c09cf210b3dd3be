//! The sans-IO HTTP/1.1 codec the server is built on.
//!
//! Bytes in, messages or errors out: nothing here names a socket, a runtime
//! or a clock (the [`DateCache`] is handed the time by its caller), so every
//! rule is testable from a byte array.
//!
//! - [`parse_request_head`]: a request line and header block into
//!   [`RequestHead`] (an `http::request::Parts` plus how the body is framed
//!   and what the connection does next), enforcing [`HeadLimits`] and
//!   rejecting every request-smuggling shape of RFC 9112 with a
//!   [`ParseError`] that names the status code to answer.
//! - [`BodyDecoder`]: `Content-Length` and chunked bodies, trailers included.
//! - [`encode_response_head`], [`encode_chunk`], [`encode_last_chunk`]: the
//!   response side.
//! - [`encode_request_head`] and [`parse_response_head`] (with
//!   [`ResponseLimits`]): the client's side of the same exchange.
//!
//! # Stability
//!
//! This module is public so that fuzz targets and benchmarks can drive the
//! codec directly. Its items may change in minor releases.

mod chunked;
mod date;
mod decoded;
mod decoder;
mod error;
mod host;
mod request;
mod request_head;
mod response;
mod response_head;

pub use chunked::{ChunkedDecoder, encode_chunk, encode_last_chunk};
pub(crate) use chunked::{encode_chunk_size, encode_last_chunk_cased};
pub use date::DateCache;
pub use decoded::Decoded;
pub use decoder::BodyDecoder;
pub use error::{ChunkError, ParseError};
pub use request::{BodyFraming, HeadLimits, RequestHead, parse_request_head};
pub(crate) use request::{HeadInfo, parse_request_head_into};
pub use request_head::{RequestFraming, encode_request_head};
pub(crate) use response::may_have_body;
pub use response::{ResponseContext, ResponseFraming, encode_response_head};
pub use response_head::{
    ResponseBodyFraming, ResponseHead, ResponseLimits, ResponseParseError, parse_response_head,
};

#[cfg(test)]
mod tests;
