//! Fuzzes wego-hertz's HTTP/1.1 response-head parser (the client's side):
//! any bytes must give a head, "need more" or a typed error, never a panic;
//! a parsed head consumes only bytes it was given, a body that runs until
//! close never allows reuse, and a prefix of a valid head is never an error.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wego_hertz::codec::{ResponseBodyFraming, ResponseLimits, parse_response_head};

fuzz_target!(|data: &[u8]| {
    let mut limits = ResponseLimits::default();
    limits.max_head = 1024;
    limits.max_headers = 16;
    let head_request = data.first().is_some_and(|b| b & 1 == 1);
    let mut buf = BytesMut::from(data);
    let whole_ok = match parse_response_head(&mut buf, &limits, head_request) {
        Ok(Some(head)) => {
            assert!(buf.len() < data.len());
            if head.framing == ResponseBodyFraming::UntilClose {
                assert!(!head.keep_alive);
            }
            if head_request {
                assert_eq!(head.framing, ResponseBodyFraming::Empty);
            }
            true
        }
        Ok(None) => {
            assert!(data.len() < limits.max_head);
            false
        }
        Err(_) => false,
    };
    if whole_ok && data.len() <= 300 {
        for cut in 0..data.len() {
            let mut prefix = BytesMut::from(&data[..cut]);
            assert!(
                parse_response_head(&mut prefix, &limits, head_request).is_ok(),
                "prefix of a valid head rejected"
            );
        }
    }
});
