//! [`GovernedClient`]: calling HTTP services by name through
//! wego-governance's client layers (discovery, load balancing, breakers,
//! retries, backup requests, timeouts, metrics, `traceparent`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HOST;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use tokio::sync::OnceCell;
use tower::util::BoxCloneSyncService;
use tower_layer::Layer;
use tower_service::Service;
use wego_governance::breaker::Breakers;
use wego_governance::hedge::HedgeLayer;
use wego_governance::lb::{Balancer, LoadBalanceLayer, RoundRobin};
use wego_governance::metrics::{Metrics, MetricsLayer};
use wego_governance::retry::RetryLayer;
use wego_governance::timeout::TimeoutLayer;
use wego_governance::trace::{TraceContext, TraceLayer};
use wego_governance::{CallInfo, Classify, Discover, Instance};
use wego_netpoll::rt;

use super::{Client, is_idempotent};
use crate::governance::{HeaderCarrier, RequestTrace};
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
    /// [`GovernedClientBuilder::with_timeout`] still applies when shorter.
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
struct HttpCall {
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
    async fn new(service: Arc<str>, req: Request<Body>) -> Result<HttpCall> {
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
            deadline: options.timeout.map(|t| rt::now() + t),
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
enum CallError {
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
struct Upstream {
    client: Client,
    /// `None` for an instance without a TCP address (a Unix socket path
    /// cannot be a URI authority).
    authority: Option<Authority>,
    server_errors: ServerErrors,
}

impl Upstream {
    fn new(client: Client, instance: &Instance, server_errors: ServerErrors) -> Upstream {
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

type Stack = BoxCloneSyncService<HttpCall, Response<Body>, CallError>;
type MakeBalancer = Arc<dyn Fn() -> Box<dyn Balancer> + Send + Sync>;

/// Builds a [`GovernedClient`]; start from [`GovernedClient::builder`].
///
/// Defaults: round robin, no breakers, no retries, no backup requests, no
/// timeout but the request's own ([`CallOptions::with_timeout`]), no
/// metrics, tracing on, [`ServerErrors::Unavailable`].
pub struct GovernedClientBuilder {
    client: Client,
    discover: Option<Arc<dyn Discover>>,
    services: Vec<String>,
    balancer: MakeBalancer,
    breakers: Option<Breakers>,
    retry: Option<RetryLayer>,
    hedge: Option<HedgeLayer>,
    timeout: Option<Duration>,
    metrics: Option<Metrics>,
    trace: bool,
    server_errors: ServerErrors,
}

impl fmt::Debug for GovernedClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GovernedClientBuilder")
            .field("services", &self.services)
            .field("timeout", &self.timeout)
            .field("trace", &self.trace)
            .field("server_errors", &self.server_errors)
            .finish_non_exhaustive()
    }
}

impl GovernedClientBuilder {
    /// Resolves service names with `discover` (static, DNS, etcd, or your
    /// own). Required.
    pub fn with_discover(mut self, discover: Arc<dyn Discover>) -> Self {
        self.discover = Some(discover);
        self
    }

    /// Adds a service name: requests whose host is `name` (any port, any
    /// case) are resolved and balanced. At least one is required.
    pub fn add_service(mut self, name: &str) -> Self {
        self.services.push(name.to_ascii_lowercase());
        self
    }

    /// Picks instances with the balancer `make` builds (one per service);
    /// round robin by default.
    pub fn with_balancer<B: Balancer>(
        mut self,
        make: impl Fn() -> B + Send + Sync + 'static,
    ) -> Self {
        self.balancer = Arc::new(move || Box::new(make()));
        self
    }

    /// A circuit breaker per instance (scope `service/address`): open
    /// instances are skipped. Give the breakers
    /// `with_observer(metrics.breaker_observer())` to see them in metrics.
    pub fn with_breakers(mut self, breakers: Breakers) -> Self {
        self.breakers = Some(breakers);
        self
    }

    /// Retries retryable failures of idempotent requests on another
    /// instance ([`RetryLayer`]: attempts, backoff, budget). With
    /// [`with_metrics`](Self::with_metrics), retries are counted there.
    pub fn with_retry(mut self, retry: RetryLayer) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Sends backup requests for slow idempotent requests to other
    /// instances ([`HedgeLayer`]); the first answer wins.
    pub fn with_hedge(mut self, hedge: HedgeLayer) -> Self {
        self.hedge = Some(hedge);
        self
    }

    /// Bounds every governed request, retries and backups included, until
    /// its response head arrives. The [`Client`]'s own timeout bounds each
    /// attempt.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Records governed requests (and retries, backups) in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Turns the `wego.call` span and `traceparent` injection on or off.
    pub fn with_trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Which `5xx` responses count as an instance's failures.
    pub fn with_server_errors(mut self, policy: ServerErrors) -> Self {
        self.server_errors = policy;
        self
    }

    /// Checks the settings and builds the client. Discovery starts on a
    /// service's first request.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] without a discover or a service, for a service
    /// name that is not a host name (or has a port), or for a zero timeout.
    pub fn build(self) -> Result<GovernedClient> {
        let Some(discover) = self.discover else {
            return Err(Error::client_config("discover must be set"));
        };
        if self.services.is_empty() {
            return Err(Error::client_config("at least one service must be added"));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::client_config("timeout must be above zero"));
        }
        let mut services = HashMap::new();
        for name in &self.services {
            let valid = name
                .parse::<Authority>()
                .is_ok_and(|a| a.port().is_none() && a.host() == name && !name.is_empty());
            if !valid {
                return Err(Error::client_config(
                    "service names must be host names without a port",
                ));
            }
            services.insert(name.clone(), OnceCell::new());
        }
        let (retry, hedge) = match &self.metrics {
            Some(m) => (
                self.retry.map(|r| r.with_metrics(m.clone())),
                self.hedge.map(|h| h.with_metrics(m.clone())),
            ),
            None => (self.retry, self.hedge),
        };
        Ok(GovernedClient {
            shared: Arc::new(Shared {
                client: self.client,
                discover,
                services,
                balancer: self.balancer,
                breakers: self.breakers,
                retry,
                hedge,
                timeout: self.timeout,
                metrics: self.metrics,
                trace: self.trace,
                server_errors: self.server_errors,
            }),
        })
    }
}

/// An HTTP client that calls services by name: wego-governance's client
/// layers in front of a [`Client`]. Cheap to clone.
///
/// A request whose host is one of the client's service names
/// (`http://echo-svc/path`) is resolved through a [`Discover`], balanced
/// over the service's instances and sent, through the pooled [`Client`], to
/// the picked instance's address. The layers are the ones the RPC clients
/// use, outer first:
///
/// ```text
/// trace context   traceparent: kept if set, else a child of the request's
///                 TraceContext / RequestTrace extension, else a new root
/// TraceLayer      span `wego.call` {service, method, peer, status, latency_ms}
/// MetricsLayer    wego_requests_total{service,method,status}, errors by kind, latency
/// TimeoutLayer    with_timeout, bounded by CallOptions::with_timeout
/// RetryLayer      idempotent requests only, retryable failures, budget
/// HedgeLayer      backup requests for idempotent requests
/// LoadBalance     Discover → Balancer → per-instance breaker
/// Upstream        URI authority := the instance's address; Host stays the
///                 service name; sent by the Client; counted 5xx → failure
/// ```
///
/// Labels: `service` is the service name, `method` the HTTP method (a path
/// would give every id its own time series). Requests to any other host go
/// to the [`Client`] unchanged, with no governance.
///
/// Which failures count (for breakers and retries):
///
/// | outcome | breaker failure | retryable (idempotent requests) |
/// |---|---|---|
/// | connect failed | yes | yes |
/// | connection closed before the response | yes | yes |
/// | timeout, malformed response | yes | no |
/// | a 5xx status counted by [`ServerErrors`] (default: 502, 503, 504) | yes | yes |
/// | any other response (2xx–4xx, uncounted 5xx) | no | no |
/// | no instance, every breaker open | no | yes |
///
/// A counted 5xx is a failure inside the stack, but the caller still gets
/// the last response, not an error, once no retry is left: an HTTP client
/// returns what the server said. A request is idempotent when its method is
/// (RFC 9110 §9.2.2) and its body is in memory (a streaming body cannot be
/// sent twice), or when [`CallOptions::with_idempotent`] says so.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use wego_governance::retry::RetryLayer;
/// use wego_governance::{Instance, StaticDiscover};
/// use wego_hertz::client::{Client, GovernedClient};
///
/// let discover = StaticDiscover::with_service(
///     "echo-svc",
///     vec![Instance::new("127.0.0.1:8081".parse()?), Instance::new("127.0.0.1:8082".parse()?)],
/// );
/// let client = GovernedClient::builder(Client::builder().build()?)
///     .with_discover(Arc::new(discover))
///     .add_service("echo-svc")
///     .with_retry(RetryLayer::new(3))
///     .with_timeout(Duration::from_secs(2))
///     .build()?;
/// let resp = client.get("http://echo-svc/hello").await?;
/// # let _ = resp;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct GovernedClient {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    discover: Arc<dyn Discover>,
    /// Each service's stack, built on its first request.
    services: HashMap<String, OnceCell<Stack>>,
    balancer: MakeBalancer,
    breakers: Option<Breakers>,
    retry: Option<RetryLayer>,
    hedge: Option<HedgeLayer>,
    timeout: Option<Duration>,
    metrics: Option<Metrics>,
    trace: bool,
    server_errors: ServerErrors,
}

impl fmt::Debug for GovernedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.shared.services.keys().collect();
        names.sort();
        f.debug_struct("GovernedClient")
            .field("services", &names)
            .finish_non_exhaustive()
    }
}

impl GovernedClient {
    /// A builder around `client`, which sends every attempt (its pool,
    /// connector, TLS and timeouts apply).
    pub fn builder(client: Client) -> GovernedClientBuilder {
        GovernedClientBuilder {
            client,
            discover: None,
            services: Vec::new(),
            balancer: Arc::new(|| Box::new(RoundRobin::new())),
            breakers: None,
            retry: None,
            hedge: None,
            timeout: None,
            metrics: None,
            trace: true,
            server_errors: ServerErrors::default(),
        }
    }

    /// The client that sends the requests.
    pub fn client(&self) -> &Client {
        &self.shared.client
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

    /// Sends `req`: through governance when its host is a service name,
    /// else straight through the [`Client`].
    ///
    /// A counted `5xx` ([`ServerErrors`]) that no retry replaced is
    /// returned as the response.
    ///
    /// # Errors
    ///
    /// As [`Client::request`] for the last attempt, plus
    /// [`Error::is_refused`] when governance refused the request (no
    /// instance, every breaker open, discovery failed; the cause is in
    /// [`Error::governance`]) and [`Error::is_timeout`] past the governed
    /// timeout.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels every attempt in flight; their
    /// connections are closed, as [`Client::request`]'s are.
    pub async fn request(&self, mut req: Request<Body>) -> Result<Response<Body>> {
        let Some((name, cell)) = self.service_of(req.uri()) else {
            return self.shared.client.request(req).await;
        };
        if self.shared.trace {
            inject_trace(&mut req);
        }
        let name: Arc<str> = Arc::from(name);
        let call = HttpCall::new(name.clone(), req).await?;
        // Discovery (a service's first request) waits within the request's
        // time too: a registry that does not answer must not hang it.
        let init = cell.get_or_try_init(|| self.build_stack(&name));
        let limit = match (call.deadline, self.shared.timeout) {
            (Some(d), Some(t)) => Some(d.min(rt::now() + t)),
            (d, t) => d.or_else(|| t.map(|t| rt::now() + t)),
        };
        let stack = match limit {
            Some(at) => rt::timeout_at(at, init)
                .await
                .map_err(|_| Error::timeout())??,
            None => init.await?,
        };
        let mut stack = stack.clone();
        let out = match std::future::poll_fn(|cx| stack.poll_ready(cx)).await {
            Ok(()) => stack.call(call).await,
            Err(e) => Err(e),
        };
        match out {
            Ok(resp) | Err(CallError::Status(resp)) => Ok(resp),
            Err(CallError::Http(e)) => Err(e),
        }
    }

    fn service_of(&self, uri: &Uri) -> Option<(&str, &OnceCell<Stack>)> {
        let host = uri.host()?.to_ascii_lowercase();
        self.shared
            .services
            .get_key_value(&host)
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Discovers `name` and builds its stack (see the module docs).
    async fn build_stack(&self, name: &str) -> Result<Stack> {
        let s = &self.shared;
        let watch = s.discover.discover(name).await.map_err(Error::governed)?;
        let make = s.balancer.clone();
        let mut lb = LoadBalanceLayer::new(name, watch, move || make());
        if let Some(b) = &s.breakers {
            lb = lb.with_breaker(b.clone());
        }
        let client = s.client.clone();
        let server_errors = s.server_errors;
        let lb = lb.layer(move |i: &Instance| Upstream::new(client.clone(), i, server_errors));
        let mut stack: Stack = BoxCloneSyncService::new(lb);
        if let Some(h) = &s.hedge {
            stack = BoxCloneSyncService::new(h.layer(stack));
        }
        if let Some(r) = &s.retry {
            stack = BoxCloneSyncService::new(r.layer(stack));
        }
        let timeout = s
            .timeout
            .map_or_else(TimeoutLayer::deadline_only, TimeoutLayer::new);
        stack = BoxCloneSyncService::new(timeout.layer(stack));
        if let Some(m) = &s.metrics {
            stack = BoxCloneSyncService::new(MetricsLayer::new(m.clone()).layer(stack));
        }
        if s.trace {
            stack = BoxCloneSyncService::new(TraceLayer::client().layer(stack));
        }
        tracing::debug!(service = name, "governed http service discovered");
        Ok(stack)
    }
}

/// Sets `traceparent` unless the request has one: a child of the request's
/// [`TraceContext`] or [`RequestTrace`] extension (a handler passes the
/// trace it serves), else a new root.
fn inject_trace(req: &mut Request<Body>) {
    if req.headers().contains_key("traceparent") {
        return;
    }
    let parent = req
        .extensions()
        .get::<TraceContext>()
        .cloned()
        .or_else(|| req.extensions().get::<RequestTrace>().map(|t| t.context));
    let ctx = match parent {
        Some(p) => p.child(),
        None => TraceContext::new_root(),
    };
    ctx.inject(&mut HeaderCarrier(req.headers_mut()), None);
}

impl Service<Request<Body>> for GovernedClient {
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

    fn client() -> Client {
        Client::builder().build().unwrap()
    }

    fn discover() -> Arc<dyn Discover> {
        Arc::new(wego_governance::StaticDiscover::new())
    }

    #[test]
    fn build_rejects_missing_or_bad_settings_by_name() {
        let cases = [
            (
                GovernedClient::builder(client()).add_service("a"),
                "discover must be set",
            ),
            (
                GovernedClient::builder(client()).with_discover(discover()),
                "at least one service must be added",
            ),
            (
                GovernedClient::builder(client())
                    .with_discover(discover())
                    .add_service("a")
                    .with_timeout(Duration::ZERO),
                "timeout must be above zero",
            ),
            (
                GovernedClient::builder(client())
                    .with_discover(discover())
                    .add_service("a:80"),
                "service names must be host names without a port",
            ),
            (
                GovernedClient::builder(client())
                    .with_discover(discover())
                    .add_service("a/b"),
                "service names must be host names without a port",
            ),
        ];
        for (builder, msg) in cases {
            let e = builder.build().unwrap_err();
            assert!(e.is_config());
            assert_eq!(
                e.to_string(),
                format!("invalid client configuration: {msg}")
            );
        }
    }

    #[test]
    fn service_names_match_the_host_in_any_case_and_port() {
        let c = GovernedClient::builder(client())
            .with_discover(discover())
            .add_service("Echo-Svc")
            .build()
            .unwrap();
        for uri in ["http://echo-svc/x", "http://ECHO-SVC:8080/x"] {
            let uri: Uri = uri.parse().unwrap();
            assert_eq!(c.service_of(&uri).map(|(n, _)| n), Some("echo-svc"));
        }
        let other: Uri = "http://127.0.0.1/x".parse().unwrap();
        assert!(c.service_of(&other).is_none());
    }

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

    #[test]
    fn a_traceparent_is_kept_or_made_a_child() {
        let parent = TraceContext::new_root();
        let mut req = Request::new(Body::empty());
        req.extensions_mut().insert(parent);
        inject_trace(&mut req);
        let sent = TraceContext::extract(&HeaderCarrier(req.headers())).unwrap();
        assert_eq!(sent.trace_id, parent.trace_id);
        assert_ne!(sent.span_id, parent.span_id);
        let before = req.headers()["traceparent"].clone();
        inject_trace(&mut req);
        assert_eq!(req.headers()["traceparent"], before);
    }
}
