//! `from_fn`: middleware from an async function (Hertz's onion model).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::extract::Request;
use crate::response::{IntoResponse, Response};
use crate::router::Route;

/// Builds a middleware from `async fn(Request, Next) -> impl IntoResponse`.
///
/// Code before `next.run(req).await` runs on the way in, code after it on
/// the way out; returning without calling `next` short-circuits.
///
/// ```
/// use wego_hertz::middleware::{from_fn, Next};
/// use wego_hertz::extract::Request;
/// use wego_hertz::Router;
///
/// async fn stamp(req: Request, next: Next) -> wego_hertz::response::Response {
///     let mut res = next.run(req).await;
///     res.headers_mut().insert("x-served-by", "wego".parse().unwrap());
///     res
/// }
/// let app = Router::new().get("/", || async { "hi" }).layer(from_fn(stamp));
/// # drop(app);
/// ```
pub fn from_fn<F>(f: F) -> FromFnLayer<F> {
    FromFnLayer { f }
}

/// The layer [`from_fn`] returns.
#[derive(Clone)]
pub struct FromFnLayer<F> {
    f: F,
}

impl<F> fmt::Debug for FromFnLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromFnLayer").finish_non_exhaustive()
    }
}

impl<F: Clone, S> Layer<S> for FromFnLayer<F> {
    type Service = FromFn<F, S>;

    fn layer(&self, inner: S) -> FromFn<F, S> {
        FromFn {
            f: self.f.clone(),
            inner,
        }
    }
}

/// The service of [`FromFnLayer`].
#[derive(Clone)]
pub struct FromFn<F, S> {
    f: F,
    inner: S,
}

impl<F, S> fmt::Debug for FromFn<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromFn").finish_non_exhaustive()
    }
}

impl<F, Fut, R, S> Service<Request> for FromFn<F, S>
where
    F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
    S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let next = Next {
            inner: Route::new(self.inner.clone()),
        };
        let fut = (self.f)(req, next);
        Box::pin(async move { Ok(fut.await.into_response()) })
    }
}

/// The rest of the chain, handed to a [`from_fn`] middleware.
#[derive(Debug, Clone)]
pub struct Next {
    inner: Route,
}

impl Next {
    /// Runs the inner middleware and the handler.
    pub async fn run(self, req: Request) -> Response {
        match self.inner.oneshot(req).await {
            Ok(res) => res,
            Err(e) => match e {},
        }
    }
}
