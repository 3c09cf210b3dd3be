//! `netpoll-floor` and `netpoll-floor-tokio`: the floor's answers (find
//! `\r\n\r\n`, write `FLOOR_RESPONSE`) from a task per connection on
//! wego-netpoll's runtime, through its `Listener` and `Conn` (tokio's
//! `AsyncRead`/`AsyncWrite`), with one worker, as `http-hello --threads 1`
//! runs: the polling backend (`netpoll-floor`) or the tokio backend with
//! the per-core flavour (`netpoll-floor-tokio`). Minus `epoll-floor`, the
//! runtime's and the connection type's share of a wego request.

use std::net::SocketAddr;
use std::num::NonZeroUsize;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Conn, Listener, rt};

use super::FLOOR_RESPONSE;

/// Serves `addr` on one worker of the given backend.
pub fn serve(addr: SocketAddr, backend: rt::Backend) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = rt::Runtime::builder()
        .backend(backend)
        .worker_threads(NonZeroUsize::MIN)
        .build()?;
    // Accepting runs on the worker, beside its connections, as in
    // `http-hello`.
    let serving = runtime.spawn(async move {
        let listener = Listener::bind(&addr.into()).await?;
        eprintln!("netpoll-floor ({backend:?}) listening on {addr}");
        loop {
            let conn = listener.accept().await?;
            rt::spawn(answer(conn));
        }
        #[allow(unreachable_code)]
        Ok::<(), wego_netpoll::Error>(())
    });
    runtime.block_on(serving)??;
    Ok(())
}

async fn answer(mut conn: Conn) {
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut out = Vec::with_capacity(8 * 1024);
    loop {
        buf.reserve(8 * 1024);
        match conn.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut consumed = 0;
        while let Some(end) = buf[consumed..].windows(4).position(|w| w == b"\r\n\r\n") {
            consumed += end + 4;
            out.extend_from_slice(FLOOR_RESPONSE);
        }
        if consumed == buf.len() {
            buf.clear();
        } else {
            bytes::Buf::advance(&mut buf, consumed);
        }
        if buf.len() > 64 * 1024 {
            return;
        }
        if !out.is_empty() {
            if conn.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}
