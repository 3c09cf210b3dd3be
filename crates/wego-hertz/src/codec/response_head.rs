//! Response heads, as a client reads them: the status line and header
//! block, parsed with `httparse`, and the body framing RFC 9112 §6.3 derives
//! from them.
//!
//! The framing rules, in order: a response to `HEAD`, a 1xx, 204 or 304 has
//! no body (§6.3 rule 1); `Transfer-Encoding` ending in `chunked` is chunked
//! and any other transfer coding runs until close (rule 4, `Content-Length`
//! ignored and the connection not reused, since the two headers together
//! are a smuggling shape); a valid `Content-Length` gives the length
//! (rule 5), and differing or malformed values are an error (rule 5);
//! otherwise the body runs until the server closes (rule 8).

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};

/// Size limits on a response head. Exceeding one is an error, never an
/// allocation: the parser looks at no more than `max_head` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseLimits {
    /// Largest head, status line and headers together (default 64 KiB).
    pub max_head: usize,
    /// Most header fields (default 100).
    pub max_headers: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_head: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// How the body after a response head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseBodyFraming {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
#[non_exhaustive]
pub struct ResponseHead {
    /// Status, version and headers.
    pub parts: http::response::Parts,
    /// How the body is framed.
    pub framing: ResponseBodyFraming,
    /// Whether the connection may carry another request after this
    /// response's body (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only
    /// with `Connection: keep-alive`; never when the body runs until close).
    pub keep_alive: bool,
}

/// Why a response head was rejected. The connection is unusable after
/// every one of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseParseError {
    /// The head is larger than the limit.
    #[error("response head larger than {limit} bytes")]
    HeadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// More header fields than the limit.
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The status line is malformed or the status code is not three digits
    /// from 100 to 999.
    #[error("malformed status line")]
    StatusLine,
    /// An HTTP version other than 1.0 or 1.1.
    #[error("unsupported http version")]
    Version,
    /// A header name is invalid.
    #[error("invalid header name")]
    HeaderName,
    /// A header value contains a forbidden byte.
    #[error("invalid header value")]
    HeaderValue,
    /// A `Content-Length` that is not a decimal number, overflows, or
    /// differs between duplicates.
    #[error("invalid content-length")]
    ContentLength,
}

/// Header fields parsed with stack storage; a head with more is parsed
/// again with heap storage for up to `max_headers` fields.
const STACK_HEADERS: usize = 32;

/// Parses one response head from the front of `buf`.
///
/// `head_request` says the request was `HEAD`, whose response has no body
/// whatever its headers say. Returns `Ok(None)` when `buf` holds no complete
/// head yet (read more and call again), and `Ok(Some(head))` after removing
/// the head's bytes from `buf`; the bytes after it (the body) stay.
/// Interim (1xx) responses are returned like any other; the caller skips
/// them.
///
/// # Errors
///
/// A [`ResponseParseError`] for a malformed or oversized head.
pub fn parse_response_head(
    buf: &mut BytesMut,
    limits: &ResponseLimits,
    head_request: bool,
) -> Result<Option<ResponseHead>, ResponseParseError> {
    let window = &buf[..buf.len().min(limits.max_head)];
    let first = limits.max_headers.min(STACK_HEADERS);
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let parsed = match parse_with(window, &mut stack[..first], limits) {
        Err(ResponseParseError::TooManyHeaders { .. }) if limits.max_headers > first => {
            let mut heap = Vec::new();
            heap.resize_with(limits.max_headers, MaybeUninit::uninit);
            parse_with(window, &mut heap, limits)?
        }
        r => r?,
    };
    let Some((len, head)) = parsed else {
        return Ok(None);
    };
    let _ = buf.split_to(len);
    Ok(Some(frame(head, head_request)?))
}

/// What the first pass extracts before the framing rules run.
struct Parsed {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
}

fn parse_with<'b>(
    window: &'b [u8],
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
    limits: &ResponseLimits,
) -> Result<Option<(usize, Parsed)>, ResponseParseError> {
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, window, slots)
    {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if window.len() >= limits.max_head => {
            return Err(ResponseParseError::HeadTooLarge {
                limit: limits.max_head,
            });
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(map_httparse(e, limits)),
    };
    let version = match resp.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ResponseParseError::Version),
    };
    let status = resp
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(ResponseParseError::StatusLine)?;
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| ResponseParseError::HeaderName)?;
        let value =
            HeaderValue::from_bytes(h.value).map_err(|_| ResponseParseError::HeaderValue)?;
        headers.append(name, value);
    }
    Ok(Some((
        len,
        Parsed {
            status,
            version,
            headers,
        },
    )))
}

fn map_httparse(e: httparse::Error, limits: &ResponseLimits) -> ResponseParseError {
    match e {
        httparse::Error::TooManyHeaders => ResponseParseError::TooManyHeaders {
            limit: limits.max_headers,
        },
        httparse::Error::Version => ResponseParseError::Version,
        httparse::Error::HeaderName => ResponseParseError::HeaderName,
        httparse::Error::HeaderValue => ResponseParseError::HeaderValue,
        _ => ResponseParseError::StatusLine,
    }
}

fn frame(parsed: Parsed, head_request: bool) -> Result<ResponseHead, ResponseParseError> {
    let Parsed {
        status,
        version,
        headers,
    } = parsed;
    let mut keep_alive = match version {
        Version::HTTP_11 => !has_token(&headers, b"close"),
        _ => has_token(&headers, b"keep-alive") && !has_token(&headers, b"close"),
    };
    let no_body = head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if no_body {
        ResponseBodyFraming::Empty
    } else if headers.contains_key(TRANSFER_ENCODING) {
        if headers.contains_key(CONTENT_LENGTH) {
            keep_alive = false;
        }
        if last_coding_is_chunked(&headers) {
            ResponseBodyFraming::Chunked
        } else {
            ResponseBodyFraming::UntilClose
        }
    } else {
        match content_length(&headers)? {
            Some(0) => ResponseBodyFraming::Empty,
            Some(n) => ResponseBodyFraming::Length(n),
            None => ResponseBodyFraming::UntilClose,
        }
    };
    if framing == ResponseBodyFraming::UntilClose {
        keep_alive = false;
    }
    let mut parts = http::Response::new(()).into_parts().0;
    parts.status = status;
    parts.version = version;
    parts.headers = headers;
    Ok(ResponseHead {
        parts,
        framing,
        keep_alive,
    })
}

fn tokens(value: &HeaderValue) -> impl Iterator<Item = &[u8]> {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

fn has_token(headers: &HeaderMap, token: &[u8]) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(tokens)
        .any(|t| t.eq_ignore_ascii_case(token))
}

fn last_coding_is_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(tokens)
        .last()
        .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"))
}

/// RFC 9110 §8.6: a list of identical values is the value; anything else
/// is an error.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ResponseParseError> {
    let mut found = None;
    for value in &headers.get_all(CONTENT_LENGTH) {
        for digits in value.as_bytes().split(|&b| b == b',') {
            let n = parse_decimal(digits.trim_ascii()).ok_or(ResponseParseError::ContentLength)?;
            match found {
                Some(prev) if prev != n => return Err(ResponseParseError::ContentLength),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<ResponseHead>, ResponseParseError> {
        parse_response_head(
            &mut BytesMut::from(bytes),
            &ResponseLimits::default(),
            false,
        )
    }

    fn framing(bytes: &[u8]) -> (ResponseBodyFraming, bool) {
        let head = parse(bytes).unwrap().unwrap();
        (head.framing, head.keep_alive)
    }

    #[test]
    fn parses_a_head_and_leaves_the_body() {
        let mut buf =
            BytesMut::from(&b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabc"[..]);
        let head = parse_response_head(&mut buf, &ResponseLimits::default(), false)
            .unwrap()
            .unwrap();
        assert_eq!(head.parts.status, StatusCode::CREATED);
        assert_eq!(head.parts.version, Version::HTTP_11);
        assert_eq!(head.parts.headers["x-a"], "b");
        assert_eq!(head.framing, ResponseBodyFraming::Length(3));
        assert!(head.keep_alive);
        assert_eq!(&buf[..], b"abc");
    }

    #[test]
    fn partial_head_needs_more() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
        assert!(parse(b"").unwrap().is_none());
    }

    #[test]
    fn framing_follows_rfc_9112_section_6_3() {
        use ResponseBodyFraming::*;
        assert_eq!(
            framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            (Chunked, true)
        );
        assert_eq!(
            framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
            (UntilClose, false)
        );
        assert_eq!(
            framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            (Chunked, false)
        );
        assert_eq!(framing(b"HTTP/1.1 200 OK\r\n\r\n"), (UntilClose, false));
        assert_eq!(
            framing(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            (Empty, true)
        );
        assert_eq!(framing(b"HTTP/1.1 204 No Content\r\n\r\n"), (Empty, true));
        assert_eq!(
            framing(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"),
            (Empty, true)
        );
        assert_eq!(framing(b"HTTP/1.1 100 Continue\r\n\r\n"), (Empty, true));
        assert_eq!(
            framing(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"),
            (Length(5), true)
        );
        let head = parse_response_head(
            &mut BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"[..]),
            &ResponseLimits::default(),
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(head.framing, Empty);
    }

    #[test]
    fn connection_reuse_depends_on_version_and_connection() {
        assert!(!framing(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").1);
        assert!(!framing(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").1);
        assert!(
            framing(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").1
        );
        assert!(
            !framing(
                b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n"
            )
            .1
        );
    }

    #[test]
    fn rejects_malformed_heads() {
        let bad: &[(&[u8], ResponseParseError)] = &[
            (b"HTTP/1.1 2000 OK\r\n\r\n", ResponseParseError::StatusLine),
            (b"HTTP/1.1 abc OK\r\n\r\n", ResponseParseError::StatusLine),
            (b"HTTP/1.1 099 Low\r\n\r\n", ResponseParseError::StatusLine),
            (b"HTTP/2.0 200 OK\r\n\r\n", ResponseParseError::Version),
            (b"HTTX/1.1 200 OK\r\n\r\n", ResponseParseError::Version),
            (
                b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
                ResponseParseError::HeaderName,
            ),
            (
                b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
                ResponseParseError::HeaderValue,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                ResponseParseError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                ResponseParseError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                ResponseParseError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
                ResponseParseError::ContentLength,
            ),
        ];
        for (input, want) in bad {
            assert_eq!(
                parse(input).unwrap_err(),
                *want,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn enforces_head_size_and_header_count() {
        let limits = ResponseLimits {
            max_head: 64,
            max_headers: 3,
        };
        let mut long = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX: "[..]);
        long.extend_from_slice(&[b'a'; 100]);
        assert_eq!(
            parse_response_head(&mut long, &limits, false).unwrap_err(),
            ResponseParseError::HeadTooLarge { limit: 64 }
        );
        let mut many =
            BytesMut::from(&b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"[..]);
        assert_eq!(
            parse_response_head(&mut many, &limits, false).unwrap_err(),
            ResponseParseError::TooManyHeaders { limit: 3 }
        );
        // More fields than the stack holds, within the limit: parsed.
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..40 {
            head.push_str(&format!("X-{i}: v\r\n"));
        }
        head.push_str("\r\n");
        let got = parse(head.as_bytes()).unwrap().unwrap();
        assert_eq!(got.parts.headers.len(), 40);
    }

    mod props {
        use super::*;
        use crate::codec::{ResponseContext, encode_response_head};
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn server_heads_parse_back(status in 200u16..600,
                                       len in proptest::option::of(0u64..1_000_000),
                                       names in proptest::collection::vec("x-[a-z]{1,10}", 0..40),
                                       keep_alive: bool) {
                let status = StatusCode::from_u16(status).unwrap();
                let mut headers = HeaderMap::new();
                for (i, name) in names.iter().enumerate() {
                    headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from(i));
                }
                let mut ctx = ResponseContext::new(b"Thu, 01 Jan 1970 00:00:00 GMT");
                ctx.keep_alive = keep_alive;
                let mut wire = BytesMut::new();
                let (framing, open) = encode_response_head(status, &headers, len, &ctx, &mut wire);
                let limits = ResponseLimits::default();
                let head = parse_response_head(&mut wire, &limits, false).unwrap().unwrap();
                prop_assert!(wire.is_empty());
                prop_assert_eq!(head.parts.status, status);
                for name in &names {
                    prop_assert_eq!(head.parts.headers.get_all(name.as_str()).iter().count(),
                                    headers.get_all(name.as_str()).iter().count());
                }
                let want = match framing {
                    crate::codec::ResponseFraming::None => ResponseBodyFraming::Empty,
                    crate::codec::ResponseFraming::Length(0) => ResponseBodyFraming::Empty,
                    crate::codec::ResponseFraming::Length(n) => ResponseBodyFraming::Length(n),
                    crate::codec::ResponseFraming::Chunked => ResponseBodyFraming::Chunked,
                    crate::codec::ResponseFraming::UntilClose => ResponseBodyFraming::UntilClose,
                };
                prop_assert_eq!(head.framing, want);
                prop_assert_eq!(head.keep_alive, open && want != ResponseBodyFraming::UntilClose);
            }

            #[test]
            fn any_bytes_parse_or_fail_without_panicking(data in proptest::collection::vec(any::<u8>(), 0..512),
                                                         head_request: bool) {
                let limits = ResponseLimits { max_head: 256, max_headers: 8 };
                let mut buf = BytesMut::from(&data[..]);
                if let Ok(Some(head)) = parse_response_head(&mut buf, &limits, head_request) {
                    prop_assert!(buf.len() < data.len());
                    prop_assert!(head.framing != ResponseBodyFraming::UntilClose || !head.keep_alive);
                }
            }
        }
    }
}
