//! [`ClientBuilder`]: the client's settings, checked in `build()`.

use std::time::Duration;

use wego_netpoll::Dialer;
use wego_netpoll::net::{BoxConnect, Connect};

use super::h1::Settings;
use super::pool::Pool;
use super::{Client, Shared};
use crate::Result;
use crate::codec::ResponseLimits;
use crate::error::Error;

/// How long an idle pooled connection is kept by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many idle connections per origin are kept by default.
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 32;

/// Builds a [`Client`]; start from [`Client::builder`].
///
/// Defaults: connections from a [`Dialer`] (its connect timeout applies),
/// no whole-request timeout, no read-idle timeout, idle connections kept
/// [`DEFAULT_IDLE_TIMEOUT`] and at most [`DEFAULT_MAX_IDLE_PER_HOST`] per
/// origin, response heads up to 64 KiB and 100 fields, trailers up to
/// 16 KiB, and no limit on the response body (it streams as the caller
/// reads; bound it here or with [`Body::collect_limited`](crate::Body::collect_limited)).
#[derive(Debug)]
pub struct ClientBuilder {
    connector: Option<BoxConnect>,
    timeout: Option<Duration>,
    read_idle_timeout: Option<Duration>,
    idle_timeout: Duration,
    max_idle_per_host: usize,
    limits: ResponseLimits,
    max_body: Option<u64>,
    max_trailers: usize,
    http2: bool,
    #[cfg(feature = "tls")]
    tls_roots: Option<wego_netpoll::tls::RootCerts>,
    #[cfg(feature = "tls")]
    tls_identity: Option<wego_netpoll::tls::Identity>,
    redirects: usize,
    redirect_downgrade: bool,
    decompression: bool,
    #[cfg(feature = "cookies")]
    cookies: Option<super::CookieJar>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            connector: None,
            timeout: None,
            read_idle_timeout: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
            limits: ResponseLimits::default(),
            max_body: None,
            max_trailers: 16 * 1024,
            http2: false,
            #[cfg(feature = "tls")]
            tls_roots: None,
            #[cfg(feature = "tls")]
            tls_identity: None,
            redirects: 0,
            redirect_downgrade: false,
            decompression: false,
            #[cfg(feature = "cookies")]
            cookies: None,
        }
    }
}

impl ClientBuilder {
    /// Opens connections through `connector` instead of a default
    /// [`Dialer`]; its connect timeout is the client's.
    pub fn with_connector<C: Connect>(mut self, connector: C) -> Self {
        self.connector = Some(BoxConnect::new(connector));
        self
    }

    /// Bounds a whole request, from taking a connection to the end of the
    /// response body. A request past it fails with
    /// [`Error::is_timeout`]; a body past it fails with
    /// [`BodyError::is_timeout`](crate::BodyError::is_timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Bounds every wait for the server's bytes, while the response head
    /// and body are read.
    pub fn with_read_idle_timeout(mut self, timeout: Duration) -> Self {
        self.read_idle_timeout = Some(timeout);
        self
    }

    /// How long a connection may sit idle in the pool before it is closed.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How many idle connections to keep per origin; 0 turns keep-alive
    /// off (every request opens a connection).
    pub fn with_max_idle_per_host(mut self, n: usize) -> Self {
        self.max_idle_per_host = n;
        self
    }

    /// The largest response head, status line and headers together.
    pub fn with_max_response_head(mut self, bytes: usize) -> Self {
        self.limits.max_head = bytes;
        self
    }

    /// The most header fields a response may have.
    pub fn with_max_response_headers(mut self, n: usize) -> Self {
        self.limits.max_headers = n;
        self
    }

    /// The longest response body: reading past it (or a `Content-Length`
    /// above it) fails with
    /// [`BodyError::is_too_large`](crate::BodyError::is_too_large).
    pub fn with_max_response_body(mut self, bytes: u64) -> Self {
        self.max_body = Some(bytes);
        self
    }

    /// Sends every request over HTTP/2 without asking first (prior
    /// knowledge, RFC 9113 §3.3): for servers known to speak h2c. Requests
    /// to an origin share one connection. Without it, only requests whose
    /// version is `HTTP/2` use HTTP/2.
    pub fn with_http2_prior_knowledge(mut self) -> Self {
        self.http2 = true;
        self
    }

    /// Trusts `roots` for `https://` servers instead of the system's
    /// certificate authorities (feature `tls`). To trust both, start from
    /// [`RootCerts::native`](wego_netpoll::tls::RootCerts::native) and
    /// [`add_pem`](wego_netpoll::tls::RootCerts::add_pem) to it.
    #[cfg(feature = "tls")]
    pub fn with_tls_roots(mut self, roots: wego_netpoll::tls::RootCerts) -> Self {
        self.tls_roots = Some(roots);
        self
    }

    /// Presents `identity` (a client certificate and its key) to
    /// `https://` servers that ask for one (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn with_tls_identity(mut self, identity: wego_netpoll::tls::Identity) -> Self {
        self.tls_identity = Some(identity);
        self
    }

    /// Follows up to `limit` redirects per request (0, the default, turns
    /// following off: a 3xx is returned as it is). One past the limit
    /// fails with [`Error::is_redirect`], whose message names the limit.
    ///
    /// 301, 302 and 303 become `GET` without a body (`HEAD` stays
    /// `HEAD`); 307 and 308 keep the method and the body when the body is
    /// in memory, and otherwise return the 3xx as it is. `Authorization`,
    /// `Cookie` and `Proxy-Authorization` are not sent to another origin,
    /// and a relative `Location` is resolved against the request's URI
    /// ([`resolve_location`](super::resolve_location)). The whole chain
    /// shares [`with_timeout`](Self::with_timeout).
    pub fn with_redirects(mut self, limit: usize) -> Self {
        self.redirects = limit;
        self
    }

    /// Lets a redirect lead from `https://` to `http://`; by default such
    /// a redirect fails with [`Error::is_redirect`], as the rest of the
    /// exchange would travel in clear text.
    pub fn with_redirect_downgrade(mut self, allow: bool) -> Self {
        self.redirect_downgrade = allow;
        self
    }

    /// Asks for compressed responses and decodes them (off by default).
    ///
    /// `Accept-Encoding` lists the codecs this build has (gzip and
    /// deflate with the `gzip` feature, `br` and `zstd` with theirs;
    /// none, and so no effect, without them) unless the request names its
    /// own. A response in one of them is decoded as it is read, loses
    /// `Content-Encoding` and `Content-Length`, and its *decoded* size is
    /// held to [`with_max_response_body`](Self::with_max_response_body),
    /// so a decompression bomb fails with
    /// [`BodyError::is_too_large`](crate::BodyError::is_too_large). A
    /// corrupt stream fails with
    /// [`BodyError::is_malformed`](crate::BodyError::is_malformed).
    pub fn with_decompression(mut self, on: bool) -> Self {
        self.decompression = on;
        self
    }

    /// Keeps cookies in a new [`CookieJar`](super::CookieJar) of the
    /// client's own (`true`), or none (`false`, the default); feature
    /// `cookies`. `Set-Cookie` of every response, redirects included, is
    /// stored, and the matching cookies go out with every request, after
    /// any `Cookie` the request has.
    #[cfg(feature = "cookies")]
    pub fn with_cookie_store(mut self, on: bool) -> Self {
        self.cookies = on.then(super::CookieJar::new);
        self
    }

    /// Keeps cookies in `jar`, which the caller can read or share between
    /// clients; feature `cookies`. As
    /// [`with_cookie_store(true)`](Self::with_cookie_store) otherwise.
    #[cfg(feature = "cookies")]
    pub fn with_cookie_jar(mut self, jar: super::CookieJar) -> Self {
        self.cookies = Some(jar);
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] for a zero timeout or a zero head or header
    /// limit; the message names the setting. With the `tls` feature, also
    /// for TLS settings rustls refuses (empty custom roots). Without
    /// custom roots the system's are loaded here (a blocking file read:
    /// build clients at startup); a system with none fails only its
    /// `https://` requests, with [`Error::is_connect`].
    pub fn build(self) -> Result<Client> {
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::client_config("timeout must be above zero"));
        }
        if self.read_idle_timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::client_config("read_idle_timeout must be above zero"));
        }
        if self.idle_timeout.is_zero() {
            return Err(Error::client_config("idle_timeout must be above zero"));
        }
        if self.limits.max_head == 0 {
            return Err(Error::client_config("max_response_head must be above zero"));
        }
        if self.limits.max_headers == 0 {
            return Err(Error::client_config(
                "max_response_headers must be above zero",
            ));
        }
        let connector = self
            .connector
            .unwrap_or_else(|| BoxConnect::new(Dialer::new()));
        #[cfg(feature = "tls")]
        let tls = {
            let custom_roots = self.tls_roots.is_some();
            // The system's roots are read once, for both connectors.
            let roots = match self.tls_roots {
                Some(roots) => Ok(roots),
                None => wego_netpoll::tls::RootCerts::native(),
            };
            let build = |alpn: &[&str], roots| {
                let mut tls = wego_netpoll::tls::TlsConnector::builder()
                    .with_connector(connector.clone())
                    .with_alpn_protocols(alpn)
                    .with_roots(roots);
                if let Some(identity) = &self.tls_identity {
                    tls = tls.with_identity(identity.clone());
                }
                tls.build()
            };
            let built = roots.and_then(|roots| {
                Ok(super::connect::Tls {
                    any: build(&super::connect::ALPN, roots.clone())?,
                    http1: build(&super::connect::ALPN_HTTP1, roots)?,
                })
            });
            match built {
                Ok(tls) => Ok(tls),
                Err(e) if custom_roots => return Err(Error::client_config_caused("tls", e)),
                Err(e) => Err(e.to_string()),
            }
        };
        Ok(Client {
            shared: std::sync::Arc::new(Shared {
                transport: super::connect::Transport {
                    connector,
                    #[cfg(feature = "tls")]
                    tls,
                },
                pool: Pool::new(self.idle_timeout, self.max_idle_per_host),
                timeout: self.timeout,
                settings: Settings {
                    limits: self.limits,
                    max_body: self.max_body,
                    max_trailers: self.max_trailers,
                    read_idle: self.read_idle_timeout,
                },
                http2: self.http2,
                h2: super::h2::Connections::default(),
                redirects: self.redirects,
                redirect_downgrade: self.redirect_downgrade,
                decompression: self.decompression,
                #[cfg(feature = "cookies")]
                cookies: self.cookies,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_zero_settings_by_name() {
        let cases = [
            (Client::builder().with_timeout(Duration::ZERO), "timeout"),
            (
                Client::builder().with_read_idle_timeout(Duration::ZERO),
                "read_idle_timeout",
            ),
            (
                Client::builder().with_idle_timeout(Duration::ZERO),
                "idle_timeout",
            ),
            (
                Client::builder().with_max_response_head(0),
                "max_response_head",
            ),
            (
                Client::builder().with_max_response_headers(0),
                "max_response_headers",
            ),
        ];
        for (builder, name) in cases {
            let e = builder.build().unwrap_err();
            assert!(e.is_config());
            assert_eq!(
                e.to_string(),
                format!("invalid client configuration: {name} must be above zero")
            );
        }
        assert!(Client::builder().with_max_idle_per_host(0).build().is_ok());
    }
}
