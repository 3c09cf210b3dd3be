//! Facts about a connection that servers hand to their handlers.
//!
//! A server's `serve_connection(io, …)` takes any IO that implements tokio's
//! `AsyncRead + AsyncWrite` and [`ConnInfo`]. [`Conn`](super::Conn)
//! answers from its socket; an in-memory pipe answers nothing; a wrapper
//! such as a TLS stream forwards to the IO inside. An IO from another
//! library that does not implement the trait is wrapped in [`WithInfo`],
//! which carries the facts the caller knows.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Address, TlsInfo};

/// What a server can learn about a connection without reading from it.
///
/// Every method has a default meaning "not known", so a transport with
/// nothing to say implements it with an empty `impl`.
pub trait ConnInfo {
    /// The address of the other end, when the transport has one.
    fn peer_addr(&self) -> Option<Address> {
        None
    }

    /// The address of this end, when the transport has one.
    fn local_addr(&self) -> Option<Address> {
        None
    }

    /// Whether the peer may still be there, answered without consuming
    /// input. `true` when the transport cannot tell, so that a caller only
    /// ever skips a connection it knows is gone.
    fn is_active(&self) -> bool {
        true
    }

    /// What the TLS handshake settled, when the transport is a TLS stream
    /// (`tls::TlsStream` with the `tls` feature); `None` for plaintext.
    fn tls_info(&self) -> Option<&TlsInfo> {
        None
    }
}

impl ConnInfo for super::Conn {
    fn peer_addr(&self) -> Option<Address> {
        Some(super::Conn::peer_addr(self).clone())
    }

    fn local_addr(&self) -> Option<Address> {
        Some(super::Conn::local_addr(self).clone())
    }

    fn is_active(&self) -> bool {
        super::Conn::is_active(self)
    }
}

/// An in-memory pipe has no addresses.
impl ConnInfo for tokio::io::DuplexStream {}

impl<T: ConnInfo + ?Sized> ConnInfo for Box<T> {
    fn peer_addr(&self) -> Option<Address> {
        (**self).peer_addr()
    }

    fn local_addr(&self) -> Option<Address> {
        (**self).local_addr()
    }

    fn is_active(&self) -> bool {
        (**self).is_active()
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        (**self).tls_info()
    }
}

impl<T: ConnInfo + ?Sized> ConnInfo for &mut T {
    fn peer_addr(&self) -> Option<Address> {
        (**self).peer_addr()
    }

    fn local_addr(&self) -> Option<Address> {
        (**self).local_addr()
    }

    fn is_active(&self) -> bool {
        (**self).is_active()
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        (**self).tls_info()
    }
}

pin_project_lite::pin_project! {
    /// Any IO with the connection facts its caller supplies.
    ///
    /// ```
    /// use wego_netpoll::net::{ConnInfo, WithInfo};
    ///
    /// let (io, _peer) = tokio::io::duplex(64);
    /// let io = WithInfo::new(io).with_peer_addr("10.0.0.7:4000".parse().unwrap());
    /// assert_eq!(io.peer_addr().unwrap().to_string(), "10.0.0.7:4000");
    /// ```
    #[derive(Debug)]
    pub struct WithInfo<IO> {
        #[pin]
        io: IO,
        peer: Option<Address>,
        local: Option<Address>,
        tls: Option<TlsInfo>,
    }
}

impl<IO> WithInfo<IO> {
    /// Wraps `io` with no facts known.
    pub fn new(io: IO) -> Self {
        Self {
            io,
            peer: None,
            local: None,
            tls: None,
        }
    }

    /// Sets the address of the other end.
    pub fn with_peer_addr(mut self, addr: Address) -> Self {
        self.peer = Some(addr);
        self
    }

    /// Sets the address of this end.
    pub fn with_local_addr(mut self, addr: Address) -> Self {
        self.local = Some(addr);
        self
    }

    /// Sets what a TLS handshake settled, for an IO that a TLS library
    /// outside wego has already wrapped.
    pub fn with_tls_info(mut self, info: TlsInfo) -> Self {
        self.tls = Some(info);
        self
    }

    /// The IO inside.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The IO inside, mutably.
    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// Unwraps the IO.
    pub fn into_inner(self) -> IO {
        self.io
    }
}

impl<IO> ConnInfo for WithInfo<IO> {
    fn peer_addr(&self) -> Option<Address> {
        self.peer.clone()
    }

    fn local_addr(&self) -> Option<Address> {
        self.local.clone()
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }
}

impl<IO: AsyncRead> AsyncRead for WithInfo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite> AsyncWrite for WithInfo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn with_info_reports_what_the_caller_set_and_passes_bytes_through() {
        let (a, mut b) = tokio::io::duplex(64);
        let peer: Address = "192.0.2.1:9".parse().unwrap();
        let a = WithInfo::new(a).with_peer_addr(peer.clone());
        assert_eq!(a.peer_addr(), Some(peer));
        assert_eq!(a.local_addr(), None);
        assert!(ConnInfo::is_active(&a));
        assert_eq!(a.tls_info(), None);
        let tls = TlsInfo::new(crate::net::TlsVersion::Tls12).with_server_name("x.test");
        let mut a = WithInfo::new(a.into_inner()).with_tls_info(tls.clone());
        assert_eq!(a.tls_info(), Some(&tls));
        crate::rt::block_on(async move {
            a.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            b.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
        })
        .unwrap();
    }

    #[test]
    fn a_pipe_knows_no_addresses() {
        let (a, _b) = tokio::io::duplex(8);
        assert_eq!(a.peer_addr(), None);
        assert_eq!(Box::new(a).local_addr(), None);
    }
}
