//! [`Prefixed`]: an I/O object with already-read bytes replayed in front.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Address, ConnInfo, TlsInfo};

/// Wraps `io` so that reads first return `prefix` (bytes already read from
/// it to sniff the protocol), then continue from `io`. Writes go straight
/// to `io`. Servers that tell protocols apart by their first bytes (kitex's
/// one-port detection, the TLS acceptor's `incoming_or_plain`) hand the
/// connection on in one of these.
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
impl<IO: ConnInfo> ConnInfo for Prefixed<IO> {
    fn peer_addr(&self) -> Option<Address> {
        self.io.peer_addr()
    }

    fn local_addr(&self) -> Option<Address> {
        self.io.local_addr()
    }

    fn is_active(&self) -> bool {
        // Bytes still to replay are input the reader has not seen yet.
        !self.prefix.is_empty() || self.io.is_active()
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_prefix_comes_first_in_small_reads_then_the_io_and_writes_pass_through() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = Prefixed::new(Bytes::from_static(b"abc"), a);
        assert_eq!(io.prefix(), b"abc");
        crate::rt::block_on(async move {
            b.write_all(b"def").await.unwrap();
            let mut two = [0u8; 2];
            io.read_exact(&mut two).await.unwrap();
            assert_eq!(&two, b"ab");
            assert_eq!(io.prefix(), b"c");
            let mut rest = [0u8; 4];
            io.read_exact(&mut rest).await.unwrap();
            assert_eq!(&rest, b"cdef");
            io.write_all(b"up").await.unwrap();
            let mut up = [0u8; 2];
            b.read_exact(&mut up).await.unwrap();
            assert_eq!(&up, b"up");
            let (prefix, _io) = io.into_parts();
            assert!(prefix.is_empty());
        })
        .unwrap();
    }
}
