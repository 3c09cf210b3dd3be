//! Access log: one `tracing` event per request.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Instant;

use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::extract::Request;
use crate::response::IntoResponse;
use crate::router::MatchedPath;

/// Emits an `INFO` event with target `wego_hertz::access` when the response
/// head is ready: method, path (no query: it may carry secrets), status,
/// latency in microseconds, and the matched route when known (put the layer
/// on routes or groups to see it; on the router it runs before matching).
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLogLayer;

impl AccessLogLayer {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> AccessLog<S> {
        AccessLog { inner }
    }
}

/// The service of [`AccessLogLayer`].
#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
}

impl<S> Service<Request> for AccessLog<S>
where
    S: Service<Request, Error = Infallible> + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = crate::response::Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let start = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = match fut.await {
                Ok(res) => res.into_response(),
                Err(e) => match e {},
            };
            tracing::info!(
                target: "wego_hertz::access",
                method = %method,
                path = %path,
                route = route.as_ref().map(MatchedPath::as_str),
                status = res.status().as_u16(),
                latency_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
                "request"
            );
            Ok(res)
        })
    }
}
