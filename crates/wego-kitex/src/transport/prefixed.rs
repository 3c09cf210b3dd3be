//! [`Prefixed`]: an I/O object with already-read bytes replayed in front.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use wego_netpoll::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Wraps `io` so that reads first return `prefix` (bytes already sniffed
/// from it), then continue from `io`. Writes go straight to `io`.
#[derive(Debug)]
pub struct Prefixed<IO> {
    prefix: Bytes,
    io: IO,
}

impl<IO> Prefixed<IO> {
    /// Replays `prefix` before `io`'s own bytes.
    pub fn new(prefix: Bytes, io: IO) -> Self {
        Self { prefix, io }
    }

    /// The bytes not yet replayed.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The wrapped I/O object.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The unreplayed prefix and the I/O object.
    pub fn into_parts(self) -> (Bytes, IO) {
        (self.prefix, self.io)
    }
}

/// The facts of the connection inside: replaying bytes changes no address.
impl<IO: wego_netpoll::ConnInfo> wego_netpoll::ConnInfo for Prefixed<IO> {
    fn peer_addr(&self) -> Option<wego_netpoll::Address> {
        self.io.peer_addr()
    }

    fn local_addr(&self) -> Option<wego_netpoll::Address> {
        self.io.local_addr()
    }

    fn is_active(&self) -> bool {
        self.io.is_active()
    }

    fn tls_info(&self) -> Option<&wego_netpoll::net::TlsInfo> {
        self.io.tls_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Prefixed<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Prefixed<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
