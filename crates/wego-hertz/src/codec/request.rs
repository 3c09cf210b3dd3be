//! Request heads: the request line and header block, parsed with `httparse`
//! and checked against RFC 9112's framing rules.
//!
//! Every shape that lets two parsers disagree about where a message ends is
//! rejected here, before a byte of body is read: `Content-Length` with
//! `Transfer-Encoding` (§6.1), differing `Content-Length` values (§6.3),
//! a `Transfer-Encoding` that does not end in `chunked` (§6.3), obs-fold and
//! whitespace before the colon (§5.1, §5.2), control characters in names and
//! values, bare LF line endings (§2.2), and HTTP/1.1 without one `Host`
//! (§3.2).

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};

use super::error::ParseError;
use crate::recycle;

/// Size limits on a request head. Exceeding one is an error, never an
/// allocation: the parser looks at no more than `max_head` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeadLimits {
    /// Longest request line, CRLF excluded (default 8 KiB; past it: 414).
    pub max_request_line: usize,
    /// Largest head, request line and headers together (default 64 KiB;
    /// past it: 431).
    pub max_head: usize,
    /// Most header fields (default 100; past it: 431).
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            max_request_line: 8 * 1024,
            max_head: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyFraming {
    /// No body (no `Content-Length`, or `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestHead {
    /// Method, URI, version and headers.
    pub parts: http::request::Parts,
    /// How the body is framed.
    pub framing: BodyFraming,
    /// Whether the connection may carry another request after this one
    /// (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`).
    pub keep_alive: bool,
    /// The client sent `Expect: 100-continue` (HTTP/1.1 only) and waits for
    /// `100 Continue` before sending the body.
    pub expect_continue: bool,
    /// The head has an `Upgrade` field: the request may ask to switch
    /// protocols (a WebSocket handshake, `h2c`). A head without one skips
    /// every upgrade check.
    pub upgrade: bool,
}

impl RequestHead {
    /// A head of `parts` with what the parser learnt of it.
    pub(crate) fn new(parts: http::request::Parts, info: HeadInfo) -> Self {
        Self {
            parts,
            framing: info.framing,
            keep_alive: info.keep_alive,
            expect_continue: info.expect_continue,
            upgrade: info.upgrade,
        }
    }
}

/// What [`parse_request_head_into`] learns of a head besides its method,
/// target, version and fields: [`RequestHead`]'s other fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadInfo {
    pub(crate) framing: BodyFraming,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
    pub(crate) upgrade: bool,
}

/// Header fields parsed with stack storage; a head with more is parsed
/// again with heap storage for up to `max_headers` fields.
const STACK_HEADERS: usize = 32;

/// Byte ranges of one header field inside the head.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

/// What the first pass (httparse over borrowed bytes) records, so that the
/// second pass can build `http` types from the frozen head without copying.
#[derive(Debug, Default)]
struct Raw {
    len: usize,
    method: (usize, usize),
    target: (usize, usize),
    version: u8,
    count: usize,
}

/// Parses one request head from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` holds no complete head yet (read more and
/// call again), and `Ok(Some(head))` after removing the head's bytes from
/// `buf`; the bytes after it (a body, or a pipelined request) stay. Header
/// values and the target share memory with the head's bytes instead of
/// being copied.
///
/// # Errors
///
/// A [`ParseError`] for any malformed, ambiguous or oversized head; its
/// [`status`](ParseError::status) is the answer to send before closing.
pub fn parse_request_head(
    buf: &mut BytesMut,
    limits: &HeadLimits,
) -> Result<Option<RequestHead>, ParseError> {
    let mut req = Request::new(());
    let info = parse_request_head_into(buf, limits, &mut req)?;
    Ok(info.map(|info| RequestHead::new(req.into_parts().0, info)))
}

/// [`parse_request_head`] into a request the caller made: its method,
/// target, version and header map are replaced by the head's (the map built
/// in one of the thread's recycled maps), its extensions and body are left
/// alone. The server parses
/// into the request it then hands to the service, so that the head is not
/// moved from the parser's frame to the request's (each move of a request's
/// parts is a 224-byte copy).
///
/// `Ok(None)` leaves `req` untouched; after an error its fields are
/// unspecified (a part of the head may have been written).
#[inline(always)]
pub(crate) fn parse_request_head_into<B>(
    buf: &mut BytesMut,
    limits: &HeadLimits,
    req: &mut Request<B>,
) -> Result<Option<HeadInfo>, ParseError> {
    // RFC 9112 §2.2: a server SHOULD ignore empty lines before the request line.
    let mut skip = 0;
    while buf[skip..].starts_with(b"\r\n") {
        skip += 2;
        if skip > limits.max_head {
            return Err(ParseError::HeadTooLarge {
                limit: limits.max_head,
            });
        }
    }
    if skip > 0 {
        let _ = buf.split_to(skip);
    }
    if buf.is_empty() {
        return Ok(None);
    }
    check_request_line(buf, limits)?;

    // Most requests carry a few dozen fields at most: parse with a small
    // array on the stack first, and only a head that overflows it is parsed
    // again with room for `max_headers` fields.
    let mut stack = [Span::default(); STACK_HEADERS];
    let first = limits.max_headers.min(STACK_HEADERS);
    let mut heap = Vec::new();
    let (raw, spans) = match first_pass(buf, limits, &mut stack[..first]) {
        Err(ParseError::TooManyHeaders { .. }) if limits.max_headers > first => {
            heap.resize(limits.max_headers, Span::default());
            (first_pass(buf, limits, &mut heap)?, &heap[..])
        }
        r => (r?, &stack[..first]),
    };
    let Some(raw) = raw else {
        return Ok(None);
    };
    let head = buf.split_to(raw.len).freeze();
    build(&head, &raw, &spans[..raw.count], req).map(Some)
}

/// RFC 9112 §3: the request line is checked on its own so that a long
/// target answers 414 rather than 431.
fn check_request_line(buf: &[u8], limits: &HeadLimits) -> Result<(), ParseError> {
    let scan = &buf[..buf.len().min(limits.max_request_line + 2)];
    match memchr::memchr(b'\n', scan) {
        Some(lf) => {
            let line = if lf > 0 && scan[lf - 1] == b'\r' {
                lf - 1
            } else {
                return Err(ParseError::BareLf);
            };
            if line > limits.max_request_line {
                return Err(ParseError::RequestLineTooLong {
                    limit: limits.max_request_line,
                });
            }
            Ok(())
        }
        None if buf.len() > limits.max_request_line + 1 => Err(ParseError::RequestLineTooLong {
            limit: limits.max_request_line,
        }),
        None => Ok(()),
    }
}

fn first_pass(
    buf: &[u8],
    limits: &HeadLimits,
    spans: &mut [Span],
) -> Result<Option<Raw>, ParseError> {
    // Offsets are kept as u32: a head is never looked at past 4 GiB.
    let window = &buf[..buf.len().min(limits.max_head).min(u32::MAX as usize)];
    // Uninitialised slots: httparse fills only what it parses, so a request
    // does not pay for clearing every slot.
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut heap = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if spans.len() <= STACK_HEADERS {
        &mut headers[..spans.len()]
    } else {
        heap.resize_with(spans.len(), MaybeUninit::uninit);
        &mut heap[..]
    };
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(window, slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= limits.max_head => {
            return Err(ParseError::HeadTooLarge {
                limit: limits.max_head,
            });
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(map_httparse(e, window, limits)),
    };
    let head = &window[..len];
    let base = window.as_ptr() as usize;
    let span = |s: &[u8]| (s.as_ptr() as usize - base, s.len());
    // The window is at most u32::MAX bytes long, so these never truncate.
    let span32 = |s: &[u8]| {
        let (start, len) = span(s);
        (start as u32, len as u32)
    };
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Err(ParseError::RequestLine);
    };
    // httparse accepts bare LF as a line ending; RFC 9112 §2.2 lets a
    // recipient do so, but a proxy in front of us may not: reject. A head's
    // line ends are the request line's (`check_request_line` saw its CRLF),
    // one after each field's value and the whitespace httparse trimmed off
    // it (a value holds no LF), and the empty line's at the very end: each
    // is looked at where it is, rather than scanning the head for LFs.
    if !head.ends_with(b"\r\n") {
        return Err(ParseError::BareLf);
    }
    let mut count = 0;
    for (slot, h) in spans.iter_mut().zip(req.headers.iter()) {
        let value = span32(h.value);
        if !ends_in_crlf(head, (value.0 + value.1) as usize) {
            return Err(ParseError::BareLf);
        }
        *slot = Span {
            name: span32(h.name.as_bytes()),
            value,
        };
        count += 1;
    }
    Ok(Some(Raw {
        len,
        method: span(method.as_bytes()),
        target: span(path.as_bytes()),
        version,
        count,
    }))
}

/// Whether the line whose content ends at `end` (before optional
/// whitespace) ends in CRLF.
fn ends_in_crlf(head: &[u8], end: usize) -> bool {
    let rest = head.get(end..).unwrap_or_default();
    let ws = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    rest[ws..].starts_with(b"\r\n")
}

fn map_httparse(e: httparse::Error, window: &[u8], limits: &HeadLimits) -> ParseError {
    match e {
        httparse::Error::HeaderName => ParseError::HeaderName,
        httparse::Error::HeaderValue => ParseError::HeaderValue,
        httparse::Error::NewLine => ParseError::HeaderValue,
        httparse::Error::TooManyHeaders => ParseError::TooManyHeaders {
            limit: limits.max_headers,
        },
        httparse::Error::Token => {
            let method_end = window
                .iter()
                .position(|&b| b == b' ')
                .unwrap_or(window.len());
            if method_end == 0 || !window[..method_end].iter().all(|&b| is_tchar(b)) {
                ParseError::Method
            } else {
                ParseError::Target
            }
        }
        httparse::Error::Version => {
            // "HTTP/" DIGIT "." DIGIT that is not 1.0 or 1.1 is a version we
            // do not speak (505); anything else is a malformed line (400).
            let line_end = window
                .iter()
                .position(|&b| b == b'\r')
                .unwrap_or(window.len());
            let line = &window[..line_end];
            let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
            match version {
                [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                    if major.is_ascii_digit() && minor.is_ascii_digit() =>
                {
                    ParseError::Version
                }
                _ => ParseError::RequestLine,
            }
        }
        _ => ParseError::RequestLine,
    }
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn build<B>(
    head: &Bytes,
    raw: &Raw,
    spans: &[Span],
    req: &mut Request<B>,
) -> Result<HeadInfo, ParseError> {
    let slice = |(start, len): (usize, usize)| head.slice(start..start + len);
    let method = Method::from_bytes(&head[raw.method.0..raw.method.0 + raw.method.1])
        .map_err(|_| ParseError::Method)?;
    let uri = Uri::from_maybe_shared(slice(raw.target)).map_err(|_| ParseError::Target)?;
    let version = if raw.version == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };

    // The map is built in place in the request, in one of the thread's
    // recycled maps (`crate::recycle`).
    let headers = req.headers_mut();
    recycle::clear_headers(headers);
    headers.reserve(spans.len());
    // Which framing-relevant fields are present, noted while building so
    // that most requests skip the map lookups below.
    let mut seen = Seen::default();
    for s in spans {
        let name =
            HeaderName::from_bytes(&head[range(s.name)]).map_err(|_| ParseError::HeaderName)?;
        if name == HOST {
            seen.host += 1;
            // RFC 9112 §3.2: an invalid Host value gets 400.
            if !super::host::is_valid_host(&head[range(s.value)]) {
                return Err(ParseError::HostValue);
            }
        } else if name == CONTENT_LENGTH {
            seen.length = true;
        } else if name == TRANSFER_ENCODING {
            seen.transfer_encoding = true;
        } else if name == CONNECTION {
            seen.connection = true;
        } else if name == EXPECT {
            seen.expect = true;
        } else if name == UPGRADE {
            seen.upgrade = true;
        }
        let value = HeaderValue::from_maybe_shared(head.slice(range(s.value)))
            .map_err(|_| ParseError::HeaderValue)?;
        headers.append(name, value);
    }

    let mut framing = BodyFraming::Empty;
    let length = if seen.length {
        content_length(headers)?
    } else {
        None
    };
    if seen.transfer_encoding {
        // RFC 9112 §6.1: TE in HTTP/1.0 is a sign of a confused intermediary.
        if version == Version::HTTP_10 {
            return Err(ParseError::TransferEncoding);
        }
        // RFC 9112 §6.1: both present is a smuggling attempt; reject.
        if length.is_some() {
            return Err(ParseError::ContentLengthAndTransferEncoding);
        }
        check_transfer_encoding(headers)?;
        framing = BodyFraming::Chunked;
    } else if let Some(n) = length
        && n > 0
    {
        framing = BodyFraming::Length(n);
    }

    // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in 1.0.
    if seen.host > 1 || (version == Version::HTTP_11 && seen.host == 0) {
        return Err(ParseError::Host);
    }

    let mut close = false;
    let mut keep_alive_token = false;
    let connection = seen.connection.then(|| headers.get_all(CONNECTION));
    for value in connection.iter().flatten() {
        for token in tokens(value) {
            if token.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                keep_alive_token = true;
            }
        }
    }
    let keep_alive = !close && (version == Version::HTTP_11 || keep_alive_token);

    let mut expect_continue = false;
    let expect = seen.expect.then(|| headers.get_all(EXPECT));
    for value in expect.iter().flatten() {
        if value.as_bytes().eq_ignore_ascii_case(b"100-continue") {
            // RFC 9110 §10.1.1: ignore 100-continue from HTTP/1.0 clients.
            expect_continue = version == Version::HTTP_11 && framing != BodyFraming::Empty;
        } else {
            return Err(ParseError::Expectation);
        }
    }

    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = version;
    Ok(HeadInfo {
        framing,
        keep_alive,
        expect_continue,
        upgrade: seen.upgrade,
    })
}

#[derive(Debug, Default)]
struct Seen {
    host: usize,
    length: bool,
    transfer_encoding: bool,
    connection: bool,
    expect: bool,
    upgrade: bool,
}

fn range((start, len): (u32, u32)) -> std::ops::Range<usize> {
    start as usize..start as usize + len as usize
}

/// The comma-separated elements of a list header, trimmed, empty ones skipped.
fn tokens(value: &HeaderValue) -> impl Iterator<Item = &[u8]> {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// RFC 9112 §6.3: every `Content-Length` (and every element of a list) must
/// be the same decimal number.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ParseError> {
    let mut found: Option<u64> = None;
    for value in &headers.get_all(CONTENT_LENGTH) {
        let mut any = false;
        for token in value
            .as_bytes()
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
        {
            any = true;
            let n = parse_decimal(token).ok_or(ParseError::ContentLength)?;
            match found {
                Some(prev) if prev != n => return Err(ParseError::ContentLength),
                _ => found = Some(n),
            }
        }
        if !any {
            return Err(ParseError::ContentLength);
        }
    }
    Ok(found)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .flatten()
    })
}

/// RFC 9112 §6.3: the last coding must be `chunked`, and `chunked` must not
/// appear twice. We decode no other coding (501).
fn check_transfer_encoding(headers: &HeaderMap) -> Result<(), ParseError> {
    let mut codings = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(tokens)
        .peekable();
    let mut saw_other = false;
    let mut last_chunked = false;
    while let Some(coding) = codings.next() {
        let chunked = coding.eq_ignore_ascii_case(b"chunked");
        if chunked && codings.peek().is_some() {
            return Err(ParseError::TransferEncoding);
        }
        last_chunked = chunked;
        saw_other |= !chunked;
    }
    if !last_chunked {
        return Err(ParseError::TransferEncoding);
    }
    if saw_other {
        return Err(ParseError::UnsupportedTransferCoding);
    }
    Ok(())
}
