//! Write coalescing under h2: one socket write per connection wake-up
//! instead of one per DATA frame.
//!
//! h2's frame writer keeps a DATA payload of 256 bytes or more out of its
//! buffer (to avoid a copy) and can then hold only that one frame, so every
//! such frame costs its own `writev`, however many calls answered in the
//! same wake-up. [`Coalesce`] sits between h2 and the socket: writes are
//! appended to a buffer (up to [`MAX_BUFFERED`]; beyond that they go
//! through), h2's flushes are deferred, and the connection loop calls
//! [`FlushHandle::poll_flush`] once it has run every call the wake-up made
//! ready, so their frames leave in one write. Reads pass straight through.
//! The connection loop must call it before it returns `Pending` (the client's
//! driver may first yield once, see `connection.rs`); a shutdown flushes as
//! well.
//!
//! The buffer is lent from the per-thread pool of `wego_netpoll::buffer::pool`
//! by the first write
//! that needs it and given back once the socket has taken every byte, so a
//! connection with nothing to write holds no buffer.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};

use wego_netpoll::io::{AsyncRead, AsyncWrite, ReadBuf};

use bytes::BytesMut;
use wego_netpoll::buffer::pool;

/// Above this many buffered bytes a write first pushes the buffer out.
pub(crate) const MAX_BUFFERED: usize = 64 * 1024;

struct Shared<IO> {
    io: IO,
    /// Lent while it holds bytes; otherwise empty with no allocation.
    buf: BytesMut,
    /// How much of `buf` already went out.
    sent: usize,
}

impl<IO: AsyncWrite + Unpin> Shared<IO> {
    /// Writes the buffer out; `Ready(Ok)` once it is empty.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buf.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buf[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        pool::give_back(std::mem::take(&mut self.buf));
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Appends `data`, borrowing a buffer if none is lent.
    fn append(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.buf.capacity() == 0 {
            self.buf = pool::lend();
        }
        self.buf.extend_from_slice(data);
    }

    /// Makes room for `n` more bytes, draining first if the buffer would
    /// grow past the limit.
    fn poll_room(&mut self, cx: &mut Context<'_>, n: usize) -> Poll<io::Result<()>> {
        if self.buf.len() + n > MAX_BUFFERED && !self.buf.is_empty() {
            ready!(self.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

/// The IO h2 sees: buffered writes, deferred flushes.
pub(crate) struct Coalesce<IO> {
    shared: Arc<Mutex<Shared<IO>>>,
}

/// Flushes what [`Coalesce`] buffered; held by the connection loop.
pub(crate) struct FlushHandle<IO> {
    shared: Arc<Mutex<Shared<IO>>>,
}

fn lock<IO>(m: &Mutex<Shared<IO>>) -> MutexGuard<'_, Shared<IO>> {
    // Only the connection's task touches the IO; a poisoned lock means a
    // panic mid-write, and the connection fails on its next write anyway.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Wraps `io`, returning the IO for h2 and the loop's flush handle.
pub(crate) fn coalesce<IO>(io: IO) -> (Coalesce<IO>, FlushHandle<IO>) {
    let shared = Arc::new(Mutex::new(Shared {
        io,
        buf: BytesMut::new(),
        sent: 0,
    }));
    (
        Coalesce {
            shared: shared.clone(),
        },
        FlushHandle { shared },
    )
}

impl<IO: AsyncWrite + Unpin> FlushHandle<IO> {
    /// Whether writes are waiting for [`FlushHandle::poll_flush`].
    pub(crate) fn has_buffered(&self) -> bool {
        !lock(&self.shared).buf.is_empty()
    }

    /// Writes everything buffered. `Pending` when the socket is full (the
    /// task is woken when it drains).
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = lock(&self.shared);
        if !s.buf.is_empty() {
            ready!(s.poll_drain(cx))?;
        }
        // Always the IO's own flush as well: a TLS stream may hold records
        // from an earlier drain that it could not send then.
        Pin::new(&mut s.io).poll_flush(cx)
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Coalesce<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.shared).io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Coalesce<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut s = lock(&self.shared);
        ready!(s.poll_room(cx, data.len()))?;
        if data.len() > MAX_BUFFERED {
            // Too big to be worth a copy: straight through.
            return Pin::new(&mut s.io).poll_write(cx, data);
        }
        s.append(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut s = lock(&self.shared);
        ready!(s.poll_room(cx, total))?;
        if total > MAX_BUFFERED {
            return Pin::new(&mut s.io).poll_write_vectored(cx, bufs);
        }
        for b in bufs {
            s.append(b);
        }
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Deferred to the connection loop's FlushHandle::poll_flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = lock(&self.shared);
        ready!(s.poll_drain(cx))?;
        Pin::new(&mut s.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn writes_wait_for_the_handle_and_leave_together() {
        wego_netpoll::rt::block_on(async {
            let (a, mut b) = tokio::io::duplex(1 << 20);
            let (mut io, flush) = coalesce(a);
            io.write_all(b"one ").await.unwrap();
            io.write_all(b"two").await.unwrap();
            io.flush().await.unwrap();
            let mut got = [0u8; 7];
            // Nothing went out yet: the flush is deferred.
            let early = wego_netpoll::rt::timeout(
                std::time::Duration::from_millis(20),
                b.read_exact(&mut got),
            )
            .await;
            assert!(early.is_err(), "bytes left before the handle flushed");
            std::future::poll_fn(|cx| flush.poll_flush(cx))
                .await
                .unwrap();
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"one two");
        })
        .unwrap();
    }

    #[test]
    fn a_buffer_is_held_only_until_flushed() {
        wego_netpoll::rt::block_on(async {
            let (a, mut b) = tokio::io::duplex(1 << 20);
            let (mut io, flush) = coalesce(a);
            assert_eq!(lock(&flush.shared).buf.capacity(), 0, "none at first");
            io.write_all(b"frame").await.unwrap();
            io.write_all(b"").await.unwrap();
            assert!(lock(&flush.shared).buf.capacity() > 0, "lent to write");
            std::future::poll_fn(|cx| flush.poll_flush(cx))
                .await
                .unwrap();
            assert_eq!(lock(&flush.shared).buf.capacity(), 0, "given back");
            let mut got = [0u8; 5];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"frame");
        })
        .unwrap();
    }

    #[test]
    fn large_writes_go_through_and_shutdown_flushes() {
        wego_netpoll::rt::block_on(async {
            let (a, mut b) = tokio::io::duplex(4 << 20);
            let (mut io, _flush) = coalesce(a);
            io.write_all(b"head").await.unwrap();
            let big = vec![7u8; MAX_BUFFERED + 1];
            io.write_all(&big).await.unwrap();
            io.write_all(b"tail").await.unwrap();
            io.shutdown().await.unwrap();
            let mut got = Vec::new();
            b.read_to_end(&mut got).await.unwrap();
            assert_eq!(got.len(), 4 + big.len() + 4);
            assert_eq!(&got[..4], b"head");
            assert_eq!(&got[got.len() - 4..], b"tail");
        })
        .unwrap();
    }
}
