//! Fuzzes wego-hertz's chunked body decoder: fed in pieces of varying size,
//! it must yield data, trailers, end, "need more" or an error, never panic
//! or loop; the decoded data never exceeds the input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wego_hertz::codec::{ChunkedDecoder, Decoded};

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(step % 32) + 1;
    let mut decoder = ChunkedDecoder::new(512);
    let mut buf = BytesMut::new();
    let mut out = 0usize;
    'feed: for piece in input.chunks(step) {
        buf.extend_from_slice(piece);
        // Each call consumes input or stops; bound the loop anyway.
        for _ in 0..=input.len() + 2 {
            match decoder.decode(&mut buf) {
                Ok(Some(Decoded::Data(d))) => {
                    assert!(!d.is_empty());
                    out += d.len();
                }
                Ok(Some(Decoded::Trailers(_))) => {}
                Ok(Some(Decoded::End)) => break 'feed,
                Ok(Some(_)) => {}
                Ok(None) => continue 'feed,
                Err(_) => break 'feed,
            }
        }
        panic!("decoder made no progress");
    }
    assert!(out <= input.len());
});
