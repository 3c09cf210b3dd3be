//! Fuzzes wego-hertz's HTTP/1.1 request-head parser: any bytes, any split
//! point, must give a head, "need more" or a typed error, never a panic;
//! a parsed head must consume only bytes it was given, and a rejected one
//! must map to a 4xx/5xx status, an accepted head has no line ending in a
//! bare LF, and a parsed `Host` holds only bytes RFC 3986's
//! `uri-host [":" port]` allows.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wego_hertz::codec::{HeadLimits, parse_request_head};

fuzz_target!(|data: &[u8]| {
    let mut limits = HeadLimits::default();
    limits.max_request_line = 256;
    limits.max_head = 1024;
    limits.max_headers = 16;
    // Whole input at once.
    let mut buf = BytesMut::from(data);
    match parse_request_head(&mut buf, &limits) {
        Ok(Some(head)) => {
            assert!(buf.len() < data.len());
            // RFC 9112 §2.2: every line of an accepted head ends in CRLF.
            let consumed = &data[..data.len() - buf.len()];
            assert!(
                consumed
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b != b'\n' || (i > 0 && consumed[i - 1] == b'\r')),
                "bare LF accepted"
            );
            for host in head.parts.headers.get_all(http::header::HOST) {
                assert!(
                    host.as_bytes()
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%:[]".contains(&b)),
                    "invalid host accepted: {host:?}"
                );
            }
        }
        Ok(None) => assert!(data.len() <= limits.max_head),
        Err(e) => assert!(e.status().is_client_error() || e.status().is_server_error()),
    }
    // Byte-by-byte prefixes agree with the whole: a prefix never errors
    // where the whole succeeds.
    if data.len() <= 300 {
        let whole_ok = matches!(
            parse_request_head(&mut BytesMut::from(data), &limits),
            Ok(Some(_))
        );
        for cut in 0..data.len() {
            let mut prefix = BytesMut::from(&data[..cut]);
            let r = parse_request_head(&mut prefix, &limits);
            if whole_ok {
                assert!(r.is_ok(), "prefix of a valid head rejected");
            }
        }
    }
});
