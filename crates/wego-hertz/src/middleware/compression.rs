//! Response compression (gzip, brotli, zstd) on `tower-http`.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tower_http::compression as thc;
use tower_layer::Layer;
use tower_service::Service;

use super::{Normalized, ResponseFuture};
use crate::extract::Request;
use crate::response::IntoResponse;

/// Compresses response bodies with the best encoding the client accepts
/// (`Accept-Encoding`, with q-values) among those compiled in: gzip and
/// deflate (feature `gzip`, default), brotli (`br`), zstd (`zstd`).
///
/// `tower-http`'s default predicate applies: bodies under 32 bytes, images,
/// gRPC and `text/event-stream` are sent as they are. Compressed responses
/// are streamed (chunked) and carry `Vary: accept-encoding`.
#[derive(Clone, Default)]
pub struct CompressionLayer {
    inner: thc::CompressionLayer,
}

impl CompressionLayer {
    /// Every compiled-in encoding, at the default quality.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compression level: fastest.
    pub fn fastest(mut self) -> Self {
        self.inner = self.inner.quality(thc::CompressionLevel::Fastest);
        self
    }

    /// Compression level: best (slowest).
    pub fn best(mut self) -> Self {
        self.inner = self.inner.quality(thc::CompressionLevel::Best);
        self
    }
}

impl std::fmt::Debug for CompressionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressionLayer").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for Compression<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compression").finish_non_exhaustive()
    }
}

impl<S> Layer<S> for CompressionLayer {
    type Service = Compression<S>;

    fn layer(&self, inner: S) -> Compression<S> {
        Compression {
            inner: self.inner.layer(Normalized(inner)),
        }
    }
}

/// The service of [`CompressionLayer`].
#[derive(Clone)]
pub struct Compression<S> {
    inner: thc::Compression<Normalized<S>>,
}

impl<S> Service<Request> for Compression<S>
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
        Box::pin(async move {
            match fut.await {
                Ok(res) => Ok(res.into_response()),
                Err(e) => match e {},
            }
        })
    }
}
