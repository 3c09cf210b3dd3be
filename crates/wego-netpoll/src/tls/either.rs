//! [`MaybeTls`]: TLS and plaintext clients on one port, told apart by
//! their first byte ([`looks_like_tls`](super::looks_like_tls)) and served
//! as one IO type.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::{TlsAcceptor, TlsStream, looks_like_tls};
use crate::net::{Address, ConnInfo, Prefixed, TlsInfo};
use crate::{Error, Result, rt};

/// A connection from [`TlsAcceptor::incoming_or_plain`]: TLS when the
/// client opened with a TLS handshake, plaintext otherwise.
///
/// Either way it reads and writes the application's bytes (decrypted for
/// TLS; for plaintext, starting with the byte that was peeked), and its
/// [`ConnInfo::tls_info`] is `Some` only for TLS.
pub struct MaybeTls<IO> {
    inner: Inner<IO>,
}

/// The TLS variant is boxed: a rustls connection is over a kilobyte.
enum Inner<IO> {
    Tls(Box<TlsStream<Prefixed<IO>>>),
    Plain(Prefixed<IO>),
}

impl<IO> MaybeTls<IO> {
    /// Whether the client speaks TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> MaybeTls<IO> {
    /// Reads the first byte within the handshake timeout, then runs the
    /// handshake when it starts a TLS record and passes the connection
    /// through otherwise.
    pub(super) async fn detect(acceptor: &TlsAcceptor, mut io: IO) -> Result<Self> {
        let mut first = [0u8; 1];
        let n = match rt::timeout(acceptor.handshake_timeout(), io.read(&mut first)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                return Err(Error::tls(
                    "tls detection: reading the first byte failed",
                    e,
                ));
            }
            Err(_) => {
                return Err(Error::timeout(format!(
                    "tls detection: no first byte within {:?}",
                    acceptor.handshake_timeout()
                )));
            }
        };
        if n == 0 {
            return Err(Error::tls(
                "tls detection: closed before the first byte",
                io::Error::from(io::ErrorKind::UnexpectedEof),
            ));
        }
        let io = Prefixed::new(Bytes::copy_from_slice(&first), io);
        let inner = match looks_like_tls(&first) {
            Some(true) => Inner::Tls(Box::new(acceptor.accept(io).await?)),
            _ => Inner::Plain(io),
        };
        Ok(Self { inner })
    }
}

impl<IO> std::fmt::Debug for MaybeTls<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Tls(tls) => f.debug_tuple("MaybeTls::Tls").field(tls).finish(),
            Inner::Plain(_) => f.write_str("MaybeTls::Plain"),
        }
    }
}

impl<IO: ConnInfo> ConnInfo for MaybeTls<IO> {
    fn peer_addr(&self) -> Option<Address> {
        match &self.inner {
            Inner::Tls(tls) => tls.peer_addr(),
            Inner::Plain(io) => io.peer_addr(),
        }
    }

    fn local_addr(&self) -> Option<Address> {
        match &self.inner {
            Inner::Tls(tls) => tls.local_addr(),
            Inner::Plain(io) => io.local_addr(),
        }
    }

    fn is_active(&self) -> bool {
        match &self.inner {
            Inner::Tls(tls) => tls.is_active(),
            Inner::Plain(io) => io.is_active(),
        }
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        match &self.inner {
            Inner::Tls(tls) => Some(tls.info()),
            Inner::Plain(_) => None,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Tls(tls) => Pin::new(&mut **tls).poll_read(cx, buf),
            Inner::Plain(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.inner {
            Inner::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
            Inner::Plain(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.inner {
            Inner::Tls(tls) => Pin::new(&mut **tls).poll_write_vectored(cx, bufs),
            Inner::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.inner {
            Inner::Tls(tls) => tls.is_write_vectored(),
            Inner::Plain(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
            Inner::Plain(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
            Inner::Plain(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}
