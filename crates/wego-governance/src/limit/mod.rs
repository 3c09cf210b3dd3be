//! Server-side limits: token-bucket QPS ([`RateLimitLayer`]) and a
//! concurrency limit ([`ConcurrencyLimitLayer`]). Both refuse at once rather
//! than queue, so an overloaded server sheds load instead of adding latency.
//!
//! A refusal is an [`Error`] turned into the service's error with `From`
//! (a Kitex exception, a gRPC `RESOURCE_EXHAUSTED`). Where the error type
//! cannot hold it (HTTP handlers answer 429 with a response), wrap the
//! handler in [`IntoRejectionLayer`] and the stack in [`RecoverLayer`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tower_layer::Layer;
use tower_service::Service;

use crate::Error;

mod rate;
mod reject;

pub use rate::{RateLimit, RateLimitLayer, TokenBucket};
pub use reject::{IntoRejection, IntoRejectionLayer, Recover, RecoverLayer, Rejection};

/// Refuses calls beyond `max` in flight with [`Error::is_overloaded`].
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer {
    permits: Arc<Semaphore>,
}

impl ConcurrencyLimitLayer {
    /// At most `max` calls in flight across every clone of the service.
    pub fn new(max: usize) -> Self {
        ConcurrencyLimitLayer {
            permits: Arc::new(Semaphore::new(max)),
        }
    }

    /// Free slots now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;
    fn layer(&self, inner: S) -> ConcurrencyLimit<S> {
        ConcurrencyLimit {
            inner,
            permits: self.permits.clone(),
        }
    }
}

/// A service with a concurrency limit.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, Req> Service<Req> for ConcurrencyLimit<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    S::Error: From<Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return Box::pin(async { Err(Error::overloaded().into()) });
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            drop(permit);
            res
        })
    }
}
