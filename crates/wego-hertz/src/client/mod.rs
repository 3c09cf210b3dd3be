//! The HTTP client: HTTP/1.1 and HTTP/2.
//!
//! [`Client`] sends `http::Request<Body>` and returns
//! `http::Response<Body>`, and is a
//! `tower_service::Service<http::Request<Body>>`, so tower middleware
//! stacks on it. Connections come from a connector (netpoll's
//! [`Dialer`](wego_netpoll::Dialer) by default, or any
//! [`Connect`]) and are kept per origin after a
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
//!   (for WebSocket and other protocols that start as HTTP/1.1).
//! - HTTP/2 (the `h2` crate) by prior knowledge, for every request with
//!   [`ClientBuilder::with_http2_prior_knowledge`] or for a request whose
//!   version is `HTTP/2`: an origin's requests share a multiplexed
//!   connection, and another is opened when the server's stream limit is
//!   reached; a connection that received GOAWAY or closed is never used
//!   again.
//! - Only `http://` URIs; host names are resolved by the system resolver
//!   on the runtime's blocking pool.
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
mod h1;
mod h2;
mod pool;
pub mod upgrade;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request, Response, Uri, Version};
use wego_netpoll::Address;
use wego_netpoll::net::{BoxConnect, BoxIo, Connect};
use wego_netpoll::rt;

pub use self::builder::{ClientBuilder, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE_PER_HOST};
use self::h1::{Head, Return, Settings};
use self::pool::{Origin, Pool};
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
    connector: BoxConnect,
    pool: Pool,
    timeout: Option<Duration>,
    settings: Settings,
    /// Every request goes over HTTP/2 by prior knowledge.
    http2: bool,
    h2: h2::Connections,
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
    /// Dropping the future closes the connection it was using; the pool
    /// keeps only connections whose exchange completed.
    pub async fn request(&self, req: Request<Body>) -> Result<Response<Body>> {
        let shared = &self.shared;
        let origin = Origin::from_uri(req.uri())?;
        let deadline = shared.timeout.map(|t| rt::now() + t);
        if shared.http2 || req.version() == Version::HTTP_2 || shared.h2.has(&origin) {
            let limits = shared.h2_limits();
            let sent = h2::send(&shared.h2, &origin, req, &limits, deadline, || {
                connect(&shared.connector, &origin)
            });
            return match deadline {
                Some(at) => rt::timeout_at(at, sent)
                    .await
                    .unwrap_or_else(|_| Err(Error::timeout())),
                None => sent.await,
            };
        }
        let within = async {
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
            let (io, reused) = match shared.pool.checkout(&origin) {
                Some(io) => (io, true),
                None => (connect(&shared.connector, &origin).await?, false),
            };
            let back = Return {
                pool: shared.pool.clone(),
                origin: origin.clone(),
            };
            let head_again = Head { ..head };
            match h1::send(io, head, body, &shared.settings, deadline, back.clone()).await {
                Ok(resp) => Ok(resp),
                Err(failed) if failed.untouched && reused && retry_allowed => {
                    tracing::debug!(error = %failed.error, "reused connection failed; retrying on a new one");
                    let io = connect(&shared.connector, &origin).await?;
                    let body = replay.map_or_else(Body::empty, Body::from);
                    h1::send(io, head_again, body, &shared.settings, deadline, back)
                        .await
                        .map_err(|f| f.error)
                }
                Err(failed) => Err(failed.error),
            }
        };
        match deadline {
            Some(at) => rt::timeout_at(at, within)
                .await
                .unwrap_or_else(|_| Err(Error::timeout())),
            None => within.await,
        }
    }
}

impl Shared {
    fn h2_limits(&self) -> h2::Limits {
        h2::Limits {
            head: self.settings.limits,
            max_body: self.settings.max_body,
            read_idle: self.settings.read_idle,
        }
    }
}

/// RFC 9110 §9.2.2: methods whose repetition has the effect of one request.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// Opens a connection to `origin`, trying each resolved address in turn.
async fn connect(connector: &BoxConnect, origin: &Origin) -> Result<BoxIo> {
    let addrs = resolve(origin).await?;
    let mut last = None;
    for addr in addrs {
        match connector.connect(&Address::Tcp(addr)).await {
            Ok(io) => return Ok(io),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => Error::connect(e),
        None => Error::connect(std::io::Error::other("the host resolved to no address")),
    })
}

/// The socket addresses of `origin`: an IP literal as it is, a name through
/// the system resolver on the blocking pool.
async fn resolve(origin: &Origin) -> Result<Vec<SocketAddr>> {
    let literal = origin.host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, origin.port)]);
    }
    let name = (origin.host.clone(), origin.port);
    match rt::spawn_blocking(move || name.to_socket_addrs().map(Iterator::collect)).await {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(Error::connect(e)),
        Err(e) => Err(Error::connect(std::io::Error::other(e.to_string()))),
    }
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
