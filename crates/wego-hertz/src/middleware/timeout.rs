//! Timeout: answer 408 (or another status) when the handler is too slow.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use http::StatusCode;
use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::extract::Request;
use crate::response::{IntoResponse, text};

/// Bounds the time to produce a response head (not to stream the body) with
/// `wego_netpoll::rt::timeout`. On expiry the inner future is dropped
/// (cancelled) and the client gets `408 Request Timeout`, or the status set
/// with [`with_status`](Self::with_status) (`503` for gateways, say).
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    timeout: Duration,
    status: StatusCode,
}

impl TimeoutLayer {
    /// A timeout of `timeout`, answering 408.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            status: StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// Answers `status` on timeout.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            timeout: self.timeout,
            status: self.status,
        }
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    timeout: Duration,
    status: StatusCode,
}

impl<S> Service<Request> for Timeout<S>
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
        let fut = self.inner.call(req);
        let (timeout, status) = (self.timeout, self.status);
        Box::pin(async move {
            match wego_netpoll::rt::timeout(timeout, fut).await {
                Ok(Ok(res)) => Ok(res.into_response()),
                Ok(Err(e)) => match e {},
                Err(_elapsed) => Ok(text(status, "request timed out")),
            }
        })
    }
}
