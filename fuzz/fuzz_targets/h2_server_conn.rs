//! Fuzzes wego-hertz's HTTP/2 server connection as a whole: what a client
//! sends, in the pieces it sends them, through `serve_connection` with
//! HTTP/2 on, either after the prior-knowledge preface or as an HTTP/1.1
//! request that asks for `Upgrade: h2c`, to handlers of each shape
//! (buffered echo, streaming echo, a body that fails before its first byte
//! and one that fails after it, a handler that never reads its body).
//!
//! The client keeps its side open until the server has answered what it
//! will (`pipe::exchange_until_quiet`): an HTTP/2 server ends the
//! connection when its client's side closes, whatever it had to answer.
//! It must hold that nothing panics, that each connection ends once the
//! client has sent everything and closed its side (no hang), and that
//! what the server writes on HTTP/2 is a sequence of whole frames a client
//! can read (`common/h2frames.rs`).
//!
//! Input layout: byte 0 sets the piece size the client writes in (1 to 64
//! bytes, or everything at once); byte 1's low bit picks the opening: 0,
//! the target sends the preface and then the rest of the input (frames); 1,
//! the rest is sent as it is (an HTTP/1.1 request, `Upgrade: h2c` or not),
//! waiting for the server's answer before a preface in it, as an upgrading
//! client does (RFC 7540 §3.2).
#![no_main]

#[path = "common/h2frames.rs"]
mod h2frames;
#[path = "common/hertz_app.rs"]
mod hertz_app;
#[path = "common/pipe.rs"]
mod pipe;

use libfuzzer_sys::fuzz_target;
use wego_hertz::Server;

/// The largest frame a client accepts unless it says otherwise, and more
/// than any answer here needs (bodies and header lists are held to 4 KiB).
const MAX_FRAME: usize = 16_384;

fn server() -> Server {
    Server::builder()
        .with_http2(true)
        .with_max_request_line(256)
        .with_max_head_size(1024)
        .with_max_headers(16)
        .with_body_limit(4096)
        .with_drain_limit(1024)
        .with_http2_max_concurrent_streams(8)
        .with_http2_max_header_list_size(4096)
        .with_http2_initial_stream_window_size(1024)
        .with_http2_max_pending_accept_reset_streams(4)
        .with_http2_max_local_error_reset_streams(4)
        .build()
        .expect("server")
}

/// The HTTP/2 part of `out`, what follows an upgrade's `101` head, or
/// `None` when the server answered on HTTP/1.1 only.
fn after_upgrade(out: &[u8]) -> Option<&[u8]> {
    if !out.starts_with(b"HTTP/1.1 101 ") {
        return None;
    }
    let end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(&out[end + 4..])
}

fuzz_target!(|data: &[u8]| {
    let [piece, mode, rest @ ..] = data else {
        return;
    };
    let prior_knowledge = mode & 1 == 0;
    // An upgrading client sends its preface once the `101` has come.
    let parts: [&[u8]; 2] = if prior_knowledge {
        [h2frames::PREFACE, rest]
    } else {
        match rest
            .windows(h2frames::PREFACE.len())
            .position(|w| w == h2frames::PREFACE)
        {
            Some(at) => [&rest[..at], &rest[at..]],
            None => [rest, &[]],
        }
    };
    let piece = pipe::piece_size(*piece, parts[0].len() + parts[1].len());
    let server = server();
    let out = pipe::block_on_current_thread(pipe::connect(
        |io| server.serve_connection(io, hertz_app::app(|_| {})),
        |client| pipe::exchange_until_quiet(client, &parts, piece),
    ));
    if prior_knowledge {
        h2frames::check(&out, MAX_FRAME);
    } else if let Some(frames) = after_upgrade(&out) {
        h2frames::check(frames, MAX_FRAME);
    }
});
