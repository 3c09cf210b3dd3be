//! Bodies on their way through the proxy: the request body under the
//! proxy's limit, and the response body with its first frame read ahead.
//! Both stream: nothing is buffered past one frame.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};

use super::ProxyError;
use crate::Body;
use crate::body::BodyError;

/// A request body cut off with [`BodyError::is_too_large`] once it grows
/// past `limit` bytes.
pub(crate) struct Limited {
    inner: Body,
    limit: u64,
    seen: u64,
}

impl Limited {
    /// `inner` limited to `limit` bytes.
    pub(crate) fn new(inner: Body, limit: u64) -> Self {
        Self {
            inner,
            limit,
            seen: 0,
        }
    }
}

impl http_body::Body for Limited {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            self.seen = self.seen.saturating_add(data.len() as u64);
            if self.seen > self.limit {
                let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
                return Poll::Ready(Some(Err(BodyError::too_large(limit))));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body whose first frame was read ahead.
struct Prefixed {
    first: Option<Frame<Bytes>>,
    rest: Body,
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(frame) = self.first.take() {
            return Poll::Ready(Some(Ok(frame)));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let first = self
            .first
            .as_ref()
            .and_then(Frame::data_ref)
            .map_or(0, |d| d.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(first));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(first));
        }
        hint
    }
}

/// Waits for the first frame of an upstream response body, so that an
/// upstream that fails before any body byte is answered with `502`
/// instead of a head followed by nothing. A body that is one frame
/// becomes a body in memory, which the server writes with the head.
pub(crate) async fn read_ahead(mut body: Body) -> Result<Body, ProxyError> {
    if body.is_end_stream() {
        return Ok(body);
    }
    let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
    match first {
        None => Ok(Body::empty()),
        Some(Err(e)) => {
            tracing::debug!(error = %e, "upstream response body failed before its first byte");
            Err(if e.is_timeout() {
                ProxyError::Timeout
            } else {
                ProxyError::BadResponse
            })
        }
        Some(Ok(frame)) => {
            if body.is_end_stream() && frame.is_data() {
                if let Ok(data) = frame.into_data() {
                    return Ok(Body::from(data));
                }
                return Ok(Body::empty());
            }
            Ok(Body::new(Prefixed {
                first: Some(frame),
                rest: body,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: Future>(f: F) -> F::Output {
        wego_netpoll::rt::block_on(f).expect("runtime")
    }

    fn chunks(parts: &[&'static str]) -> Body {
        let items: Vec<Result<Bytes, std::io::Error>> = parts
            .iter()
            .map(|s| Ok(Bytes::from_static(s.as_bytes())))
            .collect();
        Body::from_stream(futures_util::stream::iter(items))
    }

    #[test]
    fn limited_passes_up_to_the_limit_and_fails_past_it() {
        let body = Body::new(Limited::new(chunks(&["ab", "cd"]), 4));
        assert_eq!(&block(body.collect_limited(100)).unwrap()[..], b"abcd");
        let body = Body::new(Limited::new(chunks(&["ab", "cd", "e"]), 4));
        assert!(block(body.collect_limited(100)).unwrap_err().is_too_large());
    }

    #[test]
    fn read_ahead_keeps_every_byte_in_order() {
        let body = block(read_ahead(chunks(&["one ", "two ", "three"]))).unwrap();
        assert_eq!(
            &block(body.collect_limited(100)).unwrap()[..],
            b"one two three"
        );
        let body = block(read_ahead(Body::from("whole"))).unwrap();
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(&block(body.collect_limited(100)).unwrap()[..], b"whole");
        let body = block(read_ahead(Body::empty())).unwrap();
        assert!(body.is_end_stream());
    }

    #[test]
    fn read_ahead_maps_a_first_failure() {
        let items = vec![Err::<Bytes, _>(BodyError::incomplete())];
        let body = Body::from_stream(futures_util::stream::iter(items));
        assert_eq!(
            block(read_ahead(body)).unwrap_err(),
            ProxyError::BadResponse
        );
        let items = vec![Err::<Bytes, _>(BodyError::timeout())];
        let body = Body::from_stream(futures_util::stream::iter(items));
        assert_eq!(block(read_ahead(body)).unwrap_err(), ProxyError::Timeout);
    }

    #[test]
    fn prefixed_size_hint_counts_the_first_frame() {
        let p = Prefixed {
            first: Some(Frame::data(Bytes::from_static(b"abc"))),
            rest: Body::from("de"),
        };
        assert_eq!(p.size_hint().exact(), Some(5));
        assert!(!p.is_end_stream());
    }
}
