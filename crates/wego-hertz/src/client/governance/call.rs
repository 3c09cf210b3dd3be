//! One governed call: the settings that shape it ([`CallOptions`],
//! [`ServerErrors`]), the request as the layers see it ([`HttpCall`]), how
//! its failures are classified ([`CallError`]), and the per-instance
//! service that sends an attempt ([`Upstream`]).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HOST;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use tower_service::Service;
use wego_governance::trace::TraceContext;
use wego_governance::{CallInfo, Classify, Instance};
use wego_netpoll::rt;

use super::super::{Client, is_idempotent};
use crate::governance::HeaderCarrier;
use crate::{Body, BoxFuture, Error, Result};

/// Which `5xx` responses count as failures of the instance that sent them:
/// they count against its breaker and are retried (idempotent requests
/// only) on another instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ServerErrors {
    /// No status is a failure; only transport failures are.
    Ignore,
    /// `502 Bad Gateway`, `503 Service Unavailable` and `504 Gateway
    /// Timeout`: the instance (or a proxy in front of it) could not handle
    /// the request, which another instance may. The default.
    #[default]
    Unavailable,
    /// Every `5xx`, `500 Internal Server Error` included.
    All,
}

impl ServerErrors {
    fn counts(self, status: StatusCode) -> bool {
        match self {
            ServerErrors::Ignore => false,
            ServerErrors::Unavailable => matches!(
                status,
                StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
            ServerErrors::All => status.is_server_error(),
        }
    }
}

/// Per-request governance settings, put into the request's extensions:
/// `req.extensions_mut().insert(CallOptions::new().with_timeout(d))`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallOptions {
    timeout: Option<Duration>,
    hash_key: Option<u64>,
    idempotent: Option<bool>,
}

impl CallOptions {
    /// No per-request settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bounds this request, retries and backups included; the client's
    /// [`with_timeout`](super::GovernedClientBuilder::with_timeout) still
    /// applies when shorter.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The key a consistent-hash balancer picks the instance by.
    pub fn with_hash_key(mut self, key: u64) -> Self {
        self.hash_key = Some(key);
        self
    }

    /// Says whether the request may be sent more than once (a `POST` with
    /// an idempotency key, say). A streaming body is never sent twice.
    pub fn with_idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }
}

/// The request body, shared by the attempts of one call.
#[derive(Clone)]
enum CallBody {
    /// In memory: every attempt sends it.
    Full(Bytes),
    /// Streaming: the first attempt takes it.
    Once(Arc<Mutex<Option<Body>>>),
}

/// One request on its way through the layers: what [`CallInfo`] needs and
/// the request itself. Clones share a streaming body.
#[derive(Clone)]
pub(super) struct HttpCall {
    service: Arc<str>,
    parts: http::request::Parts,
    body: CallBody,
    idempotent: bool,
    deadline: Option<Instant>,
    hash_key: Option<u64>,
}

impl CallInfo for HttpCall {
    fn callee(&self) -> &str {
        &self.service
    }
    fn trace_context(&self) -> Option<TraceContext> {
        TraceContext::extract(&HeaderCarrier(&self.parts.headers))
    }
    fn method(&self) -> &str {
        self.parts.method.as_str()
    }
    fn hash_key(&self) -> Option<u64> {
        self.hash_key
    }
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn is_idempotent(&self) -> bool {
        self.idempotent
    }
}

impl HttpCall {
    pub(super) async fn new(service: Arc<str>, req: Request<Body>) -> Result<HttpCall> {
        let (parts, body) = req.into_parts();
        let options = parts
            .extensions
            .get::<CallOptions>()
            .copied()
            .unwrap_or_default();
        let body = if body.in_memory().is_some() {
            CallBody::Full(
                body.collect_limited(usize::MAX)
                    .await
                    .map_err(Error::body)?,
            )
        } else {
            CallBody::Once(Arc::new(Mutex::new(Some(body))))
        };
        let replayable = matches!(body, CallBody::Full(_));
        let idempotent = replayable && options.idempotent.unwrap_or(is_idempotent(&parts.method));
        Ok(HttpCall {
            service,
            deadline: options.timeout.map(rt::deadline_in),
            hash_key: options.hash_key,
            idempotent,
            parts,
            body,
        })
    }

    /// This attempt's request: the URI's authority is `to`, and `Host`
    /// keeps the service name unless the caller set one.
    fn to_request(&self, to: &Authority) -> Result<Request<Body>, Error> {
        let body = match &self.body {
            CallBody::Full(data) => Body::from(data.clone()),
            CallBody::Once(slot) => slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .ok_or(Error::request(
                    "the streaming body was taken by an earlier attempt",
                ))?,
        };
        let mut parts = self.parts.clone();
        let original = parts.uri.clone();
        let mut uri = http::uri::Parts::default();
        uri.scheme = original.scheme().cloned();
        uri.authority = Some(to.clone());
        uri.path_and_query = Some(
            original
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        parts.uri =
            Uri::from_parts(uri).map_err(|_| Error::request("the instance uri does not parse"))?;
        let host = original
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
        if let (false, Some(host)) = (parts.headers.contains_key(HOST), host) {
            parts.headers.insert(HOST, host);
        }
        Ok(Request::from_parts(parts, body))
    }
}

/// A failure inside the stack: the client's error, or a response whose
/// status counts as a failure (kept, so that the caller gets it when no
/// retry is left).
pub(super) enum CallError {
    Http(Error),
    Status(Response<Body>),
}

impl fmt::Debug for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Http(e) => e.fmt(f),
            CallError::Status(r) => write!(f, "status {}", r.status()),
        }
    }
}

impl From<wego_governance::Error> for CallError {
    fn from(e: wego_governance::Error) -> Self {
        CallError::Http(Error::governed(e))
    }
}

impl Classify for CallError {
    fn is_retryable(&self) -> bool {
        match self {
            CallError::Http(e) => match e.governance() {
                Some(g) => Classify::is_retryable(g),
                // The request did not reach the application (connect), or
                // the connection broke before an answer (closed): another
                // instance may serve it. The retry layer sends it again
                // only when it is idempotent.
                None => e.is_connect() || e.is_closed(),
            },
            // Only counted statuses become errors.
            CallError::Status(_) => true,
        }
    }

    fn is_breaker_failure(&self) -> bool {
        match self {
            CallError::Http(e) => match e.governance() {
                Some(g) => g.is_breaker_failure(),
                None => e.is_connect() || e.is_closed() || e.is_timeout() || e.is_protocol(),
            },
            CallError::Status(_) => true,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            CallError::Http(e) => {
                if let Some(g) = e.governance() {
                    g.kind()
                } else if e.is_connect() {
                    "connect"
                } else if e.is_closed() {
                    "closed"
                } else if e.is_timeout() {
                    "timeout"
                } else if e.is_protocol() {
                    "protocol"
                } else if e.is_body() {
                    "body"
                } else {
                    "request"
                }
            }
            CallError::Status(r) => match r.status() {
                StatusCode::BAD_GATEWAY => "bad_gateway",
                StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
                StatusCode::GATEWAY_TIMEOUT => "gateway_timeout",
                _ => "server_error",
            },
        }
    }
}

/// The per-instance service: rewrites the request to the instance's
/// address and sends it through the shared [`Client`].
#[derive(Clone)]
pub(super) struct Upstream {
    client: Client,
    /// `None` for an instance without a TCP address (a Unix socket path
    /// cannot be a URI authority).
    authority: Option<Authority>,
    server_errors: ServerErrors,
}

impl Upstream {
    pub(super) fn new(
        client: Client,
        instance: &Instance,
        server_errors: ServerErrors,
    ) -> Upstream {
        let authority = instance
            .address
            .as_tcp()
            .and_then(|a| a.to_string().parse::<Authority>().ok());
        Upstream {
            client,
            authority,
            server_errors,
        }
    }
}

impl Service<HttpCall> for Upstream {
    type Response = Response<Body>;
    type Error = CallError;
    type Future = BoxFuture<'static, Result<Response<Body>, CallError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: HttpCall) -> Self::Future {
        let client = self.client.clone();
        let authority = self.authority.clone();
        let server_errors = self.server_errors;
        Box::pin(async move {
            let authority = authority.ok_or(CallError::Http(Error::request(
                "the instance has no tcp address",
            )))?;
            let req = call.to_request(&authority).map_err(CallError::Http)?;
            let resp = client.request(req).await.map_err(CallError::Http)?;
            if server_errors.counts(resp.status()) {
                return Err(CallError::Status(resp));
            }
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_policies() {
        let s = |c: u16| StatusCode::from_u16(c).unwrap();
        assert!(ServerErrors::Unavailable.counts(s(503)));
        assert!(ServerErrors::Unavailable.counts(s(502)));
        assert!(ServerErrors::Unavailable.counts(s(504)));
        assert!(!ServerErrors::Unavailable.counts(s(500)));
        assert!(ServerErrors::All.counts(s(500)));
        assert!(!ServerErrors::All.counts(s(404)));
        assert!(!ServerErrors::Ignore.counts(s(503)));
    }

    #[test]
    fn failures_are_classified() {
        let connect = CallError::Http(Error::connect(std::io::Error::other("refused")));
        assert!(connect.is_retryable() && connect.is_breaker_failure());
        assert_eq!(connect.kind(), "connect");
        let timeout = CallError::Http(Error::timeout());
        assert!(!timeout.is_retryable() && timeout.is_breaker_failure());
        let bad = CallError::Http(Error::request("x"));
        assert!(!bad.is_retryable() && !bad.is_breaker_failure());
        let status =
            CallError::Status(Response::builder().status(503).body(Body::empty()).unwrap());
        assert!(status.is_retryable() && status.is_breaker_failure());
        assert_eq!(status.kind(), "service_unavailable");
    }

    #[test]
    fn the_instance_request_keeps_the_service_name_as_host() {
        rt::block_on(async {
            let req = Request::post("http://echo-svc/a?b=1")
                .body(Body::from("hi"))
                .unwrap();
            let call = HttpCall::new(Arc::from("echo-svc"), req).await.unwrap();
            assert!(!call.idempotent, "POST is not idempotent");
            let to: Authority = "127.0.0.1:9".parse().unwrap();
            let out = call.to_request(&to).unwrap();
            assert_eq!(out.uri(), "http://127.0.0.1:9/a?b=1");
            assert_eq!(out.headers()[HOST], "echo-svc");
            // In memory: a second attempt has the body too.
            assert!(call.to_request(&to).is_ok());

            let mut req = Request::get("http://echo-svc/")
                .body(Body::empty())
                .unwrap();
            req.extensions_mut()
                .insert(CallOptions::new().with_idempotent(false).with_hash_key(7));
            let call = HttpCall::new(Arc::from("echo-svc"), req).await.unwrap();
            assert!(!call.idempotent);
            assert_eq!(call.hash_key, Some(7));
        })
        .unwrap();
    }
}
