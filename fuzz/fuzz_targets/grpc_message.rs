//! Fuzzes the gRPC length-prefixed message decoder (identity and gzip),
//! plus the grpc-timeout and grpc-message parsers: no input may panic,
//! every decoded message stays within the limit, and decoding from
//! contiguous bytes agrees with decoding from a buffer.
#![no_main]

use bytes::{Bytes, BytesMut};
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
        // The zero-copy path decodes the same messages.
        let mut copied = BytesMut::from(data);
        let mut shared = Bytes::copy_from_slice(data);
        loop {
            let a = d.decode(&mut copied);
            let b = d.decode_bytes(&mut shared);
            assert_eq!(a, b);
            if !matches!(a, Ok(Some(_))) {
                break;
            }
        }
    }
    let _ = wego_kitex::grpc::parse_timeout(data);
    let _ = wego_kitex::grpc::decode_message(data);
});
