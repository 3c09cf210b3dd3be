//! Turning refusals into responses, for services whose error type cannot
//! hold them (an HTTP handler with `Infallible` errors answers 429 with a
//! response, not an error).
//!
//! ```text
//! RecoverLayer(|e| 429 response)   Error = E            ← the protocol's service
//!   RateLimitLayer / ConcurrencyLimitLayer   Error = Rejection<E>
//!     IntoRejectionLayer           Error = Rejection<E>
//!       handler                    Error = E
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::{Classify, Error};

/// Either a governance refusal or the inner service's own error.
#[derive(Debug)]
pub enum Rejection<E> {
    /// A governance layer refused or failed the call.
    Governance(Error),
    /// The inner service failed.
    Inner(E),
}

impl<E> From<Error> for Rejection<E> {
    fn from(e: Error) -> Self {
        Rejection::Governance(e)
    }
}

impl<E: Classify> Classify for Rejection<E> {
    fn is_retryable(&self) -> bool {
        match self {
            Rejection::Governance(e) => Classify::is_retryable(e),
            Rejection::Inner(e) => e.is_retryable(),
        }
    }
    fn is_breaker_failure(&self) -> bool {
        match self {
            Rejection::Governance(e) => e.is_breaker_failure(),
            Rejection::Inner(e) => e.is_breaker_failure(),
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Rejection::Governance(e) => e.kind(),
            Rejection::Inner(e) => e.kind(),
        }
    }
}

/// Wraps a service's errors in [`Rejection::Inner`].
#[derive(Debug, Clone, Copy, Default)]
pub struct IntoRejectionLayer;

impl<S> Layer<S> for IntoRejectionLayer {
    type Service = IntoRejection<S>;
    fn layer(&self, inner: S) -> IntoRejection<S> {
        IntoRejection { inner }
    }
}

/// A service whose errors are [`Rejection::Inner`].
#[derive(Debug, Clone)]
pub struct IntoRejection<S> {
    inner: S,
}

impl<S, Req> Service<Req> for IntoRejection<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = Rejection<S::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Rejection::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let fut = self.inner.call(req);
        Box::pin(async move { fut.await.map_err(Rejection::Inner) })
    }
}

/// Answers governance refusals with `f(&error)` (e.g. an HTTP 429 or 503
/// response) and passes the inner service's errors through.
pub struct RecoverLayer<F> {
    f: Arc<F>,
}

impl<F> RecoverLayer<F> {
    /// Creates the layer.
    pub fn new(f: F) -> Self {
        RecoverLayer { f: Arc::new(f) }
    }
}

impl<F> Clone for RecoverLayer<F> {
    fn clone(&self) -> Self {
        RecoverLayer { f: self.f.clone() }
    }
}

impl<F> std::fmt::Debug for RecoverLayer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoverLayer")
    }
}

impl<S, F> Layer<S> for RecoverLayer<F> {
    type Service = Recover<S, F>;
    fn layer(&self, inner: S) -> Recover<S, F> {
        Recover {
            inner,
            f: self.f.clone(),
        }
    }
}

/// A service that answers governance refusals itself.
pub struct Recover<S, F> {
    inner: S,
    f: Arc<F>,
}

impl<S: Clone, F> Clone for Recover<S, F> {
    fn clone(&self) -> Self {
        Recover {
            inner: self.inner.clone(),
            f: self.f.clone(),
        }
    }
}

impl<S, F> std::fmt::Debug for Recover<S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recover")
    }
}

impl<S, F, E, Req> Service<Req> for Recover<S, F>
where
    S: Service<Req, Error = Rejection<E>>,
    S::Future: Send + 'static,
    F: Fn(&Error) -> S::Response + Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = E;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, E>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Err(Rejection::Inner(e))) => Poll::Ready(Err(e)),
            // A layer below is not ready because of a refusal: let the call
            // through so that it is answered with the refusal response.
            Poll::Ready(Err(Rejection::Governance(_))) | Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let fut = self.inner.call(req);
        let f = self.f.clone();
        Box::pin(async move {
            match fut.await {
                Ok(r) => Ok(r),
                Err(Rejection::Governance(e)) => Ok(f(&e)),
                Err(Rejection::Inner(e)) => Err(e),
            }
        })
    }
}
