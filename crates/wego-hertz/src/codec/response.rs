//! Response heads: the status line, the user's headers, and the framing
//! headers the server owns (`Content-Length` / `Transfer-Encoding`,
//! `Connection`, `Date`, `Server`).
//!
//! Header names go out as the `http` crate stores them, lowercase, unless
//! [`ResponseContext::title_case_headers`] asks for `Content-Type` style
//! (what Hertz and Go's net/http write). Names are case-insensitive in
//! HTTP/1.1 (RFC 9110 §5.1), so this only matters to peers that compare them
//! byte for byte. Title casing rewrites the bytes already copied into the
//! output buffer: no allocation either way, and the two cases are compiled
//! apart, so the default path pays one branch per response.

use bytes::BytesMut;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, SERVER, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode, Version};

/// How the response body must be written after the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseFraming {
    /// No body is written (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
    /// Raw bytes until the connection closes (HTTP/1.0 client, unknown length).
    UntilClose,
}

/// What the encoder needs to know about the request being answered.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ResponseContext<'a> {
    /// The request was `HEAD`: send the head only.
    pub head_request: bool,
    /// The request's version; chunked needs HTTP/1.1.
    pub version: Version,
    /// Whether the connection stays open after this response.
    pub keep_alive: bool,
    /// An IMF-fixdate for `Date`, if the user set none.
    pub date: &'a [u8],
    /// A `Server` value, if any and if the user set none.
    pub server: Option<&'a [u8]>,
    /// Write header names in title case (`Content-Type`, `X-Request-Id`)
    /// instead of lowercase.
    pub title_case_headers: bool,
}

impl<'a> ResponseContext<'a> {
    /// A context for a keep-alive HTTP/1.1 non-HEAD request.
    pub fn new(date: &'a [u8]) -> Self {
        Self {
            head_request: false,
            version: Version::HTTP_11,
            keep_alive: true,
            date,
            server: None,
            title_case_headers: false,
        }
    }
}

/// Whether a response with `status` to a request (`HEAD` or not) carries a
/// body: not for HEAD (RFC 9110 §9.3.2), 1xx, 204 and 304 (§6.4.1).
pub(crate) fn may_have_body(status: StatusCode, head_request: bool) -> bool {
    !(head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// Appends a response head to `dst`.
///
/// `body_len` is the body's exact length if known. The server decides the
/// framing: a known length becomes `Content-Length` (replacing the user's);
/// an unknown one is chunked for HTTP/1.1, or delimited by closing for
/// HTTP/1.0, unless the user set a valid `Content-Length`. Returns the
/// framing and whether the connection stays open.
pub fn encode_response_head(
    status: StatusCode,
    headers: &HeaderMap,
    body_len: Option<u64>,
    ctx: &ResponseContext<'_>,
    dst: &mut BytesMut,
) -> (ResponseFraming, bool) {
    let seen = Seen::of(headers);
    let mut keep_alive = ctx.keep_alive && !seen.close;
    let user_length = seen.length;
    // RFC 9110 §6.4.1 / §8.6: no content and no Content-Length in 1xx and 204.
    let no_length_headers = status.is_informational() || status == StatusCode::NO_CONTENT;
    let no_body = !may_have_body(status, ctx.head_request);

    let (framing, length_header) = if no_length_headers {
        (ResponseFraming::None, LengthHeader::Omit)
    } else if no_body {
        // HEAD and 304: announce what a GET would send, if known.
        match (body_len, user_length) {
            (_, Some(_)) => (ResponseFraming::None, LengthHeader::User),
            (Some(n), None) if ctx.head_request || n > 0 => {
                (ResponseFraming::None, LengthHeader::Length(n))
            }
            _ => (ResponseFraming::None, LengthHeader::Omit),
        }
    } else {
        match (body_len, user_length) {
            (Some(n), _) => (ResponseFraming::Length(n), LengthHeader::Length(n)),
            (None, Some(n)) => (ResponseFraming::Length(n), LengthHeader::User),
            (None, None) if ctx.version == Version::HTTP_11 => {
                (ResponseFraming::Chunked, LengthHeader::Chunked)
            }
            (None, None) => {
                keep_alive = false;
                (ResponseFraming::UntilClose, LengthHeader::Omit)
            }
        }
    };

    // One branch per response: each case is compiled on its own, so the
    // default lowercase path has no per-header test.
    if ctx.title_case_headers {
        write_head::<true>(status, headers, &seen, length_header, keep_alive, ctx, dst);
    } else {
        write_head::<false>(status, headers, &seen, length_header, keep_alive, ctx, dst);
    }
    (framing, keep_alive)
}

/// Writes the head decided by [`encode_response_head`]; `TITLE` picks the
/// case of header names.
fn write_head<const TITLE: bool>(
    status: StatusCode,
    headers: &HeaderMap,
    seen: &Seen,
    length_header: LengthHeader,
    keep_alive: bool,
    ctx: &ResponseContext<'_>,
    dst: &mut BytesMut,
) {
    let tc = TITLE;
    let switching = status == StatusCode::SWITCHING_PROTOCOLS;
    dst.reserve(128 + headers.len() * 32);
    // Pieces go in with `BytesMut::extend_from_slice`, which is inlined (a
    // constant piece becomes a few moves), not `BufMut::put_slice`, which
    // `bytes` leaves an outlined call with a `memcpy` per piece.
    put_status_line(dst, status);
    for (name, value) in headers {
        // A 101 keeps the handler's `Connection: upgrade` (RFC 9110 §7.8);
        // other heads get the server's own connection option below.
        if (name == CONTENT_LENGTH && length_header != LengthHeader::User)
            || name == TRANSFER_ENCODING
            || (name == CONNECTION && !switching)
        {
            continue;
        }
        put_name(dst, name.as_str().as_bytes(), tc);
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    match length_header {
        LengthHeader::Length(n) => put_content_length(dst, n, tc),
        LengthHeader::Chunked => dst.extend_from_slice(cased(
            b"transfer-encoding: chunked\r\n",
            b"Transfer-Encoding: chunked\r\n",
            tc,
        )),
        LengthHeader::User | LengthHeader::Omit => {}
    }
    if switching {
        // The connection continues in the new protocol: no HTTP option.
    } else if !keep_alive {
        dst.extend_from_slice(cased(
            b"connection: close\r\n",
            b"Connection: close\r\n",
            tc,
        ));
    } else if ctx.version == Version::HTTP_10 {
        dst.extend_from_slice(cased(
            b"connection: keep-alive\r\n",
            b"Connection: keep-alive\r\n",
            tc,
        ));
    }
    if !seen.date {
        put_date(dst, ctx.date, tc);
    }
    if let Some(server) = ctx.server
        && !seen.server
    {
        dst.extend_from_slice(cased(b"server: ", b"Server: ", tc));
        dst.extend_from_slice(server);
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(b"\r\n");
}

/// Appends a header name, title-cased if `title_case`.
#[inline]
pub(crate) fn put_name(dst: &mut BytesMut, name: &[u8], title_case: bool) {
    let start = dst.len();
    dst.extend_from_slice(name);
    if title_case {
        title_case_in_place(&mut dst[start..]);
    }
}

/// `content-type` → `Content-Type`: upper-cases the first letter and each
/// one after a `-`, as hyper's `title_case_headers` and Go's
/// `CanonicalHeaderKey` do (the `http` crate has lower-cased the rest).
fn title_case_in_place(name: &mut [u8]) {
    let mut upper = true;
    for b in name {
        if upper {
            b.make_ascii_uppercase();
        }
        upper = *b == b'-';
    }
}

/// One of the server's own header lines, in the requested case.
#[inline]
fn cased(lower: &'static [u8], title: &'static [u8], title_case: bool) -> &'static [u8] {
    if title_case { title } else { lower }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LengthHeader {
    Length(u64),
    Chunked,
    User,
    Omit,
}

/// What the head writer needs to know of the handler's fields, from one
/// pass over them rather than a map lookup per field: a response carries
/// a few fields, and comparing a standard name is one integer test.
#[derive(Debug, Default)]
struct Seen {
    /// A `Connection` field lists `close`.
    close: bool,
    /// The user's `Content-Length`, if there is exactly one and it is a
    /// number.
    length: Option<u64>,
    /// A `Date` field is set.
    date: bool,
    /// A `Server` field is set.
    server: bool,
}

impl Seen {
    fn of(headers: &HeaderMap) -> Self {
        let mut seen = Self::default();
        let mut lengths = 0;
        for (name, value) in headers {
            if name == CONNECTION {
                seen.close |= value
                    .as_bytes()
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
            } else if name == CONTENT_LENGTH {
                lengths += 1;
                seen.length = std::str::from_utf8(value.as_bytes())
                    .ok()
                    .and_then(|v| v.parse().ok());
            } else if name == DATE {
                seen.date = true;
            } else if name == SERVER {
                seen.server = true;
            }
        }
        if lengths > 1 {
            seen.length = None;
        }
        seen
    }
}

/// The status line, `HTTP/1.1 200 OK\r\n`: one copy for the common
/// statuses, pieced together for the rest.
fn put_status_line(dst: &mut BytesMut, status: StatusCode) {
    let line: &[u8] = match status.as_u16() {
        200 => b"HTTP/1.1 200 OK\r\n",
        201 => b"HTTP/1.1 201 Created\r\n",
        204 => b"HTTP/1.1 204 No Content\r\n",
        301 => b"HTTP/1.1 301 Moved Permanently\r\n",
        302 => b"HTTP/1.1 302 Found\r\n",
        304 => b"HTTP/1.1 304 Not Modified\r\n",
        307 => b"HTTP/1.1 307 Temporary Redirect\r\n",
        308 => b"HTTP/1.1 308 Permanent Redirect\r\n",
        400 => b"HTTP/1.1 400 Bad Request\r\n",
        401 => b"HTTP/1.1 401 Unauthorized\r\n",
        403 => b"HTTP/1.1 403 Forbidden\r\n",
        404 => b"HTTP/1.1 404 Not Found\r\n",
        405 => b"HTTP/1.1 405 Method Not Allowed\r\n",
        500 => b"HTTP/1.1 500 Internal Server Error\r\n",
        503 => b"HTTP/1.1 503 Service Unavailable\r\n",
        _ => {
            dst.extend_from_slice(b"HTTP/1.1 ");
            dst.extend_from_slice(status.as_str().as_bytes());
            dst.extend_from_slice(b" ");
            dst.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
            dst.extend_from_slice(b"\r\n");
            return;
        }
    };
    dst.extend_from_slice(line);
}

/// `content-length: N\r\n`, assembled on the stack and copied once.
fn put_content_length(dst: &mut BytesMut, n: u64, title_case: bool) {
    const NAME: usize = b"content-length: ".len();
    // Name, at most 20 digits, CRLF.
    let mut line = [0u8; NAME + 20 + 2];
    let end = line.len();
    line[end - 2..].copy_from_slice(b"\r\n");
    let mut start = end - 2;
    let mut n = n;
    loop {
        start -= 1;
        line[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    start -= NAME;
    line[start..start + NAME].copy_from_slice(cased(
        b"content-length: ",
        b"Content-Length: ",
        title_case,
    ));
    dst.extend_from_slice(&line[start..]);
}

/// `date: <IMF-fixdate>\r\n`: an IMF-fixdate is always 29 bytes, so the
/// line is assembled with fixed-size copies and written with one.
fn put_date(dst: &mut BytesMut, date: &[u8], title_case: bool) {
    let name = cased(b"date: ", b"Date: ", title_case);
    match <&[u8; 29]>::try_from(date) {
        Ok(date) => {
            let mut line = *b"date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
            line[..6].copy_from_slice(name);
            line[6..35].copy_from_slice(date);
            dst.extend_from_slice(&line);
        }
        Err(_) => {
            dst.extend_from_slice(name);
            dst.extend_from_slice(date);
            dst.extend_from_slice(b"\r\n");
        }
    }
}
