//! The body type of requests and responses.
//!
//! [`Body`] is one concrete type for every body wego-hertz hands out or
//! accepts: empty, a single buffer, a boxed [`http_body::Body`], a stream of
//! chunks, or (on the server) the request body streamed straight from the
//! connection. It implements [`http_body::Body`] with `Data = Bytes` and
//! `Error = BodyError`, so every `http-body-util` combinator works on it.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};

pub(crate) mod incoming;

use self::incoming::Incoming;

use crate::BoxError;

type BoxBody = Pin<Box<dyn http_body::Body<Data = Bytes, Error = BoxError> + Send>>;

/// The body of an `http::Request<Body>` or `http::Response<Body>`.
///
/// `Default` is the empty body.
#[derive(Default)]
pub struct Body {
    kind: Kind,
}

#[derive(Default)]
enum Kind {
    #[default]
    Empty,
    Full(Option<Bytes>),
    Boxed(BoxBody),
    Incoming(Incoming),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full(_) => "full",
            Kind::Boxed(_) => "boxed",
            Kind::Incoming(_) => "incoming",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("size_hint", &http_body::Body::size_hint(self))
            .finish()
    }
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Self { kind: Kind::Empty }
    }

    /// Wraps any [`http_body::Body`] yielding [`Bytes`].
    ///
    /// Errors of `body` that are already a [`BodyError`] keep their kind
    /// (`is_too_large()` and so on); others become an opaque `BodyError`
    /// whose `source()` is the original error.
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self {
            kind: Kind::Boxed(Box::pin(MapErr { inner: body })),
        }
    }

    /// A body whose data frames are the items of `stream`; its length is
    /// unknown, so a server sends it chunked.
    pub fn from_stream<S, E>(stream: S) -> Self
    where
        S: futures_core::Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Self::new(StreamBody { stream })
    }

    /// Reads the whole body into one buffer.
    ///
    /// Fails with [`BodyError::is_too_large`] when the body is longer than
    /// `limit` bytes. A declared length (`Content-Length`, or the size hint of
    /// the inner body) past `limit` fails before anything is read or
    /// buffered; otherwise the count is checked after every frame. Trailers
    /// are read and dropped.
    pub async fn collect_limited(self, limit: usize) -> Result<Bytes, BodyError> {
        let mut body = self;
        let hint = http_body::Body::size_hint(&body);
        if hint.lower() > limit as u64 {
            return Err(BodyError::too_large(limit));
        }
        if let Kind::Full(data) = &mut body.kind {
            return Ok(data.take().unwrap_or_default());
        }
        let mut first: Option<Bytes> = None;
        let mut buf = BytesMut::new();
        let mut total: usize = 0;
        while let Some(frame) =
            std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx)).await
        {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            total = total.saturating_add(data.len());
            if total > limit {
                return Err(BodyError::too_large(limit));
            }
            match first.take() {
                None if buf.is_empty() => first = Some(data),
                None => buf.extend_from_slice(&data),
                Some(prev) => {
                    buf.reserve(prev.len() + data.len());
                    buf.extend_from_slice(&prev);
                    buf.extend_from_slice(&data);
                }
            }
        }
        Ok(first.unwrap_or_else(|| buf.freeze()))
    }

    /// The whole body, when it is already in memory (empty, or one buffer
    /// not yet taken): the server can write it without polling.
    pub(crate) fn in_memory(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Empty => Some(&[]),
            Kind::Full(data) => Some(data.as_deref().unwrap_or_default()),
            Kind::Boxed(_) | Kind::Incoming(_) => None,
        }
    }

    /// Wraps the server's streaming request body.
    pub(crate) fn incoming(incoming: Incoming) -> Self {
        Self {
            kind: Kind::Incoming(incoming),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Kind::Boxed(inner) => match ready!(inner.as_mut().poll_frame(cx)) {
                None => Poll::Ready(None),
                Some(Ok(frame)) => Poll::Ready(Some(Ok(frame))),
                Some(Err(e)) => Poll::Ready(Some(Err(BodyError::from_box(e)))),
            },
            Kind::Incoming(inner) => inner.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(data) => data.is_none(),
            Kind::Boxed(inner) => inner.is_end_stream(),
            Kind::Incoming(inner) => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Kind::Boxed(inner) => inner.size_hint(),
            Kind::Incoming(inner) => inner.size_hint(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(data: Bytes) -> Self {
        if data.is_empty() {
            return Self::empty();
        }
        Self {
            kind: Kind::Full(Some(data)),
        }
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Bytes::from_static(s).into()
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Self::empty()
    }
}

pin_project_lite::pin_project! {
    struct MapErr<B> {
        #[pin]
        inner: B,
    }
}

impl<B> http_body::Body for MapErr<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.project()
            .inner
            .poll_frame(cx)
            .map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    struct StreamBody<S> {
        #[pin]
        stream: S,
    }
}

impl<S, E> http_body::Body for StreamBody<S>
where
    S: futures_core::Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.project()
            .stream
            .poll_next(cx)
            .map(|item| item.map(|r| r.map(Frame::data).map_err(Into::into)))
    }
}

/// Why reading a body failed.
///
/// Opaque; ask with [`is_too_large`](Self::is_too_large),
/// [`is_incomplete`](Self::is_incomplete) and [`is_timeout`](Self::is_timeout).
/// The underlying error, if any, is the [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct BodyError {
    kind: ErrorKind,
    source: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    TooLarge(usize),
    Incomplete,
    Timeout,
    Malformed,
    Io,
    Other,
}

impl BodyError {
    /// The body was longer than the limit.
    pub fn is_too_large(&self) -> bool {
        matches!(self.kind, ErrorKind::TooLarge(_))
    }

    /// The body ended (the peer closed or reset) before its declared end.
    pub fn is_incomplete(&self) -> bool {
        self.kind == ErrorKind::Incomplete
    }

    /// Reading the body took longer than the configured timeout.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// The body's framing was malformed (a bad chunk size, say).
    pub fn is_malformed(&self) -> bool {
        self.kind == ErrorKind::Malformed
    }

    /// A body-too-large error for `limit`.
    pub fn too_large(limit: usize) -> Self {
        Self {
            kind: ErrorKind::TooLarge(limit),
            source: None,
        }
    }

    /// A body-ended-early error.
    pub fn incomplete() -> Self {
        Self {
            kind: ErrorKind::Incomplete,
            source: None,
        }
    }

    /// A timed-out-reading error.
    pub fn timeout() -> Self {
        Self {
            kind: ErrorKind::Timeout,
            source: None,
        }
    }

    /// A malformed-framing error caused by `source`.
    pub fn malformed(source: impl Into<BoxError>) -> Self {
        Self {
            kind: ErrorKind::Malformed,
            source: Some(source.into()),
        }
    }

    /// An I/O error while reading the body.
    pub fn io(source: std::io::Error) -> Self {
        Self {
            kind: ErrorKind::Io,
            source: Some(Box::new(source)),
        }
    }

    /// Wraps a user error, keeping the kind when it already is a `BodyError`.
    pub(crate) fn from_box(err: BoxError) -> Self {
        match err.downcast::<BodyError>() {
            Ok(own) => *own,
            Err(other) => Self {
                kind: ErrorKind::Other,
                source: Some(other),
            },
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::TooLarge(limit) => write!(f, "body exceeds the limit of {limit} bytes"),
            ErrorKind::Incomplete => f.write_str("body ended before its declared end"),
            ErrorKind::Timeout => f.write_str("timed out reading the body"),
            // The cause is reached through `source()`, not repeated here.
            ErrorKind::Malformed => f.write_str("malformed body"),
            ErrorKind::Io => f.write_str("i/o error reading the body"),
            ErrorKind::Other => f.write_str("body error"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    fn block<F: Future>(f: F) -> F::Output {
        wego_netpoll::rt::block_on(f).expect("runtime")
    }

    #[test]
    fn full_and_empty() {
        assert!(Body::empty().is_end_stream());
        assert!(Body::from("").is_end_stream());
        assert_eq!(Body::from("abc").size_hint().exact(), Some(3));
        let got = block(Body::from(vec![1u8, 2, 3]).collect_limited(3)).unwrap();
        assert_eq!(&got[..], &[1, 2, 3]);
        let err = block(Body::from("abcd").collect_limited(3)).unwrap_err();
        assert!(err.is_too_large());
        assert_eq!(err.to_string(), "body exceeds the limit of 3 bytes");
    }

    #[test]
    fn stream_is_limited_while_reading() {
        let chunks = vec![
            Ok::<_, std::convert::Infallible>(Bytes::from_static(b"ab")),
            Ok(Bytes::from_static(b"cd")),
            Ok(Bytes::from_static(b"ef")),
        ];
        let body = Body::from_stream(futures_util::stream::iter(chunks.clone()));
        assert_eq!(body.size_hint().exact(), None);
        assert_eq!(&block(body.collect_limited(6)).unwrap()[..], b"abcdef");
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        assert!(block(body.collect_limited(5)).unwrap_err().is_too_large());
    }

    #[test]
    fn stream_error_keeps_kind_and_source() {
        let items = vec![Err::<Bytes, BodyError>(BodyError::timeout())];
        let err = block(Body::from_stream(futures_util::stream::iter(items)).collect_limited(10))
            .unwrap_err();
        assert!(err.is_timeout());
        let items = vec![Err::<Bytes, _>(std::io::Error::other("boom"))];
        let err = block(Body::from_stream(futures_util::stream::iter(items)).collect_limited(10))
            .unwrap_err();
        assert!(!err.is_timeout() && !err.is_too_large() && !err.is_incomplete());
        // Display does not repeat the cause; `source()` carries it.
        assert_eq!(err.to_string(), "body error");
        let source = std::error::Error::source(&err).expect("the cause");
        assert_eq!(source.to_string(), "boom");
    }

    #[test]
    fn declared_length_checked_before_reading() {
        let inner = http_body_util::Full::new(Bytes::from(vec![0u8; 100]));
        let body = Body::new(inner);
        assert_eq!(body.size_hint().exact(), Some(100));
        assert!(block(body.collect_limited(99)).unwrap_err().is_too_large());
    }
}
