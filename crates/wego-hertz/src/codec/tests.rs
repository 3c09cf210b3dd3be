//! Unit tests of the codec over byte fixtures (RFC 9112 shapes, malformed
//! ones included) and round-trip properties.

use bytes::BytesMut;
use http::{Method, StatusCode, Version};

use super::*;

fn parse(input: &[u8]) -> Result<Option<RequestHead>, ParseError> {
    let mut buf = BytesMut::from(input);
    parse_request_head(&mut buf, &HeadLimits::default())
}

fn ok(input: &[u8]) -> RequestHead {
    parse(input).unwrap().expect("complete head")
}

fn err(input: &[u8]) -> ParseError {
    parse(input).expect_err("must be rejected")
}

#[test]
fn parses_a_simple_get_and_leaves_the_rest() {
    let mut buf = BytesMut::from(&b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\nGET /next"[..]);
    let head = parse_request_head(&mut buf, &HeadLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(head.parts.method, Method::GET);
    assert_eq!(head.parts.uri.path(), "/a");
    assert_eq!(head.parts.uri.query(), Some("b=1"));
    assert_eq!(head.parts.version, Version::HTTP_11);
    assert_eq!(head.parts.headers["x-a"], "1");
    assert_eq!(head.framing, BodyFraming::Empty);
    assert!(head.keep_alive);
    assert!(!head.expect_continue);
    assert!(!head.upgrade);
    assert_eq!(&buf[..], b"GET /next");
}

#[test]
fn an_upgrade_field_in_any_case_is_noted() {
    for name in ["Upgrade", "upgrade", "UPGRADE"] {
        let head = ok(format!("GET / HTTP/1.1\r\nHost: x\r\n{name}: websocket\r\n\r\n").as_bytes());
        assert!(head.upgrade, "{name}");
    }
    assert!(!ok(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n").upgrade);
}

#[test]
fn partial_heads_need_more() {
    assert!(parse(b"").unwrap().is_none());
    assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
    assert!(parse(b"GET / HT").unwrap().is_none());
}

#[test]
fn skips_leading_empty_lines() {
    let head = ok(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(head.parts.uri.path(), "/");
}

#[test]
fn keep_alive_rules() {
    assert!(!ok(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
    assert!(!ok(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, Close\r\n\r\n").keep_alive);
    assert!(!ok(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
    assert!(ok(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    assert!(ok(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").keep_alive);
}

#[test]
fn body_framing() {
    let h = ok(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Length(10));
    let h = ok(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Empty);
    let h = ok(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Chunked);
    let h = ok(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Length(5));
    let h = ok(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n");
    assert_eq!(h.framing, BodyFraming::Length(5));
}

#[test]
fn expect_continue() {
    let h = ok(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n");
    assert!(h.expect_continue);
    // Ignored without a body and from HTTP/1.0 clients.
    assert!(!ok(b"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n").expect_continue);
    assert!(
        !ok(b"PUT / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n").expect_continue
    );
    let e = err(b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n");
    assert_eq!(e.status(), StatusCode::EXPECTATION_FAILED);
}

#[test]
fn rejects_content_length_with_transfer_encoding() {
    let e = err(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(e, ParseError::ContentLengthAndTransferEncoding);
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn rejects_differing_duplicate_content_length() {
    assert_eq!(
        err(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
        ParseError::ContentLength
    );
    assert_eq!(
        err(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\n"),
        ParseError::ContentLength
    );
}

#[test]
fn rejects_malformed_content_length() {
    for bad in ["-1", "+1", "1a", "", "0x10", "99999999999999999999", "1 2"] {
        let req = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {bad}\r\n\r\n");
        assert_eq!(err(req.as_bytes()), ParseError::ContentLength, "{bad:?}");
    }
}

#[test]
fn rejects_transfer_encoding_not_ending_in_chunked() {
    for te in [
        "gzip",
        "chunked, gzip",
        "chunked, chunked",
        "identity",
        "chunkedx",
    ] {
        let req = format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {te}\r\n\r\n");
        assert_eq!(err(req.as_bytes()), ParseError::TransferEncoding, "{te:?}");
    }
    let two_headers = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n";
    assert_eq!(err(two_headers), ParseError::TransferEncoding);
    let e = err(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(e.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        err(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ParseError::TransferEncoding
    );
}

#[test]
fn rejects_obs_fold() {
    let e = err(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n");
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn rejects_whitespace_before_colon() {
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\n"),
        ParseError::HeaderName
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: x\r\nX-A\t: 3\r\n\r\n"),
        ParseError::HeaderName
    );
}

#[test]
fn rejects_nul_and_bare_cr() {
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n").status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n").status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: x\r\nX\0A: ab\r\n\r\n"),
        ParseError::HeaderName
    );
}

#[test]
fn rejects_bare_lf() {
    assert_eq!(err(b"GET / HTTP/1.1\nHost: x\r\n\r\n"), ParseError::BareLf);
    assert_eq!(err(b"GET / HTTP/1.1\r\nHost: x\n\r\n"), ParseError::BareLf);
    assert_eq!(err(b"GET / HTTP/1.1\r\nHost: x\r\n\n"), ParseError::BareLf);
    // Every place a line can end: after trailing whitespace, after an
    // empty value, after a value that is all whitespace, the empty line
    // of a head without fields, and a later field's line.
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: x \t\n\r\n"),
        ParseError::BareLf
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: x\r\nX-A:\n\r\n"),
        ParseError::BareLf
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: x\r\nX-A:  \n\r\n"),
        ParseError::BareLf
    );
    assert_eq!(err(b"GET / HTTP/1.0\r\n\n"), ParseError::BareLf);
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-B: 2\n\r\n"),
        ParseError::BareLf
    );
    assert_eq!(
        err(b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ParseError::BareLf
    );
    // The same shapes with CRLF parse.
    for head in [
        &b"GET / HTTP/1.1\r\nHost: x \t\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A:\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A:  \r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
    ] {
        let mut buf = BytesMut::from(head);
        assert!(
            matches!(
                parse_request_head(&mut buf, &HeadLimits::default()),
                Ok(Some(_))
            ),
            "{:?}",
            String::from_utf8_lossy(head)
        );
    }
}

#[test]
fn rejects_invalid_method_token() {
    assert_eq!(
        err(b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ParseError::Method
    );
    assert_eq!(
        err(b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ParseError::Method
    );
    assert_eq!(
        err(b" / HTTP/1.1\r\nHost: x\r\n\r\n").status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn rejects_invalid_target() {
    assert_eq!(
        err(b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n").status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        err(b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n").status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn host_rules() {
    assert_eq!(err(b"GET / HTTP/1.1\r\n\r\n"), ParseError::Host);
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        ParseError::Host
    );
    assert_eq!(
        err(b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
        ParseError::Host
    );
    ok(b"GET / HTTP/1.0\r\n\r\n");
}

#[test]
fn rejects_host_values_that_are_not_uri_host() {
    for host in [
        "exa mple.com",
        "a/b",
        "[::1",
        "[::1]x",
        "a:b:c",
        "x@y",
        "a%2",
    ] {
        for version in ["1.1", "1.0"] {
            let req = format!("GET / HTTP/{version}\r\nHost: {host}\r\n\r\n");
            let e = err(req.as_bytes());
            assert_eq!(e, ParseError::HostValue, "{req:?}");
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        }
    }
    for host in ["", "a", "[::1]:80", "127.0.0.1:8080", "ex%41mple.com"] {
        ok(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    }
}

#[test]
fn versions() {
    for v in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"] {
        let req = format!("GET / {v}\r\nHost: x\r\n\r\n");
        let e = err(req.as_bytes());
        assert_eq!(e.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED, "{v}");
    }
    assert_eq!(
        err(b"GET / FOO/1.1\r\nHost: x\r\n\r\n").status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        err(b"GET / HTTP/1.10\r\nHost: x\r\n\r\n").status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn request_line_limit_gives_414() {
    let limits = HeadLimits {
        max_request_line: 32,
        ..HeadLimits::default()
    };
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(40));
    let mut buf = BytesMut::from(long.as_bytes());
    let e = parse_request_head(&mut buf, &limits).unwrap_err();
    assert_eq!(e.status(), StatusCode::URI_TOO_LONG);
    // Without the line end yet: decided as soon as the limit is passed.
    let mut buf = BytesMut::from(&long.as_bytes()[..36]);
    assert_eq!(
        parse_request_head(&mut buf, &limits).unwrap_err().status(),
        StatusCode::URI_TOO_LONG
    );
    let mut buf = BytesMut::from(&long.as_bytes()[..30]);
    assert!(parse_request_head(&mut buf, &limits).unwrap().is_none());
}

#[test]
fn head_and_field_limits_give_431() {
    let limits = HeadLimits {
        max_head: 100,
        max_headers: 3,
        ..HeadLimits::default()
    };
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "a".repeat(100)
    );
    let mut buf = BytesMut::from(big.as_bytes());
    let e = parse_request_head(&mut buf, &limits).unwrap_err();
    assert_eq!(e, ParseError::HeadTooLarge { limit: 100 });
    assert_eq!(e.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // Incomplete but already past the limit.
    let mut buf = BytesMut::from(&big.as_bytes()[..101]);
    assert!(parse_request_head(&mut buf, &limits).is_err());
    let many = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let mut buf = BytesMut::from(&many[..]);
    let e = parse_request_head(&mut buf, &limits).unwrap_err();
    assert_eq!(e, ParseError::TooManyHeaders { limit: 3 });
    assert_eq!(e.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

#[test]
fn many_headers_beyond_the_stack_array() {
    let limits = HeadLimits {
        max_headers: 300,
        ..HeadLimits::default()
    };
    let mut req = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..200 {
        req.push_str(&format!("X-{i}: {i}\r\n"));
    }
    req.push_str("\r\n");
    let mut buf = BytesMut::from(req.as_bytes());
    let head = parse_request_head(&mut buf, &limits).unwrap().unwrap();
    assert_eq!(head.parts.headers.len(), 201);
    assert_eq!(head.parts.headers["x-199"], "199");
}

#[test]
fn default_limit_heads_past_the_first_stack_attempt() {
    // More fields than the first (stack) attempt holds, within the default
    // limit of 100: parsed in full, also when it arrives in two pieces.
    let limits = HeadLimits::default();
    let mut req = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..60 {
        req.push_str(&format!("X-{i}: {i}\r\n"));
    }
    req.push_str("\r\n");
    let cut = req.len() - 10;
    let mut buf = BytesMut::from(&req.as_bytes()[..cut]);
    assert!(parse_request_head(&mut buf, &limits).unwrap().is_none());
    buf.extend_from_slice(&req.as_bytes()[cut..]);
    let head = parse_request_head(&mut buf, &limits).unwrap().unwrap();
    assert_eq!(head.parts.headers.len(), 61);
    assert_eq!(head.parts.headers["x-59"], "59");
    assert!(buf.is_empty());
    // One field past the default limit: 431.
    let mut req = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..100 {
        req.push_str(&format!("X-{i}: {i}\r\n"));
    }
    req.push_str("\r\n");
    let mut buf = BytesMut::from(req.as_bytes());
    let e = parse_request_head(&mut buf, &limits).unwrap_err();
    assert_eq!(e, ParseError::TooManyHeaders { limit: 100 });
}

// ---- chunked ----

fn decode_all(input: &[u8]) -> Result<(Vec<u8>, Option<http::HeaderMap>, BytesMut), ChunkError> {
    let mut buf = BytesMut::from(input);
    let mut d = ChunkedDecoder::new(1024);
    let mut out = Vec::new();
    let mut trailers = None;
    loop {
        match d.decode(&mut buf)? {
            Some(Decoded::Data(b)) => out.extend_from_slice(&b),
            Some(Decoded::Trailers(t)) => trailers = Some(t),
            Some(Decoded::End) => return Ok((out, trailers, buf)),
            None => return Err(ChunkError::Crlf),
        }
    }
}

#[test]
fn chunked_decodes_with_extensions_and_trailers() {
    let (data, trailers, rest) =
        decode_all(b"5;a=b\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nNEXT").unwrap();
    assert_eq!(data, b"hello world");
    assert_eq!(trailers.unwrap()["x-sum"], "1");
    assert_eq!(&rest[..], b"NEXT");
    let (data, trailers, _) = decode_all(b"A\r\n0123456789\r\n0\r\n\r\n").unwrap();
    assert_eq!(data, b"0123456789");
    assert!(trailers.is_none());
}

#[test]
fn chunked_rejects_bad_sizes() {
    assert_eq!(decode_all(b"x\r\n").unwrap_err(), ChunkError::Size);
    assert_eq!(decode_all(b"\r\n").unwrap_err(), ChunkError::Size);
    assert_eq!(decode_all(b"-1\r\n").unwrap_err(), ChunkError::Size);
    assert_eq!(
        decode_all(b"5 x\r\nhello\r\n").unwrap_err(),
        ChunkError::Size
    );
    assert_eq!(
        decode_all(b"0x5\r\nhello\r\n").unwrap_err(),
        ChunkError::Size
    );
    assert_eq!(
        decode_all(b"10000000000000000\r\n").unwrap_err(),
        ChunkError::SizeOverflow
    );
    assert_eq!(
        decode_all(b"fffffffffffffffff\r\n").unwrap_err(),
        ChunkError::SizeOverflow
    );
}

#[test]
fn chunked_rejects_data_past_the_size_before_delivering_the_chunk() {
    // The chunk and what follows it are both here: no data comes out.
    let mut d = ChunkedDecoder::new(1024);
    let mut buf = BytesMut::from(&b"3\r\nhello\r\n0\r\n\r\n"[..]);
    assert_eq!(d.decode(&mut buf).unwrap_err(), ChunkError::Crlf);
    let mut d = ChunkedDecoder::new(1024);
    let mut buf = BytesMut::from(&b"3\r\nhelX"[..]);
    assert_eq!(d.decode(&mut buf).unwrap_err(), ChunkError::Crlf);
    // Only the chunk is here: it is delivered, and the error follows.
    let mut d = ChunkedDecoder::new(1024);
    let mut buf = BytesMut::from(&b"3\r\nhel"[..]);
    assert!(matches!(d.decode(&mut buf), Ok(Some(Decoded::Data(b))) if b == "hel"));
    buf.extend_from_slice(b"lo\r\n");
    assert_eq!(d.decode(&mut buf).unwrap_err(), ChunkError::Crlf);
    // A CR alone may still be followed by its LF.
    let mut d = ChunkedDecoder::new(1024);
    let mut buf = BytesMut::from(&b"3\r\nhel\r"[..]);
    assert!(matches!(d.decode(&mut buf), Ok(Some(Decoded::Data(b))) if b == "hel"));
}

#[test]
fn chunked_rejects_bad_line_endings() {
    assert_eq!(
        decode_all(b"5\nhello\r\n0\r\n\r\n").unwrap_err(),
        ChunkError::Crlf
    );
    assert_eq!(
        decode_all(b"5\r\nhelloXX0\r\n\r\n").unwrap_err(),
        ChunkError::Crlf
    );
    assert_eq!(
        decode_all(b"5\r\nhello\n0\r\n\r\n").unwrap_err(),
        ChunkError::Crlf
    );
    assert_eq!(
        decode_all(b"5;a\x00\r\nhello\r\n0\r\n\r\n").unwrap_err(),
        ChunkError::Extension
    );
}

#[test]
fn chunked_bounds_lines_and_trailers() {
    let long = format!("5;{}", "a".repeat(5000));
    assert_eq!(
        decode_all(long.as_bytes()).unwrap_err(),
        ChunkError::Extension
    );
    let trailers = format!("0\r\nX: {}\r\n\r\n", "a".repeat(2000));
    assert_eq!(
        decode_all(trailers.as_bytes()).unwrap_err(),
        ChunkError::TrailersTooLarge { limit: 1024 }
    );
    assert_eq!(
        decode_all(b"0\r\nX : 1\r\n\r\n").unwrap_err(),
        ChunkError::Trailers
    );
    // A flood of small chunks with extensions is cut off.
    let flood = "1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\na\r\n".repeat(1000);
    assert_eq!(
        decode_all(flood.as_bytes()).unwrap_err(),
        ChunkError::Extension
    );
}

/// Feeds `input` to `d` one byte at a time until the body ends; returns
/// the data and trailers decoded.
fn feed_bytewise(d: &mut ChunkedDecoder, input: &[u8]) -> (Vec<u8>, Option<http::HeaderMap>) {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut trailers = None;
    for &b in input {
        buf.extend_from_slice(&[b]);
        while let Some(piece) = d.decode(&mut buf).unwrap() {
            match piece {
                Decoded::Data(x) => out.extend_from_slice(&x),
                Decoded::Trailers(t) => trailers = Some(t),
                Decoded::End => return (out, trailers),
            }
        }
    }
    panic!("the body did not end");
}

#[test]
fn a_trailer_section_arriving_byte_by_byte_is_scanned_once() {
    // 64 KiB of trailer field, a byte per call: each call searches only
    // the new byte and the three before it (an end may straddle them).
    let limit = 64 * 1024;
    let field = format!("x: {}\r\n\r\n", "a".repeat(limit - 16));
    let mut d = ChunkedDecoder::new(limit);
    let (data, trailers) = feed_bytewise(&mut d, format!("0\r\n{field}").as_bytes());
    assert!(data.is_empty());
    assert_eq!(trailers.unwrap()["x"].len(), limit - 16);
    assert!(
        d.examined <= 4 * (field.len() + 3),
        "{} bytes examined for a {}-byte section",
        d.examined,
        field.len()
    );

    // An end split across calls in every way is found.
    for split in 1..4 {
        let mut d = ChunkedDecoder::new(1024);
        let mut buf = BytesMut::from(&b"0\r\nT: v\r\n\r\n"[..]);
        let tail = buf.split_off(buf.len() - split);
        assert!(d.decode(&mut buf).unwrap().is_none(), "split {split}");
        buf.extend_from_slice(&tail);
        assert!(
            matches!(d.decode(&mut buf).unwrap(), Some(Decoded::Trailers(t)) if t["t"] == "v"),
            "split {split}"
        );
        assert!(buf.is_empty());
    }
}

#[test]
fn a_size_line_arriving_byte_by_byte_is_scanned_once() {
    // A 4 KiB size line (extensions), a byte per call.
    let line = format!("1;{}\r\n", "e".repeat(4000));
    let input = format!("{line}a\r\n0\r\n\r\n");
    let mut d = ChunkedDecoder::new(1024);
    let (data, _) = feed_bytewise(&mut d, input.as_bytes());
    assert_eq!(data, b"a");
    assert!(
        d.examined <= input.len() + 8,
        "{} bytes examined for {} bytes of input",
        d.examined,
        input.len()
    );
}

#[test]
fn a_chunk_size_has_at_most_16_digits() {
    // Sixteen digits, leading zeros included, are any 64-bit size.
    let (data, _, _) = decode_all(b"0000000000000001\r\na\r\n0000000000000000\r\n\r\n").unwrap();
    assert_eq!(data, b"a");
    assert_eq!(
        decode_all(b"00000000000000001\r\na\r\n0\r\n\r\n").unwrap_err(),
        ChunkError::SizeOverflow
    );
    assert_eq!(
        decode_all(b"1\r\na\r\n00000000000000000\r\n\r\n").unwrap_err(),
        ChunkError::SizeOverflow
    );
    // Zero padding is no way around the extension budget: 32 KB of it
    // for 8 data bytes is refused at the first line.
    let mut body = Vec::new();
    for _ in 0..8 {
        body.extend_from_slice(format!("{}1\r\na\r\n", "0".repeat(4000)).as_bytes());
    }
    body.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(decode_all(&body).unwrap_err(), ChunkError::SizeOverflow);
}

#[test]
fn chunked_resumes_byte_by_byte() {
    let input = b"5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n";
    let mut d = ChunkedDecoder::new(1024);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut done = false;
    for &b in input {
        buf.extend_from_slice(&[b]);
        while let Some(piece) = d.decode(&mut buf).unwrap() {
            match piece {
                Decoded::Data(x) => out.extend_from_slice(&x),
                Decoded::Trailers(_) => {}
                Decoded::End => {
                    done = true;
                    break;
                }
            }
        }
    }
    assert!(done);
    assert_eq!(out, b"hello world");
}

#[test]
fn length_decoder_stops_at_the_length() {
    let mut d = BodyDecoder::new(BodyFraming::Length(3), 1024);
    let mut buf = BytesMut::from(&b"abcdef"[..]);
    assert_eq!(
        d.decode(&mut buf).unwrap(),
        Some(Decoded::Data("abc".into()))
    );
    assert!(d.is_done());
    assert_eq!(d.decode(&mut buf).unwrap(), Some(Decoded::End));
    assert_eq!(&buf[..], b"def");
}

// ---- response ----

fn head_of(
    status: StatusCode,
    headers: &http::HeaderMap,
    len: Option<u64>,
    ctx: &ResponseContext<'_>,
) -> (String, ResponseFraming, bool) {
    let mut dst = BytesMut::new();
    let (f, ka) = encode_response_head(status, headers, len, ctx, &mut dst);
    (String::from_utf8(dst.to_vec()).unwrap(), f, ka)
}

#[test]
fn status_lines_and_length_lines_for_every_shape() {
    let date = b"Thu, 01 Jan 1970 00:00:00 GMT";
    let ctx = ResponseContext::new(date);
    let none = http::HeaderMap::new();
    // The table of common statuses and the general path agree with the
    // `http` crate's reason phrases for every status code.
    for code in 100..=999u16 {
        let status = StatusCode::from_u16(code).unwrap();
        let (s, _, _) = head_of(status, &none, Some(0), &ctx);
        let want = format!(
            "HTTP/1.1 {} {}\r\n",
            code,
            status.canonical_reason().unwrap_or("")
        );
        assert!(s.starts_with(&want), "{code}: {s:?}");
    }
    for (n, want) in [
        (1, "content-length: 1\r\n"),
        (10, "content-length: 10\r\n"),
        (u64::MAX, "content-length: 18446744073709551615\r\n"),
    ] {
        let (s, _, _) = head_of(StatusCode::OK, &none, Some(n), &ctx);
        assert!(s.contains(want), "{n}: {s:?}");
    }
    let mut title = ctx;
    title.title_case_headers = true;
    let (s, _, _) = head_of(StatusCode::OK, &none, Some(42), &title);
    assert!(s.contains("\r\nContent-Length: 42\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
    // A date that is not an IMF-fixdate's 29 bytes is written as given.
    let odd = ResponseContext::new(b"yesterday");
    let (s, _, _) = head_of(StatusCode::OK, &none, Some(0), &odd);
    assert!(s.ends_with("date: yesterday\r\n\r\n"), "{s:?}");
}

#[test]
fn response_head_framing() {
    let date = b"Thu, 01 Jan 1970 00:00:00 GMT";
    let ctx = ResponseContext::new(date);
    let mut h = http::HeaderMap::new();
    h.insert("content-type", "text/plain".parse().unwrap());
    let (s, f, ka) = head_of(StatusCode::OK, &h, Some(5), &ctx);
    assert_eq!(
        s,
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\ndate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n"
    );
    assert_eq!((f, ka), (ResponseFraming::Length(5), true));
    let (s, f, _) = head_of(StatusCode::OK, &h, None, &ctx);
    assert!(s.contains("transfer-encoding: chunked\r\n"));
    assert_eq!(f, ResponseFraming::Chunked);

    let mut old = ctx;
    old.version = Version::HTTP_10;
    let (s, f, ka) = head_of(StatusCode::OK, &h, None, &old);
    assert!(s.contains("connection: close\r\n") && !s.contains("chunked"));
    assert_eq!((f, ka), (ResponseFraming::UntilClose, false));
    let (s, _, ka) = head_of(StatusCode::OK, &h, Some(1), &old);
    assert!(s.contains("connection: keep-alive\r\n") && ka);

    let mut head = ctx;
    head.head_request = true;
    let (s, f, _) = head_of(StatusCode::OK, &h, Some(5), &head);
    assert!(s.contains("content-length: 5\r\n"));
    assert_eq!(f, ResponseFraming::None);

    let (s, f, _) = head_of(StatusCode::NO_CONTENT, &h, Some(0), &ctx);
    assert!(!s.contains("content-length"));
    assert_eq!(f, ResponseFraming::None);

    let mut closing = http::HeaderMap::new();
    closing.insert("connection", "close".parse().unwrap());
    closing.insert("transfer-encoding", "gzip".parse().unwrap());
    let mut with_server = ctx;
    with_server.server = Some(b"wego");
    let (s, _, ka) = head_of(StatusCode::NOT_FOUND, &closing, Some(0), &with_server);
    assert!(!ka && s.starts_with("HTTP/1.1 404 Not Found\r\n"));
    assert!(s.contains("connection: close\r\n") && s.contains("server: wego\r\n"));
    assert!(!s.contains("gzip"));
}

#[test]
fn the_handlers_own_date_server_length_and_close_are_honoured() {
    let date = b"Thu, 01 Jan 1970 00:00:00 GMT";
    let mut ctx = ResponseContext::new(date);
    ctx.server = Some(b"wego");
    let mut h = http::HeaderMap::new();
    h.insert("date", "Fri, 02 Jan 1970 00:00:00 GMT".parse().unwrap());
    h.insert("server", "mine".parse().unwrap());
    h.insert("connection", "upgrade, Close".parse().unwrap());
    let (s, _, ka) = head_of(StatusCode::OK, &h, Some(0), &ctx);
    assert!(!ka, "a listed close ends the connection: {s:?}");
    assert_eq!(s.matches("date: ").count(), 1, "{s:?}");
    assert!(s.contains("date: Fri, 02 Jan 1970"), "{s:?}");
    assert_eq!(s.matches("server: ").count(), 1, "{s:?}");
    assert!(s.contains("server: mine\r\n") && s.contains("connection: close\r\n"));

    // A body of unknown length: one valid user length frames it.
    let mut one = http::HeaderMap::new();
    one.insert("content-length", "7".parse().unwrap());
    let (s, f, ka) = head_of(StatusCode::OK, &one, None, &ctx);
    assert_eq!((f, ka), (ResponseFraming::Length(7), true));
    assert_eq!(s.matches("content-length: 7").count(), 1, "{s:?}");
    // Two lengths, or one that is no number, are not trusted: chunked.
    let mut two = one.clone();
    two.append("content-length", "7".parse().unwrap());
    let mut bad = http::HeaderMap::new();
    bad.insert("content-length", "seven".parse().unwrap());
    for h in [two, bad] {
        let (s, f, _) = head_of(StatusCode::OK, &h, None, &ctx);
        assert_eq!(f, ResponseFraming::Chunked, "{s:?}");
        assert!(!s.contains("content-length"), "{s:?}");
    }
}

#[test]
fn title_case_headers_are_opt_in() {
    let date = b"Thu, 01 Jan 1970 00:00:00 GMT";
    let mut h = http::HeaderMap::new();
    h.insert("content-type", "text/plain".parse().unwrap());
    h.insert("x-request-id", "7".parse().unwrap());
    h.insert("www-authenticate", "Basic".parse().unwrap());
    h.insert("etag", "\"a-b\"".parse().unwrap());
    let mut ctx = ResponseContext::new(date);
    ctx.server = Some(b"wego");
    let (lower, ..) = head_of(StatusCode::OK, &h, Some(5), &ctx);
    assert!(lower.contains("\r\ncontent-type: text/plain\r\n"));
    assert!(lower.contains("\r\nx-request-id: 7\r\n"));
    assert!(lower.contains("\r\ncontent-length: 5\r\ndate: "));
    assert!(lower.contains("\r\nserver: wego\r\n"));

    ctx.title_case_headers = true;
    let (s, f, ka) = head_of(StatusCode::OK, &h, Some(5), &ctx);
    assert_eq!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-Id: 7\r\n\
Www-Authenticate: Basic\r\nEtag: \"a-b\"\r\nContent-Length: 5\r\n\
Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nServer: wego\r\n\r\n"
    );
    assert_eq!((f, ka), (ResponseFraming::Length(5), true));
    // Values are never touched; only the framing is the same either way.
    assert_eq!(s.to_ascii_lowercase(), lower.to_ascii_lowercase());

    let (s, ..) = head_of(StatusCode::OK, &h, None, &ctx);
    assert!(s.contains("\r\nTransfer-Encoding: chunked\r\n"));
    ctx.keep_alive = false;
    let (s, ..) = head_of(StatusCode::OK, &h, Some(0), &ctx);
    assert!(s.contains("\r\nConnection: close\r\n"));
    ctx.keep_alive = true;
    ctx.version = Version::HTTP_10;
    let (s, ..) = head_of(StatusCode::OK, &h, Some(0), &ctx);
    assert!(s.contains("\r\nConnection: keep-alive\r\n"));
}

#[test]
fn title_case_reaches_trailers_and_odd_names() {
    let mut t = http::HeaderMap::new();
    t.insert("grpc-status", "0".parse().unwrap());
    t.insert("x--a-", "1".parse().unwrap());
    t.insert("1st-b", "2".parse().unwrap());
    let mut dst = BytesMut::new();
    encode_last_chunk_cased(Some(&t), true, &mut dst);
    assert_eq!(
        &dst[..],
        b"0\r\nGrpc-Status: 0\r\nX--A-: 1\r\n1st-B: 2\r\n\r\n"
    );
    let mut dst = BytesMut::new();
    encode_last_chunk_cased(Some(&t), false, &mut dst);
    assert_eq!(
        &dst[..],
        b"0\r\ngrpc-status: 0\r\nx--a-: 1\r\n1st-b: 2\r\n\r\n"
    );
}

#[test]
fn chunk_encoding() {
    let mut dst = BytesMut::new();
    encode_chunk(b"hello world, this is 26 b.", &mut dst);
    encode_chunk(b"", &mut dst);
    let mut t = http::HeaderMap::new();
    t.insert("x-t", "1".parse().unwrap());
    encode_last_chunk(Some(&t), &mut dst);
    assert_eq!(
        &dst[..],
        b"1a\r\nhello world, this is 26 b.\r\n0\r\nx-t: 1\r\n\r\n"
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn chunked_round_trip(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
                              split in 1usize..64,
                              trailer in proptest::option::of("[a-z]{1,8}")) {
            let mut wire = BytesMut::new();
            for c in &chunks {
                encode_chunk(c, &mut wire);
            }
            let trailers = trailer.map(|v| {
                let mut m = http::HeaderMap::new();
                m.insert("x-trailer", v.parse().unwrap());
                m
            });
            encode_last_chunk(trailers.as_ref(), &mut wire);
            wire.extend_from_slice(b"GET");
            // Feed in pieces of `split` bytes.
            let mut d = ChunkedDecoder::new(4096);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut got_trailers = None;
            let mut ended = false;
            'feed: for piece in wire.chunks(split) {
                buf.extend_from_slice(piece);
                while let Some(x) = d.decode(&mut buf).unwrap() {
                    match x {
                        Decoded::Data(b) => out.extend_from_slice(&b),
                        Decoded::Trailers(t) => got_trailers = Some(t),
                        Decoded::End => { ended = true; break 'feed; }
                    }
                }
            }
            prop_assert!(ended);
            prop_assert_eq!(out, chunks.concat());
            prop_assert_eq!(got_trailers, trailers);
        }

        #[test]
        fn title_case_head_parses_to_the_same_headers(
            names in proptest::collection::vec("[a-z0-9]{1,6}(-[a-z0-9]{0,6}){0,3}", 1..12),
            len in proptest::option::of(0u64..100_000),
        ) {
            let mut h = http::HeaderMap::new();
            for (i, n) in names.iter().enumerate() {
                h.append(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), i.into());
            }
            let date = b"Thu, 01 Jan 1970 00:00:00 GMT";
            let mut ctx = ResponseContext::new(date);
            let parsed = |ctx: &ResponseContext<'_>| {
                let mut dst = BytesMut::new();
                let framing = encode_response_head(StatusCode::OK, &h, len, ctx, &mut dst);
                let mut slots = [httparse::EMPTY_HEADER; 64];
                let mut r = httparse::Response::new(&mut slots);
                assert!(r.parse(&dst).unwrap().is_complete());
                let mut out = http::HeaderMap::new();
                for f in r.headers.iter() {
                    let name = http::HeaderName::from_bytes(f.name.as_bytes()).unwrap();
                    out.append(name, http::HeaderValue::from_bytes(f.value).unwrap());
                }
                let raw_names: Vec<String> = r.headers.iter().map(|f| f.name.to_owned()).collect();
                (framing, out, raw_names)
            };
            let (f1, lower, lower_names) = parsed(&ctx);
            ctx.title_case_headers = true;
            let (f2, title, title_names) = parsed(&ctx);
            prop_assert_eq!(f1, f2);
            prop_assert_eq!(lower, title);
            for (l, t) in lower_names.iter().zip(&title_names) {
                prop_assert_eq!(l, &t.to_ascii_lowercase());
                // Every word starts upper-case (digits stay as they are).
                for word in t.split('-') {
                    prop_assert!(!word.starts_with(|c: char| c.is_ascii_lowercase()), "{}", t);
                }
            }
        }

        #[test]
        fn request_head_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&bytes[..]);
            let _ = parse_request_head(&mut buf, &HeadLimits::default());
        }

        #[test]
        fn chunked_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&bytes[..]);
            let mut d = ChunkedDecoder::new(256);
            for _ in 0..600 {
                match d.decode(&mut buf) {
                    Ok(Some(Decoded::End)) | Ok(None) | Err(_) => break,
                    Ok(Some(_)) => {}
                }
            }
        }
    }
}

#[test]
fn a_head_parsed_into_a_request_replaces_only_its_head() {
    let mut req = http::Request::new(crate::Body::from("kept"));
    req.headers_mut().insert("x-old", "1".parse().unwrap());
    req.extensions_mut().insert(7u32);
    let limits = HeadLimits::default();

    // An incomplete head leaves the request as it was.
    let mut partial = BytesMut::from(&b"GET /a HTTP/1.1\r\nHost: a\r\n"[..]);
    assert!(
        parse_request_head_into(&mut partial, &limits, &mut req)
            .unwrap()
            .is_none()
    );
    assert_eq!(req.headers()["x-old"], "1");
    assert_eq!(req.uri(), "/");

    let mut buf =
        BytesMut::from(&b"POST /b?c=d HTTP/1.0\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"[..]);
    let info = parse_request_head_into(&mut buf, &limits, &mut req)
        .unwrap()
        .unwrap();
    assert_eq!(info.framing, BodyFraming::Length(4));
    assert!(!info.keep_alive && !info.expect_continue && !info.upgrade);
    assert_eq!(req.method(), Method::POST);
    assert_eq!(req.uri(), "/b?c=d");
    assert_eq!(req.version(), Version::HTTP_10);
    assert_eq!(req.headers().len(), 2, "{:?}", req.headers());
    assert!(
        req.headers().get("x-old").is_none(),
        "an earlier field is gone"
    );
    assert_eq!(
        req.extensions().get::<u32>(),
        Some(&7),
        "extensions are left alone"
    );
    assert_eq!(&buf[..], b"body", "the body stays in the buffer");
}
