//! Every built-in framing stack and first-bytes detection: arbitrary bytes
//! never panic, and frames never exceed the limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wego_kitex::thrift::Protocol;
use wego_kitex::transport::{FrameCodec, Framing, detect};

fuzz_target!(|data: &[u8]| {
    let _ = detect(data);
    for framing in [
        Framing::Framed,
        Framing::Buffered,
        Framing::TtHeader,
        Framing::TtHeaderFramed,
        Framing::THeader,
    ] {
        for proto in [Protocol::Binary, Protocol::Compact] {
            let codec = framing.codec(proto);
            let mut buf = BytesMut::from(data);
            while let Ok(Some(frame)) = codec.decode(&mut buf, 4096) {
                assert!(frame.payload.len() <= 4096 + 4);
            }
        }
    }
});
