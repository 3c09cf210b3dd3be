//! CORS, on `tower-http`'s implementation.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors as thc;
use tower_layer::Layer;
use tower_service::Service;

use super::{Normalized, ResponseFuture};
use crate::extract::Request;
use crate::response::IntoResponse;

/// Cross-origin resource sharing: answers preflight `OPTIONS` requests and
/// adds `Access-Control-*` headers. Wraps `tower-http`'s `CorsLayer`, whose
/// rules (for example, no credentials with wildcard origins) apply.
///
/// [`CorsLayer::new`] allows nothing; add origins, methods and headers with
/// the `with_*` methods, or start from [`CorsLayer::permissive`].
#[derive(Debug, Clone)]
pub struct CorsLayer {
    inner: thc::CorsLayer,
}

impl Default for CorsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl CorsLayer {
    /// Allows nothing until configured.
    pub fn new() -> Self {
        Self {
            inner: thc::CorsLayer::new(),
        }
    }

    /// Any origin, method and header; no credentials.
    pub fn permissive() -> Self {
        Self {
            inner: thc::CorsLayer::permissive(),
        }
    }

    /// Allows these origins (`https://example.com`); invalid ones are
    /// skipped with a warning.
    pub fn with_origins<'a>(mut self, origins: impl IntoIterator<Item = &'a str>) -> Self {
        let list: Vec<HeaderValue> = origins
            .into_iter()
            .filter_map(|o| {
                HeaderValue::from_str(o)
                    .inspect_err(|_| tracing::warn!(origin = o, "skipping an invalid CORS origin"))
                    .ok()
            })
            .collect();
        self.inner = self.inner.allow_origin(list);
        self
    }

    /// Allows any origin (`*`).
    pub fn with_any_origin(mut self) -> Self {
        self.inner = self.inner.allow_origin(thc::Any);
        self
    }

    /// Allows these methods.
    pub fn with_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.inner = self
            .inner
            .allow_methods(methods.into_iter().collect::<Vec<_>>());
        self
    }

    /// Allows these request headers.
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.inner = self
            .inner
            .allow_headers(headers.into_iter().collect::<Vec<_>>());
        self
    }

    /// Exposes these response headers to scripts.
    pub fn with_expose_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.inner = self
            .inner
            .expose_headers(headers.into_iter().collect::<Vec<_>>());
        self
    }

    /// Allows credentials (cookies, `Authorization`).
    pub fn with_credentials(mut self, allow: bool) -> Self {
        self.inner = self.inner.allow_credentials(allow);
        self
    }

    /// How long browsers may cache a preflight answer.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.inner = self.inner.max_age(max_age);
        self
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors {
            inner: self.inner.layer(Normalized(inner)),
        }
    }
}

/// The service of [`CorsLayer`].
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: thc::Cors<Normalized<S>>,
}

impl<S> Service<Request> for Cors<S>
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
        Box::pin(self.inner.call(req))
    }
}
