//! A connection: TCP or Unix stream, with addresses and a liveness check.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Address;

/// An established connection.
///
/// Implements tokio's [`AsyncRead`] and [`AsyncWrite`] (vectored writes
/// included), so any codec or TLS layer written against those traits runs on
/// it. Shutting down the write half (`AsyncWriteExt::shutdown`) half-closes
/// the connection: the peer reads end-of-stream and may keep writing.
#[derive(Debug)]
pub struct Conn {
    stream: Stream,
    local: Address,
    peer: Address,
    /// Set once a read saw end-of-stream or a read/write failed.
    closed: bool,
}

#[derive(Debug)]
enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

impl Conn {
    pub(crate) fn from_tcp(stream: tokio::net::TcpStream) -> io::Result<Self> {
        let local = Address::Tcp(stream.local_addr()?);
        let peer = Address::Tcp(stream.peer_addr()?);
        Ok(Self {
            stream: Stream::Tcp(stream),
            local,
            peer,
            closed: false,
        })
    }

    pub(crate) fn from_unix(stream: tokio::net::UnixStream, local: Address) -> Self {
        let peer = stream
            .peer_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(|p| Address::Unix(p.to_owned())))
            .unwrap_or_else(|| Address::Unix(Default::default()));
        Self {
            stream: Stream::Unix(stream),
            local,
            peer,
            closed: false,
        }
    }

    /// The address of this end.
    pub fn local_addr(&self) -> &Address {
        &self.local
    }

    /// The address of the other end (an empty path for unnamed Unix peers).
    pub fn peer_addr(&self) -> &Address {
        &self.peer
    }

    /// Returns true until the peer has closed the connection or it failed.
    ///
    /// Checks without consuming data and without blocking: data waiting to be
    /// read counts as active; an orderly close (FIN) or reset from the peer
    /// that has arrived counts as inactive even if nothing was read yet. Use it
    /// before reusing a pooled connection.
    pub fn is_active(&self) -> bool {
        if self.closed {
            return false;
        }
        let sock = match &self.stream {
            Stream::Tcp(s) => socket2::SockRef::from(s),
            Stream::Unix(s) => socket2::SockRef::from(s),
        };
        let mut probe = [MaybeUninit::<u8>::uninit(); 1];
        // The socket is non-blocking (the backend registered it), so a peek
        // with nothing to read returns WouldBlock instead of waiting.
        match sock.peek(&mut probe) {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
            Err(_) => false,
        }
    }

    /// Enables or disables Nagle's algorithm (TCP only; no-op on Unix sockets).
    ///
    /// # Errors
    ///
    /// Fails if the socket option cannot be set.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        match &self.stream {
            Stream::Tcp(s) => s.set_nodelay(nodelay),
            Stream::Unix(_) => Ok(()),
        }
    }

    pub(crate) fn set_peer(&mut self, peer: Address) {
        self.peer = peer;
    }

    /// Takes the socket off the poller of the runtime it was registered on,
    /// keeping the addresses, so that [`DetachedConn::attach`] can register
    /// it on another runtime's poller.
    ///
    /// On failure the socket is closed (tokio consumes it).
    pub(crate) fn detach(self) -> io::Result<DetachedConn> {
        let stream = match self.stream {
            Stream::Tcp(s) => DetachedStream::Tcp(s.into_std()?),
            Stream::Unix(s) => DetachedStream::Unix(s.into_std()?),
        };
        Ok(DetachedConn {
            stream,
            local: self.local,
            peer: self.peer,
            closed: self.closed,
        })
    }

    fn note<T>(&mut self, res: &Poll<io::Result<T>>) {
        if let Poll::Ready(Err(_)) = res {
            self.closed = true;
        }
    }
}

/// A [`Conn`] registered with no poller: a plain non-blocking socket plus its
/// addresses, on its way from one runtime worker to another.
#[derive(Debug)]
pub(crate) struct DetachedConn {
    stream: DetachedStream,
    local: Address,
    peer: Address,
    closed: bool,
}

#[derive(Debug)]
enum DetachedStream {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl DetachedConn {
    /// Registers the socket with the poller of the runtime this runs on.
    ///
    /// Must be called inside a runtime (tokio panics otherwise). On failure
    /// the socket is closed.
    pub(crate) fn attach(self) -> io::Result<Conn> {
        // `into_std` left the sockets non-blocking, as `from_std` requires.
        let stream = match self.stream {
            DetachedStream::Tcp(s) => Stream::Tcp(tokio::net::TcpStream::from_std(s)?),
            DetachedStream::Unix(s) => Stream::Unix(tokio::net::UnixStream::from_std(s)?),
        };
        Ok(Conn {
            stream,
            local: self.local,
            peer: self.peer,
            closed: self.closed,
        })
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = match &mut this.stream {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        };
        if let Poll::Ready(Ok(())) = res
            && buf.filled().len() == before
            && buf.remaining() > 0
        {
            this.closed = true;
        }
        this.note(&res);
        res
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = match &mut this.stream {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        };
        this.note(&res);
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = match &mut this.stream {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        };
        this.note(&res);
        res
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl std::os::fd::AsFd for Conn {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match &self.stream {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}
