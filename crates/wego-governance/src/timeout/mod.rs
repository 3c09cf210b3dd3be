//! Timeouts per call and per method, bounded by the request's own deadline.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tower_layer::Layer;
use tower_service::Service;
use wego_netpoll::rt;

use crate::{CallInfo, Error};

/// Bounds each call by a timeout: the method's if set, else the default,
/// and never later than [`CallInfo::deadline`]. Expiry drops (cancels) the
/// inner call and returns [`Error::is_timeout`]. Timeouts run on the
/// runtime's clock ([`rt::now`], [`rt::timeout_at`]), so a paused test
/// clock drives them.
#[derive(Debug, Clone)]
pub struct TimeoutLayer {
    default: Option<Duration>,
    per_method: Arc<HashMap<String, Duration>>,
}

impl TimeoutLayer {
    /// A default timeout for every call.
    pub fn new(default: Duration) -> Self {
        TimeoutLayer {
            default: Some(default),
            per_method: Arc::default(),
        }
    }

    /// No default: only per-method timeouts and request deadlines apply.
    pub fn deadline_only() -> Self {
        TimeoutLayer {
            default: None,
            per_method: Arc::default(),
        }
    }

    /// Sets a timeout for one method (overrides the default).
    pub fn with_method(mut self, method: impl Into<String>, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.per_method).insert(method.into(), timeout);
        self
    }

    fn deadline_for(&self, req: &impl CallInfo) -> Option<Instant> {
        let own = self
            .per_method
            .get(req.method())
            .copied()
            .or(self.default)
            .map(rt::deadline_in);
        match (own, req.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            config: self.clone(),
        }
    }
}

/// A service whose calls time out.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    config: TimeoutLayer,
}

impl<S, Req> Service<Req> for Timeout<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    S::Error: From<Error>,
    Req: CallInfo,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let deadline = self.config.deadline_for(&req);
        let fut = self.inner.call(req);
        match deadline {
            None => Box::pin(fut),
            Some(d) => Box::pin(async move {
                match rt::timeout_at(d, fut).await {
                    Ok(res) => res,
                    Err(_) => Err(Error::timeout().into()),
                }
            }),
        }
    }
}
