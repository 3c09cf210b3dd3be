//! [`ReverseProxyBuilder`]: the upstream, the client service and the
//! proxy's settings, checked in `build()`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use http::uri::Scheme;

use super::target::Upstream;
use super::{ReverseProxy, Settings};
use crate::{Client, Error, Result};

/// The number of times an idempotent request with a replayable body is
/// sent again after its upstream could not be reached or closed without
/// answering, by default.
pub const DEFAULT_RETRIES: usize = 1;

/// Builds a [`ReverseProxy`]: `ReverseProxy::builder()`, then the
/// `with_*` setters, then [`build`](Self::build).
///
/// | setting | default |
/// |---|---|
/// | [`with_upstream`](Self::with_upstream) | required |
/// | [`with_client`](Self::with_client) | a [`Client`] with its defaults, keeping up to [`DEFAULT_PROXY_IDLE_PER_HOST`] idle connections per upstream |
/// | [`with_strip_prefix`](Self::with_strip_prefix) | none: the path is joined as it is |
/// | [`with_preserve_host`](Self::with_preserve_host) | `false`: `Host` is the upstream's |
/// | [`with_timeout`](Self::with_timeout) | none |
/// | [`with_max_request_body`](Self::with_max_request_body) | none (the server's own limit applies) |
/// | [`with_retries`](Self::with_retries) | [`DEFAULT_RETRIES`] |
pub struct ReverseProxyBuilder<S = Client> {
    upstream: Option<String>,
    client: Option<S>,
    make_client: fn() -> Result<S>,
    strip_prefix: Option<String>,
    preserve_host: bool,
    timeout: Option<Duration>,
    max_request_body: Option<u64>,
    retries: usize,
}

impl<S> fmt::Debug for ReverseProxyBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReverseProxyBuilder")
            .field("upstream", &self.upstream)
            .field("client", &self.client.as_ref().map(|_| "custom"))
            .field("strip_prefix", &self.strip_prefix)
            .field("preserve_host", &self.preserve_host)
            .field("timeout", &self.timeout)
            .field("max_request_body", &self.max_request_body)
            .field("retries", &self.retries)
            .finish()
    }
}

/// Idle upstream connections the default client keeps per upstream: a
/// proxy forwards many downstream connections to few upstreams, and a
/// pool smaller than its concurrency opens and closes an upstream
/// connection for most requests (at 100 concurrent requests and the
/// client's default of 32, the upstream's CPU per request rose from 11 to
/// 58 µs; `docs/benchmarks.md`, "Reverse proxy").
pub const DEFAULT_PROXY_IDLE_PER_HOST: usize = 1024;

impl Default for ReverseProxyBuilder<Client> {
    fn default() -> Self {
        Self {
            upstream: None,
            client: None,
            make_client: || {
                Client::builder()
                    .with_max_idle_per_host(DEFAULT_PROXY_IDLE_PER_HOST)
                    .build()
            },
            strip_prefix: None,
            preserve_host: false,
            timeout: None,
            max_request_body: None,
            retries: DEFAULT_RETRIES,
        }
    }
}

impl<S> ReverseProxyBuilder<S> {
    /// The upstream's base URL, `http://host[:port][/base][?query]` (or
    /// `https://` with the `tls` feature): a request for `/a/b?x=1` goes
    /// to `/base/a/b?query&x=1` there.
    ///
    /// With a client service that discovers instances, the host names the
    /// service and the client picks the instance.
    pub fn with_upstream(mut self, url: impl Into<String>) -> Self {
        self.upstream = Some(url.into());
        self
    }

    /// Sends upstream requests through `client` instead of a default
    /// [`Client`]: any `tower_service::Service<http::Request<Body>,
    /// Response = http::Response<Body>>`, such as a client stacked with
    /// discovery, load balancing or other middleware.
    ///
    /// Protocol switches (`101`) pass through only when the service's
    /// responses carry the client's upgrade handle, as [`Client`]'s do.
    pub fn with_client<T>(self, client: T) -> ReverseProxyBuilder<T> {
        ReverseProxyBuilder {
            upstream: self.upstream,
            client: Some(client),
            make_client: || Err(Error::config("reverse proxy: no client service")),
            strip_prefix: self.strip_prefix,
            preserve_host: self.preserve_host,
            timeout: self.timeout,
            max_request_body: self.max_request_body,
            retries: self.retries,
        }
    }

    /// Removes `prefix` (a path starting with `/`, such as the route's
    /// `/api`) from the start of the request path before it is joined to
    /// the upstream's base path; a path without it is joined as it is.
    /// The prefix matches whole segments: `/api` strips `/api` and
    /// `/api/x`, not `/apix`.
    pub fn with_strip_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.strip_prefix = Some(prefix.into());
        self
    }

    /// Sends the client's `Host` to the upstream (`true`) instead of the
    /// upstream URL's authority (`false`, the default).
    pub fn with_preserve_host(mut self, on: bool) -> Self {
        self.preserve_host = on;
        self
    }

    /// How long to wait for the upstream's response head (and its first
    /// body bytes, when it has a body) before answering `504`. The body
    /// then streams without this bound: the server's write timeout and
    /// the client's read-idle timeout apply to it.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The longest request body forwarded: a larger declared length is
    /// answered with `413` before the upstream is asked, and a streamed
    /// body that grows past it is cut off (the upstream request fails;
    /// the client gets `413` if no response was sent yet).
    pub fn with_max_request_body(mut self, limit: u64) -> Self {
        self.max_request_body = Some(limit);
        self
    }

    /// How many more times an idempotent request (GET, HEAD, PUT, DELETE,
    /// OPTIONS, TRACE) whose body is in memory is sent after its upstream
    /// could not be connected to or closed before answering; `0` turns
    /// retries off. A POST or PATCH, or a request whose body streams, is
    /// never sent twice.
    pub fn with_retries(mut self, retries: usize) -> Self {
        self.retries = retries;
        self
    }

    /// Checks the settings and builds the proxy.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] when the upstream is missing or is not an
    /// absolute `http://` or `https://` URL, the prefix does not start
    /// with `/`, the timeout is zero, the body limit is zero, or the
    /// default [`Client`] cannot be built.
    pub fn build(self) -> Result<ReverseProxy<S>> {
        let Some(url) = self.upstream else {
            return Err(Error::config("reverse proxy: with_upstream is required"));
        };
        let uri: Uri = url
            .parse()
            .map_err(|_| Error::config("reverse proxy: the upstream url does not parse"))?;
        let upstream = Upstream::new(&uri).ok_or(Error::config(
            "reverse proxy: the upstream must be an absolute http:// or https:// url",
        ))?;
        if uri.scheme() == Some(&Scheme::HTTPS) && !cfg!(feature = "tls") {
            return Err(Error::config(
                "reverse proxy: an https:// upstream needs the `tls` feature",
            ));
        }
        let strip_prefix = match self.strip_prefix {
            Some(p) if !p.starts_with('/') => {
                return Err(Error::config(
                    "reverse proxy: with_strip_prefix must start with '/'",
                ));
            }
            // A trailing slash would make `/api/` strip `/api/x` but not
            // `/api`; segments are compared without it.
            Some(p) => {
                let trimmed = p.trim_end_matches('/');
                (!trimmed.is_empty()).then(|| trimmed.to_owned())
            }
            None => None,
        };
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::config(
                "reverse proxy: with_timeout must be above zero",
            ));
        }
        if self.max_request_body == Some(0) {
            return Err(Error::config(
                "reverse proxy: with_max_request_body must be at least 1",
            ));
        }
        let client = match self.client {
            Some(c) => c,
            None => (self.make_client)()?,
        };
        Ok(ReverseProxy {
            settings: Arc::new(Settings {
                upstream,
                strip_prefix,
                preserve_host: self.preserve_host,
                timeout: self.timeout,
                max_request_body: self.max_request_body,
                retries: self.retries,
            }),
            client,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(b: ReverseProxyBuilder) -> String {
        let e = b.build().unwrap_err();
        assert!(e.is_config(), "{e}");
        e.to_string()
    }

    #[test]
    fn checks_settings() {
        let up = || ReverseProxy::builder().with_upstream("http://127.0.0.1:1");
        assert!(config_error(ReverseProxy::builder()).contains("with_upstream is required"));
        assert!(
            config_error(ReverseProxy::builder().with_upstream("/relative"))
                .contains("absolute http:// or https://")
        );
        assert!(
            config_error(ReverseProxy::builder().with_upstream("ftp://h/"))
                .contains("absolute http:// or https://")
        );
        assert!(
            config_error(ReverseProxy::builder().with_upstream("http://a b"))
                .contains("does not parse")
        );
        assert!(config_error(up().with_strip_prefix("api")).contains("start with '/'"));
        assert!(config_error(up().with_timeout(Duration::ZERO)).contains("with_timeout"));
        assert!(config_error(up().with_max_request_body(0)).contains("with_max_request_body"));
        assert!(up().with_strip_prefix("/").build().is_ok());
        let custom = up().with_client(tower::service_fn(
            |_req: http::Request<crate::Body>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(crate::Body::empty()))
            },
        ));
        assert!(custom.build().is_ok());
    }
}
