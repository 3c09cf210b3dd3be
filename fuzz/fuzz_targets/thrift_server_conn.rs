//! Fuzzes wego-kitex's Thrift server connection as a whole: what a client
//! sends, in the pieces it sends them, through `Server::serve_connection`,
//! which picks the framing (TTHeader, Framed, Buffered, their mixes) and
//! the protocol (binary, compact, Kitex Protobuf) from the first bytes and
//! then reads calls to a service whose methods answer, fail, or answer
//! nothing (oneway-shaped).
//!
//! It must hold that nothing panics and that each connection ends once the
//! client has sent everything and closed its side: the server answers what
//! it parsed, rejects the rest with an error reply or by closing, and never
//! waits for bytes that cannot come.
//!
//! Input layout: byte 0 sets the piece size the client writes in (1 to
//! 64 bytes, or everything at once); the rest is what the client sends.
#![no_main]

#[path = "common/pipe.rs"]
mod pipe;

use libfuzzer_sys::fuzz_target;
use wego_kitex::BoxError;
use wego_kitex::server::{Server, ThriftReply, ThriftRequest};
use wego_netpoll::rt::Runtime;

thread_local! {
    static RT: Runtime = Runtime::builder().build().expect("runtime");
}

fn server() -> Server {
    Server::builder()
        // `echo` answers with its arguments, `fail` with an error, `quiet`
        // with no reply.
        .service(
            "Echo",
            &["echo", "fail", "quiet"],
            tower::service_fn(|req: ThriftRequest| async move {
                match req.context.rpc_info.method.as_str() {
                    "echo" => Ok(ThriftReply::Result(req.args)),
                    "quiet" => Ok(ThriftReply::None),
                    _ => Err::<_, BoxError>("the method failed".into()),
                }
            }),
        )
        .with_max_frame(4096)
        .build()
        .expect("server")
}

fuzz_target!(|data: &[u8]| {
    let [piece, input @ ..] = data else {
        return;
    };
    let piece = pipe::piece_size(*piece, input.len());
    let server = server();
    RT.with(|rt| {
        rt.block_on(pipe::connect(
            |io| server.serve_connection(io),
            |client| pipe::exchange(client, input, piece),
        ))
    });
});
