//! Lingering close (RFC 9112 §9.6): before the driver closes a connection
//! whose client may still be sending the request, it reads and discards
//! what arrives for a bounded time.
//!
//! A socket closed with unread bytes, or that receives bytes once closed,
//! is reset by the kernel. A client still sending its request body when
//! the server has already answered (an early 413, a refused
//! `100-continue`) then sees its writes fail before it reads the answer,
//! and the reset may erase the answer from its buffers too. So, as Go's `closeWriteAndWait` and nginx's `lingering_close`
//! do, the driver first shuts down its write side (the client reads the
//! answer, then EOF), then reads until the client closes, the read fails,
//! `linger_limit` bytes are discarded, `linger_timeout` passes or a
//! graceful shutdown begins, whichever comes first.

use std::convert::Infallible;

use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tower_service::Service;
use wego_netpoll::{Watcher, rt};

use super::{Driver, poll_read_lent};
use crate::body::Body;

impl<S, IO> Driver<S, IO>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// Reads and discards the client's bytes until it closes, the read
    /// fails, `linger_limit` bytes are read (those already buffered
    /// included), `linger_timeout` passes or a shutdown drains. The write
    /// side is already shut down.
    pub(super) async fn linger(&mut self, watcher: &Watcher) {
        let timeout = self.config.linger_timeout;
        if timeout.is_zero() {
            return;
        }
        let mut left = self.config.linger_limit.saturating_sub(self.rbuf.len());
        let (io, rbuf) = (&mut self.io, &mut self.rbuf);
        let discard = async {
            while left > 0 {
                rbuf.clear();
                match std::future::poll_fn(|cx| poll_read_lent(io, rbuf, cx)).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
            tracing::debug!("lingering close: byte limit reached");
        };
        // A graceful shutdown closes a lingering connection at once, as it
        // closes an idle one: its answer is written, and the server is
        // going away.
        tokio::select! {
            biased;
            () = watcher.draining() => {}
            r = rt::timeout(timeout, discard) => {
                if r.is_err() {
                    tracing::debug!("lingering close: time limit reached");
                }
            }
        }
        rbuf.clear();
    }
}
