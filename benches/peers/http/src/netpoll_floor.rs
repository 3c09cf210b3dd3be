//! `netpoll-floor` and `netpoll-floor-tokio`: the floor's connections
//! (`floor_connection`, the same code as `floor`) as tasks on
//! wego-netpoll's runtime, through its `Listener` and `Conn` (tokio's
//! `AsyncRead`/`AsyncWrite`), with one worker, as `http-hello --threads 1`
//! runs: the polling backend (`netpoll-floor`) or the tokio backend with
//! the per-core flavour (`netpoll-floor-tokio`). Minus `epoll-floor`, the
//! runtime's and the connection type's share of a wego request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroUsize;

use wego_netpoll::{Listener, rt};

use super::floor_connection;

/// Serves `addr` on one worker of the given backend.
pub fn serve(addr: SocketAddr, backend: rt::Backend) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = rt::Runtime::builder()
        .backend(backend)
        .worker_threads(NonZeroUsize::MIN)
        .build()?;
    // Accepting runs on the worker, beside its connections, as in
    // `http-hello`.
    match runtime.block_on(runtime.spawn(accept(addr, backend)))?? {}
}

/// Accepts until accepting fails, each connection a task.
async fn accept(addr: SocketAddr, backend: rt::Backend) -> Result<Infallible, wego_netpoll::Error> {
    let listener = Listener::bind(&addr.into()).await?;
    eprintln!("netpoll-floor ({backend:?}) listening on {addr}");
    loop {
        let conn = listener.accept().await?;
        rt::spawn(floor_connection(conn));
    }
}
