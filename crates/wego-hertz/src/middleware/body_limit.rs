//! Body limit: refuse bodies longer than a limit with 413.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_LENGTH;
use http_body::{Frame, SizeHint};
use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::extract::{self, Request};
use crate::response::{IntoResponse, text};
use crate::{Body, BodyError};

/// Limits request bodies to `limit` bytes.
///
/// A `Content-Length` above the limit answers 413 before the handler runs.
/// Otherwise the body is wrapped so that reading past the limit fails with
/// [`BodyError::is_too_large`], and the limit becomes the one buffered
/// extractors use ([`extract::RequestBodyLimit`]), so they answer 413 too.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    limit: usize,
}

impl BodyLimitLayer {
    /// A limit of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> BodyLimit<S> {
        BodyLimit {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`BodyLimitLayer`].
#[derive(Debug, Clone)]
pub struct BodyLimit<S> {
    inner: S,
    limit: usize,
}

impl<S> Service<Request> for BodyLimit<S>
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
        let limit = self.limit;
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            let msg = format!("request body exceeds the limit of {limit} bytes");
            return Box::pin(std::future::ready(Ok(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                msg,
            ))));
        }
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(extract::RequestBodyLimit(limit));
        let body = Body::new(Limited {
            inner: body,
            remaining: limit,
            limit,
        });
        let fut = self.inner.call(Request::from_parts(parts, body));
        Box::pin(async move {
            match fut.await {
                Ok(res) => Ok(res.into_response()),
                Err(e) => match e {},
            }
        })
    }
}

pin_project_lite::pin_project! {
    struct Limited {
        #[pin]
        inner: Body,
        remaining: usize,
        limit: usize,
    }
}

impl http_body::Body for Limited {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if data.len() > *this.remaining {
                        *this.remaining = 0;
                        return Poll::Ready(Some(Err(BodyError::too_large(*this.limit))));
                    }
                    *this.remaining -= data.len();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
