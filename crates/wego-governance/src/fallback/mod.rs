//! Fallback: a function that supplies a result when a call fails.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

/// Replaces failures with the fallback's answer.
///
/// The function receives the error and the callee/method names and returns
/// `Ok(response)` to hide the failure (a cached or default answer) or
/// `Err(error)` to pass it on (possibly changed).
pub struct FallbackLayer<F> {
    f: Arc<F>,
}

impl<F> FallbackLayer<F> {
    /// Creates the layer.
    pub fn new(f: F) -> Self {
        FallbackLayer { f: Arc::new(f) }
    }
}

impl<F> Clone for FallbackLayer<F> {
    fn clone(&self) -> Self {
        FallbackLayer { f: self.f.clone() }
    }
}

impl<F> std::fmt::Debug for FallbackLayer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FallbackLayer")
    }
}

impl<S, F> Layer<S> for FallbackLayer<F> {
    type Service = Fallback<S, F>;
    fn layer(&self, inner: S) -> Fallback<S, F> {
        Fallback {
            inner,
            f: self.f.clone(),
        }
    }
}

/// A service whose failures go through a fallback function.
pub struct Fallback<S, F> {
    inner: S,
    f: Arc<F>,
}

impl<S: Clone, F> Clone for Fallback<S, F> {
    fn clone(&self) -> Self {
        Fallback {
            inner: self.inner.clone(),
            f: self.f.clone(),
        }
    }
}

impl<S, F> std::fmt::Debug for Fallback<S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fallback")
    }
}

impl<S, F, Req> Service<Req> for Fallback<S, F>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    F: Fn(S::Error, &str, &str) -> Result<S::Response, S::Error> + Send + Sync + 'static,
    Req: crate::CallInfo,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let callee = req.callee().to_owned();
        let method = req.method().to_owned();
        let f = self.f.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            match fut.await {
                Ok(r) => Ok(r),
                Err(e) => f(e, &callee, &method),
            }
        })
    }
}
