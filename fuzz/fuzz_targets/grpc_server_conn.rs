//! Fuzzes wego-kitex's gRPC server connection as a whole: the frames a
//! client sends after the HTTP/2 preface, in the pieces it sends them,
//! through `GrpcServer::serve_connection` to methods of each shape: a
//! streaming echo, a unary call that reads every message first, one that
//! fails before its first message, one that fails after it, and one that
//! answers without reading its request.
//!
//! The client keeps its side open until the server has answered what it
//! will (`pipe::exchange_until_quiet`): an HTTP/2 server ends the
//! connection when its client's side closes, whatever it had to answer.
//! It must hold that nothing panics, that each connection ends once the
//! client has sent everything and closed its side (no hang), and that
//! what the server writes is a sequence of whole HTTP/2 frames a client
//! can read (`common/h2frames.rs`).
//!
//! Input layout: byte 0 sets the piece size the client writes in (1 to 64
//! bytes, or everything at once); the target sends the preface and then the
//! rest of the input.
#![no_main]

#[path = "common/h2frames.rs"]
mod h2frames;
#[path = "common/pipe.rs"]
mod pipe;

use bytes::Bytes;
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use wego_kitex::grpc::{BoxStream, GrpcRouter, GrpcServer, RawRequest, Response, Status};

/// The largest frame a client accepts unless it says otherwise, and more
/// than any answer here needs (messages are held to 4 KiB).
const MAX_FRAME: usize = 16_384;

fn one(message: Bytes) -> BoxStream<Bytes> {
    Box::pin(futures_util::stream::iter([Ok(message)]))
}

fn router() -> GrpcRouter {
    GrpcRouter::new()
        // Streaming echo: each request message back as it comes.
        .raw("/f.S/Echo", |req: RawRequest| async move {
            Ok(Response::new(Box::pin(req.into_inner()) as BoxStream<Bytes>))
        })
        // Unary-shaped: every message read first, then one answer.
        .raw("/f.S/Unary", |req: RawRequest| async move {
            let mut messages = req.into_inner();
            let mut total = 0usize;
            while let Some(m) = messages.next().await {
                total += m?.len();
            }
            Ok(Response::new(one(Bytes::from(total.to_string()))))
        })
        // A status before any message.
        .raw("/f.S/FailFirst", |_: RawRequest| async move {
            Err(Status::invalid_argument("failed before the first message"))
        })
        // A status after the first message.
        .raw("/f.S/FailAfter", |_: RawRequest| async move {
            let out: BoxStream<Bytes> = Box::pin(futures_util::stream::iter([
                Ok(Bytes::from_static(b"first")),
                Err(Status::internal("failed after the first message")),
            ]));
            Ok(Response::new(out))
        })
        // An answer without reading the request.
        .raw("/f.S/Ignore", |_: RawRequest| async move {
            Ok(Response::new(one(Bytes::from_static(b"ignored"))))
        })
}

fn server() -> GrpcServer {
    GrpcServer::builder()
        .with_max_recv_message_size(4096)
        .with_max_send_message_size(4096)
        .with_max_concurrent_streams(8)
        .with_max_header_list_size(4096)
        .build()
        .expect("server")
}

fuzz_target!(|data: &[u8]| {
    let [piece, rest @ ..] = data else {
        return;
    };
    let piece = pipe::piece_size(*piece, h2frames::PREFACE.len() + rest.len());
    let parts = [h2frames::PREFACE, rest];
    let server = server();
    let out = pipe::block_on_current_thread(pipe::connect(
        |io| server.serve_connection(io, router()),
        |client| pipe::exchange_until_quiet(client, &parts, piece),
    ));
    h2frames::check(&out, MAX_FRAME);
});
