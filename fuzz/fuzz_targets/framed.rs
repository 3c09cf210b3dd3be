//! Framed and buffered readers and first-bytes detection: arbitrary bytes
//! never panic, and frames never exceed the limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wego_kitex::thrift::Protocol;
use wego_kitex::transport::{Framing, decode_frame, detect};

fuzz_target!(|data: &[u8]| {
    let _ = detect(data);
    for framing in [Framing::Framed, Framing::Buffered, Framing::TtHeader] {
        for proto in [Protocol::Binary, Protocol::Compact] {
            let mut buf = BytesMut::from(data);
            while let Ok(Some((_, payload))) = decode_frame(&mut buf, framing, proto, 4096) {
                assert!(payload.len() <= 4096 + 4);
            }
        }
    }
});
