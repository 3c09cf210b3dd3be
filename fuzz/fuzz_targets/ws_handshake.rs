//! Fuzzes wego-hertz's WebSocket opening handshake checks: any request
//! head the HTTP/1.1 parser accepts goes through the server's checks, and
//! its headers, as a response, through the client's, giving a handshake
//! or a typed error, never a panic. An accepted request has a key of 16
//! bytes in base64 and a 28-character accept value; a refusal maps to a
//! 4xx status.
#![no_main]

use bytes::BytesMut;
use http::{HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use wego_hertz::codec::{HeadLimits, parse_request_head};
use wego_hertz::ws::{check_request, check_response};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let Ok(Some(head)) = parse_request_head(&mut buf, &HeadLimits::default()) else {
        return;
    };
    let parts = &head.parts;
    match check_request(&parts.method, parts.version, &parts.headers) {
        Ok(ok) => {
            assert_eq!(ok.accept.len(), 28);
            let key = parts.headers.get("sec-websocket-key").expect("a key");
            assert_eq!(key.len(), 24);
        }
        Err(e) => assert!(e.status().is_client_error(), "{e}: {}", e.status()),
    }
    let key = HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ==");
    let offered: Vec<Box<str>> = vec!["chat".into()];
    if let Ok(Some(p)) = check_response(
        StatusCode::SWITCHING_PROTOCOLS,
        &parts.headers,
        &key,
        &offered,
    ) {
        assert_eq!(p, "chat");
    }
});
