//! Fuzzes wego-hertz's permessage-deflate: arbitrary bytes as a peer's
//! frame stream (cut at an arbitrary point, read as a server and as a
//! client) decode to plain frames or fail with an error, never a panic or
//! an allocation past the limits; the same bytes sent as a compressed
//! message inflate back to themselves; and the first line, as a
//! `Sec-WebSocket-Extensions` field, goes through the server's choice and
//! the client's check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wego_hertz::ws::{fuzz_frames, fuzz_negotiation};

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b));
    fuzz_frames(data, split);
    let line = data.split(|b| *b == b'\n').next().unwrap_or_default();
    fuzz_negotiation(line);
});
