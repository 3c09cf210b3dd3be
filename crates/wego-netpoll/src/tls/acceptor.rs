//! The server side: [`TlsAcceptor`] and its builder.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite};

use super::certs::Resolver;
use super::either::MaybeTls;
use super::incoming::TlsIncoming;
use super::session::SessionCache;
use super::{CertificateSet, DEFAULT_HANDSHAKE_TIMEOUT, Identity, RootCerts, TlsStream, provider};
use crate::{Conn, Error, Listener, Result, rt};

/// How many handshakes [`TlsAcceptor::incoming`] runs at once when the
/// builder sets no other limit.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// Whether and how a server asks clients for a certificate (mutual TLS).
#[derive(Debug, Clone)]
pub struct ClientAuth {
    roots: RootCerts,
    required: bool,
}

impl ClientAuth {
    /// Every client must present a certificate issued by one of `roots`;
    /// a client without one fails the handshake.
    pub fn required(roots: RootCerts) -> Self {
        Self {
            roots,
            required: true,
        }
    }

    /// A client may present a certificate; if it does, it must be issued
    /// by one of `roots`. A client without one is served, and its
    /// [`TlsInfo::peer_certificates`](super::TlsInfo::peer_certificates) is
    /// empty.
    pub fn optional(roots: RootCerts) -> Self {
        Self {
            roots,
            required: false,
        }
    }
}

/// Accepts TLS connections over any IO: the server half of wego's TLS.
///
/// Build one with [`TlsAcceptor::builder`]; clones share the configuration
/// and the certificate set, so a [`reload`](Self::reload) through any
/// clone reaches them all.
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: tokio_rustls::TlsAcceptor,
    resolver: Arc<Resolver>,
    sessions: Arc<SessionCache>,
    handshake_timeout: Duration,
    max_pending_handshakes: NonZeroUsize,
}

impl TlsAcceptor {
    /// A builder with no certificate, no ALPN, no client authentication,
    /// a 10 s handshake timeout and at most 1024 handshakes at once in
    /// [`incoming`](Self::incoming).
    pub fn builder() -> TlsAcceptorBuilder {
        TlsAcceptorBuilder {
            certs: CertificateSet::new(),
            alpn: Vec::new(),
            client_auth: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
        }
    }

    /// Accepts on `listener` and runs each connection's handshake on a
    /// task of its own, yielding the finished [`TlsStream`]s: the stream
    /// any server's `serve_incoming` takes, so that it serves TLS.
    ///
    /// A silent or slow client delays no other: its handshake waits alone
    /// until the handshake timeout. Failed handshakes are logged and
    /// skipped; see [`TlsIncoming`].
    ///
    /// ```no_run
    /// # async fn run(acceptor: wego_netpoll::tls::TlsAcceptor) -> wego_netpoll::Result<()> {
    /// use wego_netpoll::Listener;
    ///
    /// let listener = Listener::bind(&"127.0.0.1:8443".parse()?).await?;
    /// let incoming = acceptor.incoming(listener);
    /// // server.serve_incoming(incoming, …).await;
    /// # drop(incoming);
    /// # Ok(())
    /// # }
    /// ```
    pub fn incoming(&self, listener: Listener) -> TlsIncoming {
        TlsIncoming::new(listener, self.clone())
    }

    /// As [`incoming`](Self::incoming), and serves plaintext clients on
    /// the same port: each connection's first byte, read within the
    /// handshake timeout, tells a TLS handshake
    /// ([`looks_like_tls`](super::looks_like_tls)) from anything else; TLS
    /// clients are handshaken, the others pass through with that byte
    /// replayed. [`MaybeTls::is_tls`] and `tls_info()` tell them apart.
    ///
    /// A client that speaks first is needed to tell them apart: a
    /// plaintext protocol whose server speaks first (SMTP, MySQL) waits
    /// until the handshake timeout and is dropped.
    pub fn incoming_or_plain(&self, listener: Listener) -> TlsIncoming<MaybeTls<Conn>> {
        TlsIncoming::or_plain(listener, self.clone())
    }

    /// Runs the server handshake over `io`.
    ///
    /// # Errors
    ///
    /// - [`Error::is_timeout`] when the handshake does not finish within
    ///   the handshake timeout (a silent or slow peer);
    /// - [`Error::is_tls`] when the peer is not speaking TLS, asks for a
    ///   name the server has no certificate for, or presents a client
    ///   certificate that is refused; the cause is rustls's error.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future drops `io` with a half-done
    /// handshake.
    pub async fn accept<IO>(&self, io: IO) -> Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = self.inner.accept(io);
        let stream = match rt::timeout(self.handshake_timeout, handshake).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(Error::tls("tls handshake failed", e)),
            Err(_) => {
                return Err(Error::timeout(format!(
                    "tls handshake timed out after {:?}",
                    self.handshake_timeout
                )));
            }
        };
        let server_name = stream.get_ref().1.server_name().map(str::to_owned);
        Ok(TlsStream::new(stream.into(), server_name))
    }

    /// Replaces the certificate set. Handshakes that start afterwards use
    /// the new set; established connections keep the certificate they
    /// were accepted with. Stored sessions are forgotten, so a client
    /// cannot resume its way past the new certificate.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] when `certs` is empty or holds a name that is
    /// not a DNS name; the old set stays in use.
    pub fn reload(&self, certs: CertificateSet) -> Result<()> {
        certs.check()?;
        self.resolver.replace(certs);
        self.sessions.clear();
        Ok(())
    }

    /// How long a handshake may take.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// How many handshakes [`incoming`](Self::incoming) runs at once.
    pub fn max_pending_handshakes(&self) -> usize {
        self.max_pending_handshakes.get()
    }
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("alpn", &self.inner.config().alpn_protocols)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TlsAcceptor`]; from [`TlsAcceptor::builder`].
#[derive(Debug)]
pub struct TlsAcceptorBuilder {
    certs: CertificateSet,
    alpn: Vec<Vec<u8>>,
    client_auth: Option<ClientAuth>,
    handshake_timeout: Duration,
    max_pending_handshakes: NonZeroUsize,
}

impl TlsAcceptorBuilder {
    /// Sets the identity presented to clients whose SNI name matches no
    /// [`with_sni_identity`](Self::with_sni_identity) entry, or who send
    /// none.
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.certs = self.certs.with_default(identity);
        self
    }

    /// Presents `identity` to clients that ask for `name` (SNI); see
    /// [`CertificateSet`] for how names match.
    pub fn with_sni_identity(mut self, name: impl Into<String>, identity: Identity) -> Self {
        self.certs = self.certs.with_name(name, identity);
        self
    }

    /// Replaces every identity with `certs`.
    pub fn with_certificates(mut self, certs: CertificateSet) -> Self {
        self.certs = certs;
        self
    }

    /// Sets the ALPN protocols offered, in order of preference (`h2`,
    /// `http/1.1`). With none (the default), ALPN is not negotiated. With
    /// some, a client that offers ALPN but none of these fails the
    /// handshake (RFC 7301 §3.2), and a client that offers no ALPN is
    /// served without.
    pub fn with_alpn_protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Asks clients for certificates (mutual TLS); off by default.
    pub fn with_client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = Some(auth);
        self
    }

    /// Sets how long a handshake may take, from the first byte awaited to
    /// the last one sent (10 s by default). It bounds peers that connect
    /// and stay silent.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets how many handshakes [`TlsAcceptor::incoming`] runs at once
    /// (1024 by default). Beyond it, accepting waits and new connections
    /// queue in the listener's backlog, which bounds the tasks a flood of
    /// silent clients can hold.
    pub fn with_max_pending_handshakes(mut self, max: NonZeroUsize) -> Self {
        self.max_pending_handshakes = max;
        self
    }

    /// Builds the acceptor.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] when there is no certificate, a name is not a
    /// DNS name, an ALPN protocol is empty or longer than 255 bytes, the
    /// handshake timeout is zero, or the client-auth roots are empty.
    pub fn build(self) -> Result<TlsAcceptor> {
        self.certs.check()?;
        if self.handshake_timeout.is_zero() {
            return Err(Error::config("tls handshake_timeout: must be above zero"));
        }
        check_alpn(&self.alpn)?;
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config_caused("tls protocol versions", super::rustls_io(e)))?;
        let builder = match self.client_auth {
            None => builder.with_no_client_auth(),
            Some(auth) => {
                if auth.roots.is_empty() {
                    return Err(Error::config("tls client auth: no root certificates"));
                }
                let mut verifier =
                    WebPkiClientVerifier::builder_with_provider(auth.roots.store(), provider);
                if !auth.required {
                    verifier = verifier.allow_unauthenticated();
                }
                let verifier = verifier.build().map_err(|e| {
                    Error::config_caused(
                        "tls client auth",
                        std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
                    )
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let resolver = Arc::new(Resolver::new(self.certs));
        let sessions = Arc::new(SessionCache::new());
        let mut config = builder.with_cert_resolver(Arc::clone(&resolver) as _);
        config.alpn_protocols = self.alpn;
        config.session_storage = Arc::clone(&sessions) as _;
        Ok(TlsAcceptor {
            inner: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            resolver,
            sessions,
            handshake_timeout: self.handshake_timeout,
            max_pending_handshakes: self.max_pending_handshakes,
        })
    }
}

/// RFC 7301 §3.1: a protocol name is 1 to 255 bytes.
pub(super) fn check_alpn(protocols: &[Vec<u8>]) -> Result<()> {
    match protocols.iter().find(|p| p.is_empty() || p.len() > 255) {
        Some(p) => Err(Error::config(format!(
            "tls alpn protocols: a name must be 1 to 255 bytes, got {}",
            p.len()
        ))),
        None => Ok(()),
    }
}
