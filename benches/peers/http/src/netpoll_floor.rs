//! `netpoll-floor` and `netpoll-floor-tokio`: the floor's connections
//! (`floor_connection`, the same code as `floor`) as tasks on
//! wego-netpoll's runtime, through its `Listener` and `Conn` (tokio's
//! `AsyncRead`/`AsyncWrite`), with one worker, as `http-hello --threads 1`
//! runs: the polling backend (`netpoll-floor`) or the tokio backend with
//! the per-core flavour (`netpoll-floor-tokio`). Minus `epoll-floor`, the
//! runtime's and the connection type's share of a wego request.
//!
//! `api-floor-netpoll` and `api-floor-netpoll-tokio` answer with
//! `api-floor`'s per-request work (`api_floor::answer`) instead, on the
//! same runtime and connections: the least any implementation of
//! wego-hertz's API can cost on that backend of wego-netpoll, with no
//! routing, checks or connection driver (minus `api-floor`, the runtime's
//! share under the API's work).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroUsize;

use wego_netpoll::{Listener, rt};

use super::floor_connection;

/// What a connection answers with.
#[derive(Clone, Copy, Debug)]
pub enum Answers {
    /// The floor's fixed response per head (`floor_connection`).
    Floor,
    /// `api-floor`'s work per head (`api_connection`).
    #[cfg(target_os = "linux")]
    Api,
}

/// Serves `addr` on one worker of the given backend.
pub fn serve(
    addr: SocketAddr,
    backend: rt::Backend,
    answers: Answers,
) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = rt::Runtime::builder()
        .backend(backend)
        .worker_threads(NonZeroUsize::MIN)
        .build()?;
    // Accepting runs on the worker, beside its connections, as in
    // `http-hello`.
    match runtime.block_on(runtime.spawn(accept(addr, backend, answers)))?? {}
}

/// Accepts until accepting fails, each connection a task.
async fn accept(
    addr: SocketAddr,
    backend: rt::Backend,
    answers: Answers,
) -> Result<Infallible, wego_netpoll::Error> {
    let listener = Listener::bind(&addr.into()).await?;
    eprintln!("netpoll-floor ({backend:?}, {answers:?}) listening on {addr}");
    loop {
        let conn = listener.accept().await?;
        match answers {
            Answers::Floor => drop(rt::spawn(floor_connection(conn))),
            #[cfg(target_os = "linux")]
            Answers::Api => drop(rt::spawn(api_connection(conn))),
        }
    }
}

/// One connection answered with `api-floor`'s work, read and written as
/// `floor_connection` does.
#[cfg(target_os = "linux")]
async fn api_connection(io: wego_netpoll::Conn) {
    let Some(peer) = io.peer_addr().as_tcp() else {
        return;
    };
    super::answer_connection(io, move |buf, out| {
        super::api_floor::answer(buf, peer, out).is_ok()
    })
    .await;
}
