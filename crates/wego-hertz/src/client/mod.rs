//! The HTTP client: HTTP/1.1 and HTTP/2.
//!
//! [`Client`] sends `http::Request<Body>` and returns
//! `http::Response<Body>`, and is a
//! `tower_service::Service<http::Request<Body>>`, so tower middleware
//! stacks on it. Connections come from a connector (netpoll's
//! [`Dialer`](wego_netpoll::Dialer) by default, or any
//! [`Connect`](wego_netpoll::Connect)) and are kept per origin after a
//! response that allows reuse.
//!
//! - Request bodies stream out: `Content-Length` when the body's size is
//!   known, chunked otherwise. Response bodies stream in as the caller
//!   polls them (`Content-Length`, chunked or until close), so a slow
//!   reader slows the server down instead of filling memory.
//! - A pooled connection is checked with
//!   [`ConnInfo::is_active`](wego_netpoll::ConnInfo::is_active) before
//!   reuse, so one the server closed while idle is not handed a request.
//!   If a reused connection still fails before any byte of the response
//!   arrived, an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS,
//!   TRACE) whose body is in memory is sent once more on a fresh
//!   connection.
//! - A `101 Switching Protocols` response hands the connection to the
//!   caller: [`upgrade::on`] turns the response into an [`Upgraded`] IO
//!   (for WebSocket and other protocols that start as HTTP/1.1). A request
//!   that asks to switch (`Connection: upgrade` and `Upgrade`) always goes
//!   over HTTP/1.1, whatever the version, prior knowledge or the origin's
//!   HTTP/2 connection say; over TLS its connection offers only
//!   `http/1.1` by ALPN, so `wss://` works against servers that also
//!   offer `h2`.
//! - HTTP/2 (the `h2` crate) by prior knowledge, for every request with
//!   [`ClientBuilder::with_http2_prior_knowledge`] or for a request whose
//!   version is `HTTP/2`: an origin's requests share a multiplexed
//!   connection, and another is opened when the server's stream limit is
//!   reached; a connection that received GOAWAY or closed is never used
//!   again.
//! - Redirects are followed when
//!   [`ClientBuilder::with_redirects`] sets a limit (see
//!   [`resolve_location`] and `docs/http.md` for the rules): 301/302/303
//!   become `GET` without a body, 307/308 keep method and body when the
//!   body is in memory, credentials never cross origins and `https://`
//!   never falls back to `http://` unless allowed.
//! - With [`ClientBuilder::with_decompression`], `Accept-Encoding` names
//!   the codecs compiled in and a compressed response is decoded as it
//!   streams, its decoded size bounded by the response body limit.
//! - With `ClientBuilder::with_cookie_store` or
//!   `ClientBuilder::with_cookie_jar` (feature `cookies`), a
//!   `CookieJar` stores `Set-Cookie` and sends matching cookies back.
//! - `http://` and, with the `tls` feature, `https://` URIs (SNI, ALPN
//!   `h2` then `http/1.1`, system or custom roots, client certificates);
//!   host names are resolved by the system resolver on the runtime's
//!   blocking pool.
//! - `GovernedClient` (feature `governance`) calls services by name
//!   (`http://echo-svc/path`) through discovery, load balancing, breakers,
//!   retries, backup requests, timeouts, metrics and `traceparent`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use std::time::Duration;
//! use wego_hertz::client::Client;
//!
//! let client = Client::builder()
//!     .with_timeout(Duration::from_secs(10))
//!     .build()?;
//! let resp = client.get("http://127.0.0.1:8080/hello").await?;
//! let body = resp.into_body().collect_limited(1 << 20).await?;
//! # Ok(())
//! # }
//! ```

mod builder;
mod connect;
#[cfg(feature = "cookies")]
mod cookies;
#[cfg(any(feature = "gzip", feature = "br", feature = "zstd"))]
mod decompress;
#[cfg(feature = "governance")]
mod governance;
mod h1;
mod h2;
mod policy;
mod pool;
mod redirect;
pub mod upgrade;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Method, Request, Response, Uri, Version};
use wego_netpoll::rt;

pub use self::builder::{ClientBuilder, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE_PER_HOST};
#[cfg(feature = "cookies")]
pub use self::cookies::{CookieJar, MAX_COOKIE_BYTES, MAX_COOKIES, MAX_COOKIES_PER_DOMAIN};
#[cfg(feature = "governance")]
pub use self::governance::{CallOptions, GovernedClient, GovernedClientBuilder, ServerErrors};
use self::h1::{Head, Return, Settings};
use self::pool::{Origin, Pool};
pub use self::redirect::{MAX_LOCATION, resolve_location};
pub use self::upgrade::{OnUpgrade, Upgraded};
use crate::{Body, BoxFuture, Error, Result};

/// An HTTP/1.1 and HTTP/2 client with connection pools. Cheap to clone: clones share
/// the pool and settings.
#[derive(Debug, Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    transport: connect::Transport,
    pool: Pool,
    timeout: Option<Duration>,
    settings: Settings,
    /// Every request goes over HTTP/2 by prior knowledge.
    http2: bool,
    h2: h2::Connections,
    /// How many redirects one request follows; 0 turns following off.
    redirects: usize,
    /// Whether a redirect may lead from `https://` to `http://`.
    redirect_downgrade: bool,
    /// Whether responses are asked for compressed and decoded (a no-op
    /// in a build without codecs).
    #[cfg_attr(
        not(any(feature = "gzip", feature = "br", feature = "zstd")),
        allow(dead_code)
    )]
    decompression: bool,
    /// Cookies sent and stored on every hop.
    #[cfg(feature = "cookies")]
    cookies: Option<CookieJar>,
}

impl Client {
    /// A builder with the defaults listed on [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Sends `GET uri` with no body.
    ///
    /// # Errors
    ///
    /// As [`request`](Self::request); [`Error::is_request`] when `uri` does
    /// not parse.
    pub async fn get<U>(&self, uri: U) -> Result<Response<Body>>
    where
        U: TryInto<Uri>,
    {
        let uri = uri
            .try_into()
            .map_err(|_| Error::request("the uri does not parse"))?;
        let mut req = Request::new(Body::empty());
        *req.uri_mut() = uri;
        self.request(req).await
    }

    /// Sends `req` and returns the response once its head has arrived; the
    /// body streams from the connection as it is read.
    ///
    /// The URI must be absolute (`http://host[:port]/path`). `Host` is
    /// taken from it unless the request has one; `Content-Length` and
    /// `Transfer-Encoding` are set from the body.
    ///
    /// # Errors
    ///
    /// [`Error::is_request`] for a URI that is not absolute `http://`,
    /// [`Error::is_connect`] when no connection could be opened,
    /// [`Error::is_timeout`] past the whole-request or read-idle timeout,
    /// [`Error::is_protocol`] for a malformed or oversized response head,
    /// [`Error::is_closed`] when the connection broke before the response,
    /// [`Error::is_body`] when the request body failed.
    ///
    /// # Cancel safety
    ///
    /// Over HTTP/1.1, dropping the future closes the connection it was
    /// using; the pool keeps only connections whose exchange completed.
    /// Over HTTP/2, dropping it resets the request's stream (`CANCEL`) and
    /// stops sending its body; the connection goes on carrying other
    /// streams. Either way a request body still being sent stops once the
    /// future and the response body are both dropped.
    pub async fn request(&self, req: Request<Body>) -> Result<Response<Body>> {
        let shared = &self.shared;
        Origin::from_uri(req.uri())?;
        let deadline = shared.timeout.map(rt::deadline_in);
        let within = shared.execute(req, deadline);
        match deadline {
            Some(at) => rt::timeout_at(at, within)
                .await
                .unwrap_or_else(|_| Err(Error::timeout())),
            None => within.await,
        }
    }
}

impl Shared {
    /// Sends `req` over HTTP/2 when asked or when the origin already
    /// speaks it, else over a pooled or new HTTP/1.1 connection (which
    /// may turn out HTTP/2 by ALPN). A protocol upgrade always goes over
    /// HTTP/1.1, on a connection that offers only `http/1.1` by ALPN.
    async fn dispatch(
        &self,
        origin: Origin,
        req: Request<Body>,
        deadline: Option<Instant>,
    ) -> Result<Response<Body>> {
        let http1_only = connect::requires_http1(req.headers());
        let prior_knowledge = self.http2 && !origin.tls;
        if !http1_only
            && (prior_knowledge || req.version() == Version::HTTP_2 || self.h2.has(&origin))
        {
            return self.send_h2(&origin, req, deadline).await;
        }
        let (io, reused) = match self.pool.checkout(&origin) {
            Some(io) => (io, true),
            None => {
                let io = self.transport.open(&origin, http1_only).await?;
                if connect::negotiated_h2(&io) {
                    self.h2.add(&origin, io, &self.h2_limits()).await?;
                    return self.send_h2(&origin, req, deadline).await;
                }
                (io, false)
            }
        };
        let (parts, body) = req.into_parts();
        let head = Head {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
        };
        // A body in memory can be sent again; keep a shared handle.
        let (body, replay) = if body.in_memory().is_some() {
            let data = body
                .collect_limited(usize::MAX)
                .await
                .map_err(Error::body)?;
            (Body::from(data.clone()), Some(data))
        } else {
            (body, None)
        };
        let retry_allowed = replay.is_some() && is_idempotent(&parts.method);
        let back = Return {
            pool: self.pool.clone(),
            origin: origin.clone(),
        };
        let head_again = Head { ..head };
        match h1::send(io, head, body, &self.settings, deadline, back.clone()).await {
            Ok(resp) => Ok(resp),
            Err(failed) if failed.untouched && reused && retry_allowed => {
                tracing::debug!(error = %failed.error, "reused connection failed; retrying on a new one");
                let io = self.transport.open(&origin, http1_only).await?;
                let body = replay.map_or_else(Body::empty, Body::from);
                if connect::negotiated_h2(&io) {
                    self.h2.add(&origin, io, &self.h2_limits()).await?;
                    let mut again = Request::new(body);
                    *again.method_mut() = parts.method.clone();
                    *again.uri_mut() = parts.uri.clone();
                    *again.headers_mut() = parts.headers.clone();
                    return self.send_h2(&origin, again, deadline).await;
                }
                h1::send(io, head_again, body, &self.settings, deadline, back)
                    .await
                    .map_err(|f| f.error)
            }
            Err(failed) => Err(failed.error),
        }
    }

    async fn send_h2(
        &self,
        origin: &Origin,
        req: Request<Body>,
        deadline: Option<Instant>,
    ) -> Result<Response<Body>> {
        let limits = self.h2_limits();
        h2::send(&self.h2, origin, req, &limits, deadline, || async {
            let io = self.transport.open(origin, false).await?;
            if origin.tls && !connect::negotiated_h2(&io) {
                return Err(Error::protocol(std::io::Error::other(
                    "the server did not choose h2 by alpn",
                )));
            }
            Ok(io)
        })
        .await
    }

    fn h2_limits(&self) -> h2::Limits {
        h2::Limits {
            head: self.settings.limits,
            max_body: self.settings.max_body,
            read_idle: self.settings.read_idle,
        }
    }
}

/// RFC 9110 §9.2.2: methods whose repetition has the effect of one request.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

impl tower_service::Service<Request<Body>> for Client {
    type Response = Response<Body>;
    type Error = Error;
    type Future = BoxFuture<'static, Result<Response<Body>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let client = self.clone();
        Box::pin(async move { client.request(req).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn request_futures_are_send() {
        let client = Client::builder().build().unwrap();
        let fut = client.request(Request::new(Body::empty()));
        assert_send(&fut);
        assert_send(&client.get("http://127.0.0.1:1/"));
    }

    #[test]
    fn idempotent_methods_per_rfc_9110() {
        for m in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::TRACE,
        ] {
            assert!(is_idempotent(&m), "{m}");
        }
        for m in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!is_idempotent(&m), "{m}");
        }
    }
}
