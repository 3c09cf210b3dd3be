//! wego-governance on an HTTP server: rate and concurrency limits answered
//! with `429`, metrics and `tracing` spans per request labelled with the
//! service name and the matched route, W3C `traceparent` extraction, and a
//! `/metrics` route with the Prometheus text.
//!
//! [`GovernanceLayer`] builds this stack around a route (outer first):
//!
//! ```text
//! trace context   traceparent → RequestTrace extension + `wego.serve` span
//! RecoverLayer    refusal → 429 (Retry-After: 1 for the rate limit) / 503
//! TraceLayer      span `wego.call` {service, method = route template, status, latency_ms}
//! MetricsLayer    wego_requests_total, wego_errors_total{kind}, latency, in-flight
//! RateLimitLayer  token bucket, shared by every route the layer wraps
//! ConcurrencyLimitLayer
//! IntoRejectionLayer
//! the route
//! ```
//!
//! The route template comes from [`MatchedPath`], which the router sets
//! when it matched: put the layer on a [`Group`](crate::router::Group) (or
//! a route) so it sees it. On [`Router::layer`] the layer runs before
//! matching, and requests are labelled `method = "*"` (the limits work the
//! same either way). An HTTP handler's error type is `Infallible`, so
//! refusals cannot be errors: the limits refuse with a
//! `wego_governance::Error`, and `RecoverLayer` answers it (see
//! `docs/governance.md`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use tower::util::BoxCloneSyncService;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;
use wego_governance::limit::{
    ConcurrencyLimitLayer, IntoRejectionLayer, RateLimitLayer, RecoverLayer, Rejection,
};
use wego_governance::metrics::{Metrics, MetricsLayer};
use wego_governance::trace::{Carrier, TraceContext, TraceLayer};
use wego_governance::{CallInfo, Classify};

use crate::Body;
use crate::extract::{FromRequestParts, Request};
use crate::response::{IntoResponse, Response};
use crate::router::{MatchedPath, Router};

/// `http::HeaderMap` as a trace [`Carrier`]: `HeaderCarrier(&map)` to
/// extract, `HeaderCarrier(&mut map)` to inject. (A newtype: neither the
/// trait nor `HeaderMap` is this crate's.)
#[derive(Debug)]
pub struct HeaderCarrier<H>(pub H);

fn header_str<'a>(map: &'a HeaderMap, key: &str) -> Option<&'a str> {
    map.get(key).and_then(|v| v.to_str().ok())
}

impl Carrier for HeaderCarrier<&HeaderMap> {
    fn get(&self, key: &str) -> Option<&str> {
        header_str(self.0, key)
    }
    /// Read-only: setting is ignored (use `HeaderCarrier(&mut map)`).
    fn set(&mut self, key: &str, _value: String) {
        tracing::debug!(key, "trace header not set on a read-only carrier");
    }
}

impl Carrier for HeaderCarrier<&mut HeaderMap> {
    fn get(&self, key: &str) -> Option<&str> {
        header_str(self.0, key)
    }
    fn set(&mut self, key: &str, value: String) {
        match (
            http::HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                self.0.insert(name, value);
            }
            _ => tracing::debug!(key, "invalid trace header not set"),
        }
    }
}

/// The trace context of the request being served: the caller's
/// `traceparent` when it sent a valid one, else a new root. The governance
/// layer puts it into the request extensions; a handler takes it as an
/// extractor and passes `ctx.child()` on to the calls it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTrace {
    /// The context.
    pub context: TraceContext,
    /// Whether it came from the caller (false: a new root).
    pub remote: bool,
}

impl RequestTrace {
    /// Reads `traceparent` from `headers`, or starts a new trace.
    pub fn from_headers(headers: &HeaderMap) -> RequestTrace {
        match TraceContext::extract(&HeaderCarrier(headers)) {
            Some(context) => RequestTrace {
                context,
                remote: true,
            },
            None => RequestTrace {
                context: TraceContext::new_root(),
                remote: false,
            },
        }
    }

    /// The trace id in lowercase hex.
    pub fn trace_id(&self) -> String {
        self.context.trace_id_hex()
    }
}

impl FromRequestParts for RequestTrace {
    type Rejection = Infallible;

    /// The extension the governance layer set, or the request's own
    /// `traceparent` when the layer is not installed.
    async fn from_request_parts(parts: &mut http::request::Parts) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<RequestTrace>()
            .cloned()
            .unwrap_or_else(|| RequestTrace::from_headers(&parts.headers)))
    }
}

/// A request on its way through the governance layers: what [`CallInfo`]
/// needs (service name, route template) plus the request.
struct HttpCall {
    service: Arc<str>,
    route: Option<MatchedPath>,
    req: Request,
}

impl CallInfo for HttpCall {
    fn callee(&self) -> &str {
        &self.service
    }
    fn method(&self) -> &str {
        self.route.as_ref().map_or("*", MatchedPath::as_str)
    }
}

/// The error of a route: none (handlers answer with responses), but
/// governance's layers want a [`Classify`] type to wrap.
#[derive(Debug)]
enum Never {}

impl Classify for Never {
    fn is_retryable(&self) -> bool {
        match *self {}
    }
    fn is_breaker_failure(&self) -> bool {
        match *self {}
    }
    fn kind(&self) -> &'static str {
        match *self {}
    }
}

/// Adapts a route (`Service<Request>`) to the governance request type.
#[derive(Clone)]
struct Unwrap<S> {
    inner: S,
}

impl<S> Service<HttpCall> for Unwrap<S>
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Never;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Never>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Never>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => match e {},
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, call: HttpCall) -> Self::Future {
        let fut = self.inner.call(call.req);
        Box::pin(async move {
            match fut.await {
                Ok(r) => Ok(r.into_response()),
                Err(e) => match e {},
            }
        })
    }
}

/// The answer to a governance refusal: `429 Too Many Requests` for the
/// rate limit (with `Retry-After: 1`, the bucket refills within a second)
/// and the concurrency limit, `503 Service Unavailable` otherwise.
pub fn refusal_response(e: &wego_governance::Error) -> Response {
    let status = if e.is_rejected() {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut res = (status, e.to_string()).into_response();
    if e.is_rate_limited() {
        res.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

type Inner = BoxCloneSyncService<HttpCall, Response, Rejection<Never>>;

/// Governance's server layers for a [`Router`], a group or a route; see the
/// module docs for the stack. Limits are shared by every service the layer
/// builds (one bucket, one semaphore), so one layer on a group limits the
/// group as a whole.
#[derive(Debug, Clone)]
pub struct GovernanceLayer {
    service: Arc<str>,
    rate: Option<RateLimitLayer>,
    concurrency: Option<ConcurrencyLimitLayer>,
    metrics: Option<Metrics>,
    trace: bool,
}

impl GovernanceLayer {
    /// Governance for the service `service` (the `service` label of metrics
    /// and spans): tracing on, no limits, no metrics.
    pub fn new(service: &str) -> Self {
        GovernanceLayer {
            service: Arc::from(service),
            rate: None,
            concurrency: None,
            metrics: None,
            trace: true,
        }
    }

    /// Limits requests to `qps` per second with bursts of `burst`.
    pub fn with_rate_limit(mut self, qps: u32, burst: u32) -> Self {
        self.rate = Some(RateLimitLayer::new(qps, burst));
        self
    }

    /// Limits requests in progress to `max`.
    pub fn with_concurrency_limit(mut self, max: usize) -> Self {
        self.concurrency = Some(ConcurrencyLimitLayer::new(max));
        self
    }

    /// Records requests in `metrics` (serve them with [`metrics_route`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Turns the `wego.call` span and trace-context extraction on or off.
    pub fn with_trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }
}

impl<S> Layer<S> for GovernanceLayer
where
    S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Service = Governed;

    fn layer(&self, inner: S) -> Governed {
        let mut svc: Inner = BoxCloneSyncService::new(IntoRejectionLayer.layer(Unwrap { inner }));
        if let Some(c) = &self.concurrency {
            svc = BoxCloneSyncService::new(c.layer(svc));
        }
        if let Some(r) = &self.rate {
            svc = BoxCloneSyncService::new(r.layer(svc));
        }
        if let Some(m) = &self.metrics {
            svc = BoxCloneSyncService::new(MetricsLayer::new(m.clone()).layer(svc));
        }
        if self.trace {
            svc = BoxCloneSyncService::new(TraceLayer::new().layer(svc));
        }
        let recover: fn(&wego_governance::Error) -> Response = refusal_response;
        Governed {
            service: self.service.clone(),
            trace: self.trace,
            inner: BoxCloneSyncService::new(RecoverLayer::new(recover).layer(svc)),
        }
    }
}

/// The service of [`GovernanceLayer`].
#[derive(Clone)]
pub struct Governed {
    service: Arc<str>,
    trace: bool,
    inner: BoxCloneSyncService<HttpCall, Response, Never>,
}

impl std::fmt::Debug for Governed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governed")
            .field("service", &self.service)
            .finish()
    }
}

impl Service<Request> for Governed {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => match e {},
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().cloned();
        let span = if self.trace {
            let trace = match req.extensions().get::<RequestTrace>() {
                Some(t) => t.clone(),
                None => {
                    let t = RequestTrace::from_headers(req.headers());
                    req.extensions_mut().insert(t.clone());
                    t
                }
            };
            let span = tracing::info_span!(
                "wego.serve",
                service = &*self.service,
                trace_id = %trace.trace_id(),
                remote_parent = trace.remote,
                parent_span_id = tracing::field::Empty,
                trace_flags = tracing::field::Empty,
                otel.kind = "server",
                http.request.method = req.method().as_str(),
                http.route = route.as_ref().map(|r| r.as_str()),
                url.path = req.uri().path(),
                http.response.status_code = tracing::field::Empty,
            );
            if trace.remote {
                span.record("parent_span_id", trace.context.span_id_hex());
                span.record("trace_flags", trace.context.flags_hex());
            }
            span
        } else {
            tracing::Span::none()
        };
        let call = HttpCall {
            service: self.service.clone(),
            route,
            req,
        };
        let fut = span.in_scope(|| self.inner.call(call));
        let record = span.clone();
        Box::pin(
            async move {
                match fut.await {
                    Ok(r) => {
                        record.record("http.response.status_code", r.status().as_u16());
                        Ok(r)
                    }
                    Err(e) => match e {},
                }
            }
            .instrument(span),
        )
    }
}

/// Serves `metrics` as Prometheus text (format 0.0.4) on `GET path`.
#[derive(Debug, Clone)]
pub struct MetricsEndpoint {
    metrics: Metrics,
}

impl MetricsEndpoint {
    /// An endpoint rendering `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        MetricsEndpoint { metrics }
    }
}

impl Service<Request> for MetricsEndpoint {
    type Response = Response;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request) -> Self::Future {
        let mut res = Response::new(Body::from(self.metrics.render()));
        res.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        std::future::ready(Ok(res))
    }
}

/// Adds `GET path` (and `HEAD`) serving `metrics` in the Prometheus text
/// format to `router`.
///
/// # Panics
///
/// As [`Router::get`], when `path` conflicts with a registered route.
#[track_caller]
pub fn metrics_route(router: Router, path: &str, metrics: Metrics) -> Router {
    router.route_service(Method::GET, path, MetricsEndpoint::new(metrics))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_carrier_round_trips_a_trace_context() {
        let mut map = HeaderMap::new();
        let ctx = TraceContext::new_root();
        ctx.inject(&mut HeaderCarrier(&mut map), None);
        let back = RequestTrace::from_headers(&map);
        assert!(back.remote);
        assert_eq!(back.context, ctx);
        let fresh = RequestTrace::from_headers(&HeaderMap::new());
        assert!(!fresh.remote);
        assert_eq!(fresh.trace_id().len(), 32);
    }

    #[test]
    fn invalid_traceparent_starts_a_new_trace() {
        let mut map = HeaderMap::new();
        map.insert("traceparent", HeaderValue::from_static("00-zz-bad-01"));
        assert!(!RequestTrace::from_headers(&map).remote);
    }
}
