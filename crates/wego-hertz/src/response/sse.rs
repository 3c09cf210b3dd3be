//! Server-sent events (`text/event-stream`).

use std::fmt::Write as _;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::header::{self, HeaderValue};
use http_body::Frame;

use super::{FlushHead, IntoResponse, Response};
use crate::Body;
use crate::BoxError;

/// One server-sent event.
///
/// Fields are written in the order `event`, `id`, `retry`, `data`; a `data`
/// with line ends (CRLF, LF or a lone CR, each a line end in an event
/// stream) becomes several `data:` lines, as the spec requires, so the
/// data cannot add fields or events. CR and LF in `event`, `id` and
/// comments are removed (they would end the field).
#[derive(Debug, Clone, Default)]
pub struct Event {
    buf: String,
    data: Option<String>,
}

impl Event {
    /// An empty event; add fields with the `with_*` methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the `data` field.
    pub fn with_data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Sets `data` to the JSON encoding of `value`.
    ///
    /// # Errors
    ///
    /// Fails when `value` cannot be serialised.
    pub fn with_json<T: serde::Serialize>(self, value: &T) -> Result<Self, serde_json::Error> {
        Ok(self.with_data(serde_json::to_string(value)?))
    }

    /// Sets the `event` (type) field.
    pub fn with_event(mut self, event: &str) -> Self {
        self.field("event", event);
        self
    }

    /// Sets the `id` field.
    pub fn with_id(mut self, id: &str) -> Self {
        self.field("id", id);
        self
    }

    /// Sets the `retry` field: the client's reconnection delay.
    pub fn with_retry(mut self, retry: Duration) -> Self {
        let _ = writeln!(self.buf, "retry: {}", retry.as_millis());
        self
    }

    /// A comment line (`: text`), ignored by clients.
    pub fn comment(text: &str) -> Self {
        let mut ev = Self::new();
        ev.field("", text);
        ev
    }

    fn field(&mut self, name: &str, value: &str) {
        let clean: String = value.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        let _ = writeln!(self.buf, "{name}: {clean}");
    }

    fn encode(self) -> Bytes {
        let mut out = self.buf;
        if let Some(data) = self.data {
            // An event stream ends a line at CRLF, LF or a lone CR (HTML
            // §9.2.5): each of them starts a new `data:` line, so no line
            // end in the data can start another field or event.
            let mut rest = data.as_str();
            while let Some(end) = rest.find(['\r', '\n']) {
                let _ = writeln!(out, "data: {}", &rest[..end]);
                let skip = if rest[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = &rest[end + skip..];
            }
            let _ = writeln!(out, "data: {rest}");
        }
        out.push('\n');
        Bytes::from(out)
    }
}

/// How often to send a keep-alive comment while the stream is quiet.
#[derive(Debug, Clone)]
pub struct SseKeepAlive {
    interval: Duration,
    text: String,
}

impl Default for SseKeepAlive {
    fn default() -> Self {
        Self::new()
    }
}

impl SseKeepAlive {
    /// Every 15 seconds, an empty comment.
    pub fn new() -> Self {
        Self {
            interval: Duration::from_secs(15),
            text: String::new(),
        }
    }

    /// Sets the interval.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the comment text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }
}

/// A server-sent events response over a stream of events.
///
/// ```
/// # use wego_hertz::response::{Event, SseKeepAlive, Sse};
/// let events = futures_util::stream::iter([
///     Ok::<_, std::convert::Infallible>(Event::new().with_data("hello")),
/// ]);
/// let sse = Sse::new(events).with_keep_alive(SseKeepAlive::new());
/// # drop(sse);
/// ```
#[derive(Debug)]
pub struct Sse<S> {
    stream: S,
    keep_alive: Option<SseKeepAlive>,
}

impl<S> Sse<S> {
    /// Wraps a stream of events.
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            keep_alive: None,
        }
    }

    /// Sends keep-alive comments while the stream is quiet.
    pub fn with_keep_alive(mut self, keep_alive: SseKeepAlive) -> Self {
        self.keep_alive = Some(keep_alive);
        self
    }
}

impl<S, E> IntoResponse for Sse<S>
where
    S: Stream<Item = Result<Event, E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn into_response(self) -> Response {
        let body = SseBody {
            stream: Box::pin(self.stream),
            keep_alive: self.keep_alive.map(|k| {
                let comment = Event::comment(&k.text).encode();
                (k.interval, comment, None)
            }),
        };
        let mut res = Response::new(Body::new(body));
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        // The first event may be long in coming: the client sees the
        // head at once.
        res.extensions_mut().insert(FlushHead);
        res
    }
}

type KeepAliveState = (Duration, Bytes, Option<Pin<Box<wego_netpoll::rt::Sleep>>>);

struct SseBody<S> {
    stream: Pin<Box<S>>,
    keep_alive: Option<KeepAliveState>,
}

impl<S, E> http_body::Body for SseBody<S>
where
    S: Stream<Item = Result<Event, E>>,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match this.stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(ev))) => {
                if let Some((_, _, sleep)) = &mut this.keep_alive {
                    *sleep = None;
                }
                return Poll::Ready(Some(Ok(Frame::data(ev.encode()))));
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        let Some((interval, comment, sleep)) = &mut this.keep_alive else {
            return Poll::Pending;
        };
        let timer = sleep.get_or_insert_with(|| Box::pin(wego_netpoll::rt::sleep(*interval)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                *sleep = None;
                Poll::Ready(Some(Ok(Frame::data(comment.clone()))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
