//! Middleware: `tower::Layer`s for the router, a group or a route.
//!
//! Any `tower::Layer` whose service takes `Request<Body>`, never fails
//! (`Error = Infallible`) and answers with something that implements
//! [`IntoResponse`](crate::response::IntoResponse) fits
//! [`Router::layer`](crate::Router::layer),
//! [`Group::layer`](crate::router::Group::layer) and
//! [`Handler::layer`](crate::handler::Handler::layer). [`from_fn`] writes
//! one from an async function, in Hertz's onion model.
//!
//! Built in: [`RecoveryLayer`] (panic → 500), [`AccessLogLayer`] (tracing),
//! [`RequestIdLayer`] (`x-request-id`), [`TimeoutLayer`] (408 or 503),
//! [`BodyLimitLayer`] (413), [`CorsLayer`], `CompressionLayer` (gzip,
//! and brotli / zstd with the `br` / `zstd` features) and
//! [`BasicAuthLayer`] (401). CORS and compression wrap `tower-http`.
//!
//! Each middleware is one file (service, layer and future together): they
//! are small, so the directory-per-middleware rule of STYLE.md would only
//! add files.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use crate::response::Response;

mod access_log;
mod basic_auth;
mod body_limit;
#[cfg(any(feature = "gzip", feature = "br", feature = "zstd"))]
mod compression;
mod cors;
mod from_fn;
mod recovery;
mod request_id;
mod timeout;

pub use access_log::{AccessLog, AccessLogLayer};
pub use basic_auth::{AuthUser, BasicAuth, BasicAuthLayer};
pub use body_limit::{BodyLimit, BodyLimitLayer};
#[cfg(any(feature = "gzip", feature = "br", feature = "zstd"))]
pub use compression::{Compression, CompressionLayer};
pub use cors::{Cors, CorsLayer};
pub use from_fn::{FromFn, FromFnLayer, Next, from_fn};
pub use recovery::{Recovery, RecoveryLayer};
pub use request_id::{RequestId, RequestIdLayer, RequestIdService};
pub use timeout::{Timeout, TimeoutLayer};

/// The boxed future the built-in middleware services return.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Erases an inner service's response type to `Response<Body>`, so that
/// tower-http's layers (which need `http::Response<B>`) can wrap any service.
#[derive(Debug, Clone)]
pub(crate) struct Normalized<S>(pub(crate) S);

impl<S> tower_service::Service<crate::extract::Request> for Normalized<S>
where
    S: tower_service::Service<crate::extract::Request, Error = Infallible> + Send + 'static,
    S::Response: crate::response::IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: crate::extract::Request) -> ResponseFuture {
        let fut = self.0.call(req);
        Box::pin(async move {
            match fut.await {
                Ok(res) => Ok(crate::response::IntoResponse::into_response(res)),
                Err(e) => match e {},
            }
        })
    }
}
