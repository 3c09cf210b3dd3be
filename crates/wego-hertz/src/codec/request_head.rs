//! Request heads, as a client writes them: the request line, the caller's
//! headers, `Host`, and the framing headers the client owns
//! (`Content-Length` / `Transfer-Encoding`).
//!
//! The caller's `Content-Length` and `Transfer-Encoding` are dropped and
//! written again from the body the client actually sends, so a request can
//! never announce one framing and carry another (RFC 9112 §6.1, §6.2).

use bytes::BytesMut;
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, Method, Uri};

/// How the request body must be written after the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestFraming {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
}

/// Appends an HTTP/1.1 request head to `dst` and returns how the body
/// follows.
///
/// The request target is `uri`'s path and query (`/` when empty), the origin
/// form of RFC 9112 §3.2.1. `Host` is `uri`'s authority without user
/// information unless `headers` has one. `body_len` is the body's exact
/// length if known: a known non-zero length (or zero for methods whose
/// requests carry a body) becomes `Content-Length`, an unknown one is
/// chunked.
pub fn encode_request_head(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body_len: Option<u64>,
    dst: &mut BytesMut,
) -> RequestFraming {
    dst.reserve(128 + headers.len() * 32);
    dst.extend_from_slice(method.as_str().as_bytes());
    dst.extend_from_slice(b" ");
    match uri.path_and_query().map(|p| p.as_str()) {
        Some(p) if p.starts_with('/') => dst.extend_from_slice(p.as_bytes()),
        Some(p) if p.starts_with('?') => {
            dst.extend_from_slice(b"/");
            dst.extend_from_slice(p.as_bytes());
        }
        // `OPTIONS *` (RFC 9112 §3.2.4) and an empty path.
        Some("*") if method == Method::OPTIONS => dst.extend_from_slice(b"*"),
        _ => dst.extend_from_slice(b"/"),
    }
    dst.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains_key(HOST)
        && let Some(authority) = uri.authority()
    {
        let host_port = authority
            .as_str()
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, hp)| hp);
        put_field(dst, b"host", host_port.as_bytes());
    }
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        put_field(dst, name.as_str().as_bytes(), value.as_bytes());
    }
    let framing = match body_len {
        Some(0) if !expects_body(method) => RequestFraming::Empty,
        Some(n) => {
            let digits = itoa_buf(n);
            put_field(dst, b"content-length", digits.as_bytes());
            if n == 0 {
                RequestFraming::Empty
            } else {
                RequestFraming::Length(n)
            }
        }
        None => {
            put_field(dst, b"transfer-encoding", b"chunked");
            RequestFraming::Chunked
        }
    };
    dst.extend_from_slice(b"\r\n");
    framing
}

/// Methods whose requests normally carry content, so an empty one still
/// says `Content-Length: 0` (RFC 9110 §8.6: a user agent SHOULD send it
/// when the method defines a meaning for content).
fn expects_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

fn put_field(dst: &mut BytesMut, name: &[u8], value: &[u8]) {
    dst.extend_from_slice(name);
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value);
    dst.extend_from_slice(b"\r\n");
}

/// A decimal rendering of `n` without allocating.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(mut n: u64) -> Digits {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Digits { buf, start: i }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        method: Method,
        uri: &str,
        headers: HeaderMap,
        len: Option<u64>,
    ) -> (String, RequestFraming) {
        let mut dst = BytesMut::new();
        let uri: Uri = uri.parse().unwrap();
        let framing = encode_request_head(&method, &uri, &headers, len, &mut dst);
        (String::from_utf8(dst.to_vec()).unwrap(), framing)
    }

    #[test]
    fn writes_origin_form_and_host() {
        let (head, framing) = encode(
            Method::GET,
            "http://u:p@example.test:8080/a/b?q=1",
            HeaderMap::new(),
            Some(0),
        );
        assert_eq!(
            head,
            "GET /a/b?q=1 HTTP/1.1\r\nhost: example.test:8080\r\n\r\n"
        );
        assert_eq!(framing, RequestFraming::Empty);
        let (head, _) = encode(Method::GET, "http://[::1]", HeaderMap::new(), Some(0));
        assert_eq!(head, "GET / HTTP/1.1\r\nhost: [::1]\r\n\r\n");
    }

    #[test]
    fn framing_comes_from_the_body_not_the_caller() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, "999".parse().unwrap());
        headers.insert(TRANSFER_ENCODING, "gzip".parse().unwrap());
        headers.insert(HOST, "other.test".parse().unwrap());
        let (head, framing) = encode(Method::POST, "http://x.test/up", headers.clone(), Some(12));
        assert_eq!(
            head,
            "POST /up HTTP/1.1\r\nhost: other.test\r\ncontent-length: 12\r\n\r\n"
        );
        assert_eq!(framing, RequestFraming::Length(12));
        let (head, framing) = encode(Method::PUT, "http://x.test/up", headers.clone(), None);
        assert!(
            head.ends_with("transfer-encoding: chunked\r\n\r\n"),
            "{head}"
        );
        assert!(!head.contains("999") && !head.contains("gzip"));
        assert_eq!(framing, RequestFraming::Chunked);
        let (head, framing) = encode(Method::POST, "http://x.test/", HeaderMap::new(), Some(0));
        assert!(head.contains("content-length: 0\r\n"));
        assert_eq!(framing, RequestFraming::Empty);
    }

    #[test]
    fn renders_every_length() {
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            assert_eq!(itoa_buf(n).as_bytes(), n.to_string().as_bytes());
        }
    }
}
