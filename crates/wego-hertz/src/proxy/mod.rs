//! A reverse proxy: [`ReverseProxy`] forwards the requests it is given to
//! an upstream and streams the answers back.
//!
//! It is a route handler and a `tower_service::Service`, so it mounts on a
//! [`Router`](crate::Router) path (usually with `any`) or serves a whole
//! server. Requests go through a client service: a default [`Client`], or
//! any `Service<http::Request<Body>, Response = http::Response<Body>>`
//! given to [`ReverseProxyBuilder::with_client`] (a client with discovery
//! and load balancing, say, where the upstream's host names the service).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use std::time::{Duration, Instant};
//! use wego_hertz::proxy::ReverseProxy;
//! use wego_hertz::{Router, Server};
//!
//! let api = ReverseProxy::builder()
//!     .with_upstream("http://127.0.0.1:9000/v1")
//!     .with_strip_prefix("/api")
//!     .with_timeout(Duration::from_secs(10))
//!     .build()?;
//! // GET /api/users?id=7 goes to http://127.0.0.1:9000/v1/users?id=7
//! let app = Router::new().any("/api/*rest", api.clone()).any("/api", api);
//! let server = Server::builder().build()?;
//! let listener = server.bind(&"127.0.0.1:8080".parse()?).await?;
//! server.serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! What a request goes through:
//!
//! - **Target.** The request's path, less the
//!   [prefix](ReverseProxyBuilder::with_strip_prefix), is joined to the
//!   upstream's base path with one `/`; its query follows the base URL's.
//! - **Headers** (RFC 9110 §7.6.1). Hop-by-hop fields are removed in both
//!   directions: `Connection` and the fields it names, `Keep-Alive`,
//!   `Proxy-*`, `TE` (except `TE: trailers`, kept also when
//!   `Connection` names `TE`), `Trailer`,
//!   `Transfer-Encoding`, and `Upgrade` except for a protocol switch.
//!   `Expect` is answered by the proxy's own server and not forwarded.
//!   The client's IP is appended to `X-Forwarded-For`, `X-Forwarded-Proto`
//!   and `X-Forwarded-Host` are set, and an RFC 7239 `Forwarded` element
//!   (`for=` quoted and bracketed for IPv6) is appended. `Host` is the
//!   upstream's unless [`with_preserve_host`](ReverseProxyBuilder::with_preserve_host).
//! - **Bodies** stream both ways frame by frame, with backpressure: a slow
//!   upstream slows the client's upload, a slow client slows the
//!   upstream's download; neither is buffered whole.
//! - **Protocol switches** (`101`, WebSocket among them) on HTTP/1.1: the
//!   upstream's `101` is passed on and the two connections are spliced
//!   with `tokio::io::copy_bidirectional` until either side closes. The
//!   spliced connection has no timeout of the proxy's.
//! - **Failures** answer with a status and a one-line body naming the
//!   failure ([`ProxyError`]): `502` when the upstream cannot be reached or
//!   answers badly, `504` on a timeout, `503` when the client service
//!   found no upstream, `413` past the body limit. Once the response head
//!   and first body bytes were passed on, a failing upstream body cuts the
//!   response off: the connection closes (HTTP/1.1) or the stream is reset
//!   (HTTP/2), so the client sees a truncated body, never a hang.
//! - **Retries.** An idempotent request whose body is in memory (no body,
//!   or a small one that arrived with its head) is sent again, at most
//!   [`with_retries`](ReverseProxyBuilder::with_retries) times, when its
//!   upstream could not be connected to or closed before answering. POST
//!   and PATCH are never sent twice, nor is a request whose body streams.

mod body;
mod builder;
mod error;
mod headers;
mod target;
mod upgrade;

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderValue};
use http::uri::Scheme;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::Body as _;
use tower::ServiceExt;
use tower_service::Service;
use wego_netpoll::net::TlsInfo;
use wego_netpoll::rt;

pub use self::builder::{DEFAULT_PROXY_IDLE_PER_HOST, DEFAULT_RETRIES, ReverseProxyBuilder};
pub use self::error::ProxyError;
use self::headers::Hop;
use self::target::Upstream;
use crate::server::ClientAddr;
use crate::{Body, BoxError, BoxFuture, Client, Handler, IntoResponse};

/// A reverse proxy to one upstream, through the client service `S`.
///
/// Cheap to clone: clones share the settings and clone the client (a
/// [`Client`]'s clones share its pool). Use it as a handler
/// (`router.any(path, proxy)`), as a `tower_service::Service`, or call
/// [`forward`](Self::forward).
pub struct ReverseProxy<S = Client> {
    settings: Arc<Settings>,
    client: S,
}

/// What `build()` settled.
#[derive(Debug)]
struct Settings {
    upstream: Upstream,
    strip_prefix: Option<String>,
    preserve_host: bool,
    timeout: Option<Duration>,
    max_request_body: Option<u64>,
    retries: usize,
}

impl<S: Clone> Clone for ReverseProxy<S> {
    fn clone(&self) -> Self {
        Self {
            settings: Arc::clone(&self.settings),
            client: self.client.clone(),
        }
    }
}

impl<S> fmt::Debug for ReverseProxy<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReverseProxy")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ReverseProxy {
    /// A builder with the defaults listed on [`ReverseProxyBuilder`].
    pub fn builder() -> ReverseProxyBuilder {
        ReverseProxyBuilder::default()
    }
}

impl<S> ReverseProxy<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    /// Forwards `req` to the upstream and returns its response, or the
    /// error status of a [`ProxyError`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the upstream request: its connection
    /// closes, as the client's does.
    pub async fn forward(&self, req: Request<Body>) -> Response<Body> {
        match self.try_forward(req).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::debug!(error = %e, status = %e.status(), "proxy answered an error");
                e.into_response()
            }
        }
    }

    async fn try_forward(&self, mut req: Request<Body>) -> Result<Response<Body>, ProxyError> {
        let settings = &*self.settings;
        // A request the server may switch to another protocol keeps its
        // `Upgrade`; the client's side of the switch is taken now.
        let switching = crate::upgrade::requested(req.version(), req.headers())
            && crate::upgrade::offered(req.extensions());
        let downstream = switching.then(|| crate::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let uri = settings
            .upstream
            .join(&parts.uri, settings.strip_prefix.as_deref())?;
        let body = match settings.max_request_body {
            Some(limit) if body.size_hint().lower() > limit => {
                return Err(ProxyError::RequestTooLarge);
            }
            // A body in memory was measured just now; a streaming one is
            // counted as it goes.
            Some(limit) if body.in_memory().is_none() => Body::new(body::Limited::new(body, limit)),
            _ => body,
        };
        let headers = self.upstream_headers(&parts, switching);

        // Only a request that may be sent again keeps a copy of itself.
        let retries = if is_idempotent(&parts.method) {
            settings.retries
        } else {
            0
        };
        let (body, replay) = match (retries, body.in_memory().is_some()) {
            (1.., true) => {
                let data = body
                    .collect_limited(usize::MAX)
                    .await
                    .map_err(|_| ProxyError::RequestBody)?;
                (Body::from(data.clone()), Some((data, headers.clone())))
            }
            _ => (body, None),
        };
        let head_request = parts.method == Method::HEAD;
        // One deadline for the head and the first body frame, whatever
        // the retries took of it.
        let deadline = settings.timeout.map(rt::deadline_in);
        let mut next = Some(upstream_request(
            parts.method.clone(),
            uri.clone(),
            headers,
            body,
        ));
        let mut attempt = 0;
        let resp = loop {
            let Some(req) = next.take() else {
                return Err(ProxyError::Upstream);
            };
            match self.send(req, deadline).await {
                Ok(resp) => break resp,
                Err(Failure::Timeout) => return Err(ProxyError::Timeout),
                Err(Failure::Service(e)) => {
                    let retry = attempt < retries && ProxyError::is_retryable(&*e);
                    tracing::debug!(error = %e, attempt, retry, "upstream request failed");
                    match &replay {
                        Some((data, headers)) if retry => {
                            attempt += 1;
                            next = Some(upstream_request(
                                parts.method.clone(),
                                uri.clone(),
                                headers.clone(),
                                Body::from(data.clone()),
                            ));
                        }
                        _ => return Err(ProxyError::classify(&*e)),
                    }
                }
            }
        };

        let (mut rparts, rbody) = resp.into_parts();
        if rparts.status == StatusCode::SWITCHING_PROTOCOLS {
            return upgrade::switch(downstream, rparts);
        }
        headers::remove_hop_by_hop(&mut rparts.headers, false);
        let rbody = if head_request {
            rbody
        } else {
            match deadline {
                Some(at) => rt::timeout_at(at, body::read_ahead(rbody))
                    .await
                    .unwrap_or(Err(ProxyError::Timeout))?,
                None => body::read_ahead(rbody).await?,
            }
        };
        Ok(Response::from_parts(rparts, rbody))
    }

    /// The request's headers as the upstream gets them.
    fn upstream_headers(&self, parts: &http::request::Parts, switching: bool) -> HeaderMap {
        let settings = &*self.settings;
        // What the client asked for: `Host`, or an HTTP/2 request's
        // `:authority`.
        let host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let https = parts.extensions.get::<TlsInfo>().is_some()
            || parts.uri.scheme() == Some(&Scheme::HTTPS);
        let mut headers = parts.headers.clone();
        let te_trailers = headers::remove_hop_by_hop(&mut headers, switching);
        if switching {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        }
        if te_trailers {
            headers.insert(header::TE, HeaderValue::from_static("trailers"));
        }
        headers.remove(header::EXPECT);
        headers::add_forwarding(
            &mut headers,
            &Hop {
                client: parts.extensions.get::<ClientAddr>().map(|c| &c.0),
                https,
                host: host.as_ref(),
            },
        );
        match host {
            Some(host) if settings.preserve_host => {
                headers.insert(header::HOST, host);
            }
            _ => {
                // The client takes `Host` from the upstream URI.
                let upstream = settings.upstream.authority().as_str();
                match HeaderValue::from_str(upstream) {
                    Ok(v) => {
                        headers.insert(header::HOST, v);
                    }
                    Err(_) => {
                        headers.remove(header::HOST);
                    }
                }
            }
        }
        headers
    }

    /// Calls the client service once, before `deadline` if there is one.
    async fn send(
        &self,
        req: Request<Body>,
        deadline: Option<Instant>,
    ) -> Result<Response<Body>, Failure> {
        let call = self.client.clone().oneshot(req);
        let result = match deadline {
            Some(at) => rt::timeout_at(at, call)
                .await
                .map_err(|_| Failure::Timeout)?,
            None => call.await,
        };
        result.map_err(|e| Failure::Service(e.into()))
    }
}

/// How one upstream call failed.
enum Failure {
    /// The proxy's own timeout passed.
    Timeout,
    /// The client service failed.
    Service(BoxError),
}

fn upstream_request(method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Request<Body> {
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    req
}

/// RFC 9110 §9.2.2: the methods whose repetition has the effect of one
/// request; the client's own retry uses the same list.
fn is_idempotent(method: &Method) -> bool {
    crate::client::is_idempotent(method)
}

impl<S> Service<Request<Body>> for ReverseProxy<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Readiness of the client service is awaited per call (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.forward(req).await) })
    }
}

/// `router.any(path, proxy)`: the proxy as a route handler.
impl<S> Handler<()> for ReverseProxy<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    fn call(self, req: Request<Body>) -> BoxFuture<'static, Response<Body>> {
        Box::pin(async move { self.forward(req).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn forward_futures_are_send() {
        let proxy = ReverseProxy::builder()
            .with_upstream("http://127.0.0.1:1")
            .build()
            .unwrap();
        assert_send(&proxy.forward(Request::new(Body::empty())));
    }
}
