//! [`TlsStream`]: an IO with TLS on top, itself an IO.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use rustls::{CommonState, ProtocolVersion};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::{Address, ConnInfo, TlsInfo, TlsVersion};

/// A TLS connection over `IO`, after a finished handshake: from
/// [`TlsAcceptor::accept`](super::TlsAcceptor::accept) on a server, from
/// [`TlsConnector`](super::TlsConnector) on a client.
///
/// It reads and writes plaintext (tokio's `AsyncRead` and `AsyncWrite`,
/// vectored writes included) and answers [`ConnInfo`] from the IO inside,
/// plus [`ConnInfo::tls_info`] with what the handshake settled.
/// `poll_shutdown` sends TLS `close_notify` and then shuts the IO's write
/// side.
pub struct TlsStream<IO> {
    inner: tokio_rustls::TlsStream<IO>,
    info: TlsInfo,
}

impl<IO> TlsStream<IO> {
    pub(crate) fn new(inner: tokio_rustls::TlsStream<IO>, server_name: Option<String>) -> Self {
        let (_, state) = inner.get_ref();
        let info = info_from(state, server_name);
        Self { inner, info }
    }

    /// What the handshake settled: version, ALPN protocol, server name,
    /// the peer's certificates.
    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// The IO inside.
    pub fn get_ref(&self) -> &IO {
        self.inner.get_ref().0
    }

    /// The IO inside, mutably. Reading or writing it directly corrupts the
    /// TLS session.
    pub fn get_mut(&mut self) -> &mut IO {
        self.inner.get_mut().0
    }
}

impl<IO> fmt::Debug for TlsStream<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn info_from(state: &CommonState, server_name: Option<String>) -> TlsInfo {
    let version = match state.protocol_version() {
        Some(ProtocolVersion::TLSv1_2) => TlsVersion::Tls12,
        // The configurations here enable only TLS 1.2 and 1.3.
        _ => TlsVersion::Tls13,
    };
    let mut info = TlsInfo::new(version);
    if let Some(alpn) = state.alpn_protocol() {
        info = info.with_alpn_protocol(Bytes::copy_from_slice(alpn));
    }
    if let Some(name) = server_name {
        info = info.with_server_name(name);
    }
    if let Some(chain) = state.peer_certificates() {
        if let Some(leaf) = chain.first() {
            // The chain was verified by the handshake, so it parses; an
            // unparsable one would only mean no names to report.
            if let Ok(cert) = webpki::EndEntityCert::try_from(leaf) {
                let dns = cert.valid_dns_names().map(str::to_owned).collect();
                let uri = cert.valid_uri_names().map(str::to_owned).collect();
                info = info.with_peer_names(dns, uri);
            }
        }
        let chain = chain
            .iter()
            .map(|c| Bytes::copy_from_slice(c.as_ref()))
            .collect();
        info = info.with_peer_certificates(chain);
    }
    info
}

impl<IO: ConnInfo> ConnInfo for TlsStream<IO> {
    fn peer_addr(&self) -> Option<Address> {
        self.get_ref().peer_addr()
    }

    fn local_addr(&self) -> Option<Address> {
        self.get_ref().local_addr()
    }

    fn is_active(&self) -> bool {
        self.get_ref().is_active()
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        Some(&self.info)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
