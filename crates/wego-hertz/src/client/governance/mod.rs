//! [`GovernedClient`]: calling HTTP services by name through
//! wego-governance's client layers (discovery, load balancing, breakers,
//! retries, backup requests, timeouts, metrics, `traceparent`).

mod builder;
mod call;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, Uri};
use tokio::sync::OnceCell;
use tower::util::BoxCloneSyncService;
use tower_layer::Layer;
use tower_service::Service;
use wego_governance::breaker::Breakers;
use wego_governance::hedge::HedgeLayer;
use wego_governance::lb::{Balancer, LoadBalanceLayer};
use wego_governance::metrics::{Metrics, MetricsLayer};
use wego_governance::retry::RetryLayer;
use wego_governance::timeout::TimeoutLayer;
use wego_governance::trace::{TraceContext, TraceLayer};
use wego_governance::{CallInfo, Discover, Instance};
use wego_netpoll::rt;

pub use self::builder::GovernedClientBuilder;
use self::call::{CallError, HttpCall, Upstream};
pub use self::call::{CallOptions, ServerErrors};
use super::Client;
use crate::governance::{HeaderCarrier, RequestTrace};
use crate::{Body, BoxFuture, Error, Result};

/// A service's layers around its balancer, built once per service name.
type Stack = BoxCloneSyncService<HttpCall, Response<Body>, CallError>;
/// Makes a service's balancer (one per service).
type MakeBalancer = Arc<dyn Fn() -> Box<dyn Balancer> + Send + Sync>;

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
    layers: Layers,
}

/// What the governed stack of each service is built with: the settings a
/// [`GovernedClientBuilder`] collects, kept by the client.
struct Layers {
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
        GovernedClientBuilder::new(client)
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
        if self.shared.layers.trace {
            inject_trace(&mut req);
        }
        let name: Arc<str> = Arc::from(name);
        let call = HttpCall::new(name.clone(), req).await?;
        // Discovery (a service's first request) waits within the request's
        // time too: a registry that does not answer must not hang it.
        let init = cell.get_or_try_init(|| self.build_stack(&name));
        let limit = match (call.deadline(), self.shared.layers.timeout) {
            (Some(d), Some(t)) => Some(d.min(rt::deadline_in(t))),
            (d, t) => d.or_else(|| t.map(rt::deadline_in)),
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
        let make = s.layers.balancer.clone();
        let mut lb = LoadBalanceLayer::new(name, watch, move || make());
        if let Some(b) = &s.layers.breakers {
            lb = lb.with_breaker(b.clone());
        }
        let client = s.client.clone();
        let server_errors = s.layers.server_errors;
        let lb = lb.layer(move |i: &Instance| Upstream::new(client.clone(), i, server_errors));
        let mut stack: Stack = BoxCloneSyncService::new(lb);
        if let Some(h) = &s.layers.hedge {
            stack = BoxCloneSyncService::new(h.layer(stack));
        }
        if let Some(r) = &s.layers.retry {
            stack = BoxCloneSyncService::new(r.layer(stack));
        }
        let timeout = s
            .layers
            .timeout
            .map_or_else(TimeoutLayer::deadline_only, TimeoutLayer::new);
        stack = BoxCloneSyncService::new(timeout.layer(stack));
        if let Some(m) = &s.layers.metrics {
            stack = BoxCloneSyncService::new(MetricsLayer::new(m.clone()).layer(stack));
        }
        if s.layers.trace {
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
