//! Recovery: a panicking handler answers 500 and the server keeps serving.

use std::any::Any;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use http::StatusCode;
use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::extract::Request;
use crate::response::{IntoResponse, text};

/// Catches panics of the inner service (in `call` and while its future is
/// polled) and answers `500 internal server error`, logging the panic
/// message with `tracing::error!`. Hertz's `recovery.Recovery()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecoveryLayer;

impl RecoveryLayer {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for RecoveryLayer {
    type Service = Recovery<S>;

    fn layer(&self, inner: S) -> Recovery<S> {
        Recovery { inner }
    }
}

/// The service of [`RecoveryLayer`].
#[derive(Debug, Clone)]
pub struct Recovery<S> {
    inner: S,
}

impl<S> Service<Request> for Recovery<S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + 'static,
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
        let inner = &mut self.inner;
        let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(req))) {
            Ok(fut) => fut,
            Err(panic) => return Box::pin(std::future::ready(Ok(internal_error(&*panic)))),
        };
        Box::pin(async move {
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(Ok(res)) => Ok(res.into_response()),
                Ok(Err(e)) => match e {},
                Err(panic) => Ok(internal_error(&*panic)),
            }
        })
    }
}

fn internal_error(panic: &(dyn Any + Send)) -> crate::response::Response {
    let msg = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    tracing::error!(panic = msg, "handler panicked; answering 500");
    text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
}
