//! Opening connections to an origin: resolving the host, connecting
//! through the client's connector and, for `https://`, the TLS handshake
//! with the host as server name (SNI and certificate check) and ALPN
//! offering `h2` and `http/1.1`, or `http/1.1` alone for a request that
//! needs HTTP/1.1 (a protocol upgrade, see [`requires_http1`]).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use wego_netpoll::Address;
use wego_netpoll::net::{BoxConnect, BoxIo, Connect};
use wego_netpoll::rt;

use super::pool::Origin;
use crate::{Error, Result};

/// The ALPN protocols a TLS connection offers, in order of preference.
#[cfg(feature = "tls")]
pub(crate) const ALPN: [&str; 2] = ["h2", "http/1.1"];

/// The ALPN protocols of a TLS connection for a request that needs
/// HTTP/1.1.
#[cfg(feature = "tls")]
pub(crate) const ALPN_HTTP1: [&str; 1] = ["http/1.1"];

/// What opens the client's connections.
#[derive(Debug)]
pub(crate) struct Transport {
    pub(crate) connector: BoxConnect,
    /// The TLS side for `https://`, or why it could not be set up (no
    /// system roots, say), reported by the first `https://` request.
    #[cfg(feature = "tls")]
    pub(crate) tls: std::result::Result<Tls, String>,
}

/// The client's TLS connectors: one per ALPN offer, sharing the roots
/// and the identity.
#[cfg(feature = "tls")]
#[derive(Debug)]
pub(crate) struct Tls {
    /// Offers [`ALPN`].
    pub(crate) any: wego_netpoll::tls::TlsConnector<BoxConnect>,
    /// Offers [`ALPN_HTTP1`].
    pub(crate) http1: wego_netpoll::tls::TlsConnector<BoxConnect>,
}

/// Whether `headers` ask to switch protocols (`Connection: upgrade` and
/// an `Upgrade` field): such a request needs HTTP/1.1, as HTTP/2 has no
/// `Upgrade` (RFC 9113 §8.6), so it never goes over an HTTP/2 connection
/// and its TLS connection offers only `http/1.1` by ALPN (Go's
/// `Transport` does the same).
pub(crate) fn requires_http1(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::UPGRADE)
        && crate::upgrade::has_token(headers, http::header::CONNECTION, "upgrade")
}

impl Transport {
    /// Opens a connection to `origin`, trying each resolved address in
    /// turn; a TLS connection for `https://`, offering only `http/1.1` by
    /// ALPN when `http1_only`.
    pub(crate) async fn open(&self, origin: &Origin, http1_only: bool) -> Result<BoxIo> {
        if origin.tls {
            return self.open_tls(origin, http1_only).await;
        }
        let addrs = resolve(origin).await?;
        let mut last = None;
        for addr in addrs {
            match self.connector.connect(&Address::Tcp(addr)).await {
                Ok(io) => return Ok(io),
                Err(e) => last = Some(e),
            }
        }
        Err(no_connection(last))
    }

    #[cfg(feature = "tls")]
    async fn open_tls(&self, origin: &Origin, http1_only: bool) -> Result<BoxIo> {
        let tls = self
            .tls
            .as_ref()
            .map_err(|why| Error::connect(std::io::Error::other(why.clone())))?;
        let tls = if http1_only { &tls.http1 } else { &tls.any };
        let addrs = resolve(origin).await?;
        let mut last = None;
        for addr in addrs {
            match tls
                .connect_with_name(&Address::Tcp(addr), origin.bare_host())
                .await
            {
                Ok(io) => return Ok(Box::new(io)),
                Err(e) => last = Some(e),
            }
        }
        Err(no_connection(last))
    }

    #[cfg(not(feature = "tls"))]
    async fn open_tls(&self, _origin: &Origin, _http1_only: bool) -> Result<BoxIo> {
        Err(Error::request("https needs wego-hertz's `tls` feature"))
    }
}

/// Whether `io` settled on HTTP/2 by ALPN.
pub(crate) fn negotiated_h2(io: &BoxIo) -> bool {
    use wego_netpoll::ConnInfo;
    io.tls_info()
        .and_then(|t| t.alpn_protocol())
        .is_some_and(|p| p == b"h2")
}

fn no_connection(last: Option<wego_netpoll::Error>) -> Error {
    match last {
        Some(e) => Error::connect(e),
        None => Error::connect(std::io::Error::other("the host resolved to no address")),
    }
}

/// The socket addresses of `origin`: an IP literal as it is, a name through
/// the system resolver on the blocking pool.
async fn resolve(origin: &Origin) -> Result<Vec<SocketAddr>> {
    if let Ok(ip) = origin.bare_host().parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, origin.port)]);
    }
    let name = (origin.host.clone(), origin.port);
    match rt::spawn_blocking(move || name.to_socket_addrs().map(Iterator::collect)).await {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(Error::connect(e)),
        Err(e) => Err(Error::connect(std::io::Error::other(e.to_string()))),
    }
}
