//! Every built-in framing stack and first-bytes detection: arbitrary bytes
//! never panic, frames never exceed the limit, and decoding the bytes as
//! they arrive in pieces, resuming with the connection's `DecodeState`,
//! gives the same frames and the same end as decoding them all at once.
//!
//! Input layout: byte 0 sets the piece size (1 to 64 bytes, or everything
//! at once); the rest is the bytes.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use wego_kitex::thrift::{DecodeState, Protocol};
use wego_kitex::transport::{FrameCodec, Framing, detect};

const MAX: usize = 4096;

/// The frames' payloads, and whether decoding ended in an error.
fn whole(codec: &dyn FrameCodec, data: &[u8]) -> (Vec<Bytes>, bool) {
    let mut buf = BytesMut::from(data);
    let mut frames = Vec::new();
    loop {
        match codec.decode(&mut buf, MAX) {
            Ok(Some(frame)) => {
                assert!(frame.payload.len() <= MAX + 4);
                frames.push(frame.payload);
            }
            Ok(None) => return (frames, false),
            Err(_) => return (frames, true),
        }
    }
}

/// As [`whole`], the bytes appended `piece` at a time, each time decoding
/// what is there, resumed where the last decode stopped.
fn in_pieces(codec: &dyn FrameCodec, data: &[u8], piece: usize) -> (Vec<Bytes>, bool) {
    let mut buf = BytesMut::new();
    let mut state = DecodeState::default();
    let mut frames = Vec::new();
    for chunk in data.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode_resume(&mut buf, MAX, &mut state) {
                Ok(Some(frame)) => frames.push(frame.payload),
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
    }
    (frames, false)
}

fuzz_target!(|input: &[u8]| {
    let [piece, data @ ..] = input else {
        return;
    };
    let piece = match piece % 65 {
        0 => data.len().max(1),
        n => usize::from(n),
    };
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
            let at_once = whole(&*codec, data);
            let resumed = in_pieces(&*codec, data, piece);
            assert_eq!(
                at_once, resumed,
                "{framing:?}/{proto:?}: at once and in pieces of {piece} differ"
            );
        }
    }
});
