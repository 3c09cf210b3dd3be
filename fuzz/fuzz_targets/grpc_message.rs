//! Fuzzes the gRPC length-prefixed message decoder (identity and gzip),
//! plus the grpc-timeout and grpc-message parsers: no input may panic, and
//! every decoded message stays within the limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wego_kitex::grpc::codec::{Decoder, Encoding};

const MAX: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    for enc in [None, Some(Encoding::Gzip)] {
        let mut buf = BytesMut::from(data);
        let d = Decoder::new(MAX, enc);
        while let Ok(Some(m)) = d.decode(&mut buf) {
            assert!(m.data.len() <= MAX);
        }
        let _ = d.finish(&buf);
    }
    let _ = wego_kitex::grpc::parse_timeout(data);
    let _ = wego_kitex::grpc::decode_message(data);
});
