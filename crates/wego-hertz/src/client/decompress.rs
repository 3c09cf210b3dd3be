//! Response decompression, when
//! [`ClientBuilder::with_decompression`](super::ClientBuilder::with_decompression)
//! asks for it: `Accept-Encoding` names the codecs compiled in (gzip and
//! deflate with the `gzip` feature, `br` and `zstd` with theirs), and a
//! response in one of them is decoded as the caller reads it, by
//! tower-http's decoders. Decoding is pull-driven (one 4 KiB output
//! buffer at a time), so a slow reader still slows the server down.
//!
//! The decoded response loses `Content-Encoding` and `Content-Length`, and
//! the client's response body limit counts *decoded* bytes, so a small
//! compressed body that inflates past it (a decompression bomb) fails
//! with [`BodyError::is_too_large`] after at most one buffer past the
//! limit. A stacked encoding (`gzip, br`) or an unknown one is returned
//! as it arrived.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use tower::ServiceExt;
use tower_http::decompression::{Decompression, DecompressionBody};

use crate::{Body, BodyError, BoxError, Error, Result};

/// The codecs this build decodes, in order of preference.
const CODECS: &[&str] = &[
    #[cfg(feature = "zstd")]
    "zstd",
    #[cfg(feature = "br")]
    "br",
    #[cfg(feature = "gzip")]
    "gzip",
    #[cfg(feature = "gzip")]
    "deflate",
];

/// Asks for the compiled-in codecs, unless the caller chose already.
pub(crate) fn prepare(headers: &mut HeaderMap) {
    if !headers.contains_key(ACCEPT_ENCODING) {
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(accept_encoding()));
    }
}

/// The `Accept-Encoding` value for this build.
pub(crate) fn accept_encoding() -> &'static str {
    // Kept in step with CODECS by the unit test below.
    #[cfg(all(feature = "zstd", feature = "br", feature = "gzip"))]
    return "zstd, br, gzip, deflate";
    #[cfg(all(feature = "zstd", feature = "br", not(feature = "gzip")))]
    return "zstd, br";
    #[cfg(all(feature = "zstd", not(feature = "br"), feature = "gzip"))]
    return "zstd, gzip, deflate";
    #[cfg(all(feature = "zstd", not(feature = "br"), not(feature = "gzip")))]
    return "zstd";
    #[cfg(all(not(feature = "zstd"), feature = "br", feature = "gzip"))]
    return "br, gzip, deflate";
    #[cfg(all(not(feature = "zstd"), feature = "br", not(feature = "gzip")))]
    return "br";
    #[cfg(all(not(feature = "zstd"), not(feature = "br"), feature = "gzip"))]
    return "gzip, deflate";
}

/// Decodes `resp` when its `Content-Encoding` is one this build knows,
/// and bounds the decoded body by `max_body`.
pub(crate) fn decode(
    resp: Response<Body>,
    method: &Method,
    max_body: Option<u64>,
) -> Result<Response<Body>> {
    let encoded = resp
        .headers()
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| CODECS.contains(&v));
    // A HEAD answer and 204/304 carry no body to decode, only the
    // headers of one.
    let bodiless = *method == Method::HEAD
        || matches!(
            resp.status(),
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
        );
    if !encoded || bodiless {
        return Ok(resp);
    }
    let mut slot = Some(resp);
    let answer = tower::service_fn(move |_: Request<()>| std::future::ready(slot.take().ok_or(())));
    // The inner future is ready, so the outer one is too.
    match Decompression::new(answer)
        .oneshot(Request::new(()))
        .now_or_never()
    {
        Some(Ok(decoded)) => Ok(decoded.map(|body| {
            Body::new(Limited {
                inner: body,
                seen: 0,
                limit: max_body,
            })
        })),
        // The service answers its one call at once, so this is not
        // reached; it fails the request rather than panicking.
        Some(Err(())) | None => Err(Error::protocol(std::io::Error::other(
            "the response decoder did not start",
        ))),
    }
}

pin_project_lite::pin_project! {
    /// A decoded body that fails once it yields more than `limit` bytes.
    struct Limited {
        #[pin]
        inner: DecompressionBody<Body>,
        seen: u64,
        limit: Option<u64>,
    }
}

impl http_body::Body for Limited {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let frame = match ready!(this.inner.poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                // The wire's own errors keep their kind; a corrupt
                // stream is malformed.
                let e = match e.downcast::<BodyError>() {
                    Ok(own) => own,
                    Err(other) => Box::new(BodyError::malformed(other)),
                };
                return Poll::Ready(Some(Err(e)));
            }
        };
        if let Some(data) = frame.data_ref() {
            *this.seen = this.seen.saturating_add(data.len() as u64);
            if let Some(limit) = *this.limit
                && *this.seen > limit
            {
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                return Poll::Ready(Some(Err(Box::new(BodyError::too_large(limit)))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // The decoded length is unknown until the end.
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_names_every_codec() {
        assert_eq!(accept_encoding(), CODECS.join(", "));
    }
}
