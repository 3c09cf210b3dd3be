//! What a TLS handshake settled, as a plain value a server can hand on.

use std::sync::Arc;

use bytes::Bytes;

/// The TLS protocol version a connection negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        })
    }
}

/// What a finished TLS handshake settled: the version, the ALPN protocol,
/// the server name and the peer's verified certificate chain.
///
/// A TLS stream answers it through [`ConnInfo::tls_info`](super::ConnInfo::tls_info),
/// so a server can copy it into each request's extensions without
/// knowing the stream's type. Cloning is cheap (one reference count).
///
/// ```
/// use wego_netpoll::net::{TlsInfo, TlsVersion};
///
/// let info = TlsInfo::new(TlsVersion::Tls13).with_alpn_protocol(b"h2".to_vec());
/// assert_eq!(info.alpn_protocol(), Some(&b"h2"[..]));
/// assert_eq!(info.server_name(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    version: TlsVersion,
    alpn_protocol: Option<Bytes>,
    server_name: Option<String>,
    peer_certificates: Vec<Bytes>,
    peer_dns_names: Vec<String>,
    peer_uri_names: Vec<String>,
}

impl TlsInfo {
    /// Facts for a connection on `version`, with nothing else known.
    pub fn new(version: TlsVersion) -> Self {
        Self {
            inner: Arc::new(Inner {
                version,
                alpn_protocol: None,
                server_name: None,
                peer_certificates: Vec::new(),
                peer_dns_names: Vec::new(),
                peer_uri_names: Vec::new(),
            }),
        }
    }

    /// Sets the negotiated ALPN protocol.
    pub fn with_alpn_protocol(mut self, protocol: impl Into<Bytes>) -> Self {
        Arc::make_mut(&mut self.inner).alpn_protocol = Some(protocol.into());
        self
    }

    /// Sets the server name (SNI).
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).server_name = Some(name.into());
        self
    }

    /// Sets the peer's certificate chain (DER, end-entity first).
    pub fn with_peer_certificates(mut self, chain: Vec<Bytes>) -> Self {
        Arc::make_mut(&mut self.inner).peer_certificates = chain;
        self
    }

    /// Sets the DNS and URI names the peer's end-entity certificate holds
    /// in its subject alternative names.
    pub fn with_peer_names(mut self, dns: Vec<String>, uri: Vec<String>) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        inner.peer_dns_names = dns;
        inner.peer_uri_names = uri;
        self
    }

    /// The negotiated protocol version.
    pub fn version(&self) -> TlsVersion {
        self.inner.version
    }

    /// The ALPN protocol both sides agreed on (`h2`, `http/1.1`), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.inner.alpn_protocol.as_deref()
    }

    /// The server name: on a server, the name the client asked for (SNI);
    /// on a client, the name it verified the server's certificate against.
    pub fn server_name(&self) -> Option<&str> {
        self.inner.server_name.as_deref()
    }

    /// The peer's certificate chain in DER, end-entity first, as verified
    /// during the handshake. Empty when the peer sent none (a client
    /// without a certificate).
    pub fn peer_certificates(&self) -> &[Bytes] {
        &self.inner.peer_certificates
    }

    /// The peer's end-entity certificate in DER, if it sent one.
    pub fn peer_certificate(&self) -> Option<&Bytes> {
        self.inner.peer_certificates.first()
    }

    /// The DNS names in the peer certificate's subject alternative names:
    /// the verified identity of a client under mutual TLS.
    pub fn peer_dns_names(&self) -> &[String] {
        &self.inner.peer_dns_names
    }

    /// The URI names in the peer certificate's subject alternative names
    /// (a SPIFFE ID, for example).
    pub fn peer_uri_names(&self) -> &[String] {
        &self.inner.peer_uri_names
    }
}
