//! The client side: [`TlsConnector`], a [`Connect`] that wraps another.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::sign::SingleCertAndKey;
use rustls_pki_types::ServerName;

use super::acceptor::check_alpn;
use super::{DEFAULT_HANDSHAKE_TIMEOUT, Identity, RootCerts, TlsStream, provider, rustls_io};
use crate::net::{Address, Connect, Dialer};
use crate::{Error, Result, rt};

/// Opens TLS connections: connects with the inner [`Connect`] (a
/// [`Dialer`] by default), then runs the client handshake.
///
/// The server's certificate is verified against the configured roots and
/// the server name: [`with_server_name`](TlsConnectorBuilder::with_server_name)
/// when set, else the address's IP (an [`Address`] carries no host
/// name). [`connect_with_name`](Self::connect_with_name) names the server
/// per call. Clones share the configuration.
#[derive(Clone)]
pub struct TlsConnector<C = Dialer> {
    connect: C,
    inner: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
    handshake_timeout: Duration,
}

impl TlsConnector {
    /// A builder over a default [`Dialer`], trusting the system's roots
    /// unless [`with_roots`](TlsConnectorBuilder::with_roots) says
    /// otherwise.
    pub fn builder() -> TlsConnectorBuilder {
        TlsConnectorBuilder {
            connect: Dialer::new(),
            roots: None,
            identity: None,
            server_name: None,
            alpn: Vec::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl<C: Connect> TlsConnector<C> {
    /// Connects to `addr` and verifies the server against `server_name`
    /// (a DNS name or an IP address), whatever the builder set.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] when `server_name` is neither; otherwise as
    /// [`connect`](Connect::connect).
    pub async fn connect_with_name(
        &self,
        addr: &Address,
        server_name: &str,
    ) -> Result<TlsStream<C::Io>> {
        let name = parse_server_name(server_name)?;
        self.handshake(addr, name).await
    }

    async fn handshake(
        &self,
        addr: &Address,
        name: ServerName<'static>,
    ) -> Result<TlsStream<C::Io>> {
        let shown = name.to_str().into_owned();
        let io = self.connect.connect(addr).await?;
        let handshake = self.inner.connect(name, io);
        match rt::timeout(self.handshake_timeout, handshake).await {
            Ok(Ok(stream)) => Ok(TlsStream::new(stream.into(), Some(shown))),
            Ok(Err(e)) => Err(Error::tls(
                format!("tls handshake with {addr} ({shown}) failed"),
                e,
            )),
            Err(_) => Err(Error::timeout(format!(
                "tls handshake with {addr} timed out after {:?}",
                self.handshake_timeout
            ))),
        }
    }

    /// How long a handshake may take.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
}

impl<C: Connect> Connect for TlsConnector<C> {
    type Io = TlsStream<C::Io>;

    /// Connects to `addr` and runs the handshake.
    ///
    /// # Errors
    ///
    /// The inner connector's errors; [`Error::is_tls`] when the server's
    /// certificate is refused (unknown issuer, expired, another name) or
    /// the server does not speak TLS; [`Error::is_timeout`] when the
    /// handshake takes longer than the handshake timeout;
    /// [`Error::is_config`] when no server name is set and `addr` is a
    /// Unix socket.
    async fn connect(&self, addr: &Address) -> Result<Self::Io> {
        let name = match (&self.server_name, addr) {
            (Some(name), _) => name.clone(),
            (None, Address::Tcp(sock)) => ServerName::IpAddress(sock.ip().into()),
            (None, Address::Unix(path)) => {
                return Err(Error::config(format!(
                    "tls server name: unix:{} has no host; set with_server_name",
                    path.display()
                )));
            }
        };
        self.handshake(addr, name).await
    }
}

impl<C> std::fmt::Debug for TlsConnector<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("alpn", &self.inner.config().alpn_protocols)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TlsConnector`]; from [`TlsConnector::builder`].
#[derive(Debug)]
pub struct TlsConnectorBuilder<C = Dialer> {
    connect: C,
    roots: Option<RootCerts>,
    identity: Option<Identity>,
    server_name: Option<String>,
    alpn: Vec<Vec<u8>>,
    handshake_timeout: Duration,
}

impl<C: Connect> TlsConnectorBuilder<C> {
    /// Opens the underlying connections with `connect` instead of a
    /// [`Dialer`].
    pub fn with_connector<C2: Connect>(self, connect: C2) -> TlsConnectorBuilder<C2> {
        TlsConnectorBuilder {
            connect,
            roots: self.roots,
            identity: self.identity,
            server_name: self.server_name,
            alpn: self.alpn,
            handshake_timeout: self.handshake_timeout,
        }
    }

    /// Trusts `roots` instead of the system's certificate authorities.
    pub fn with_roots(mut self, roots: RootCerts) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Presents `identity` to servers that ask for a client certificate.
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Sends `name` as SNI and verifies the server's certificate against
    /// it (a DNS name, or an IP address as text). By default the
    /// address's IP is used.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Offers these ALPN protocols, in order of preference (`h2`,
    /// `http/1.1`); none by default.
    pub fn with_alpn_protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Sets how long a handshake may take after the connection is open
    /// (10 s by default).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Builds the connector. Without [`with_roots`](Self::with_roots) it
    /// loads the system's roots here, a blocking file read: build at
    /// startup.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] when the roots are empty (or the system has
    /// none), the server name is neither a DNS name nor an IP address, an
    /// ALPN protocol is empty or longer than 255 bytes, or the handshake
    /// timeout is zero.
    pub fn build(self) -> Result<TlsConnector<C>> {
        if self.handshake_timeout.is_zero() {
            return Err(Error::config("tls handshake_timeout: must be above zero"));
        }
        check_alpn(&self.alpn)?;
        let server_name = self
            .server_name
            .as_deref()
            .map(parse_server_name)
            .transpose()?;
        let roots = match self.roots {
            Some(roots) => roots,
            None => RootCerts::native()?,
        };
        if roots.is_empty() {
            return Err(Error::config("tls roots: no root certificates"));
        }
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config_caused("tls protocol versions", rustls_io(e)))?
            .with_root_certificates(roots.store());
        let mut config = match self.identity {
            None => builder.with_no_client_auth(),
            Some(id) => builder
                .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(id.certified_key()))),
        };
        config.alpn_protocols = self.alpn;
        Ok(TlsConnector {
            connect: self.connect,
            inner: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
            handshake_timeout: self.handshake_timeout,
        })
    }
}

fn parse_server_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_owned()).map_err(|_| {
        Error::config(format!(
            "tls server name: `{name}` is neither a DNS name nor an IP address"
        ))
    })
}
