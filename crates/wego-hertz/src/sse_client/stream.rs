//! Event streams over bodies, and reconnection.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Buf;
use futures_core::Stream;
use http_body::Body as HttpBody;

use super::parser::{EventParser, MessageEvent, SseError};
use crate::BoxError;

/// The events of one response body, as a [`Stream`]. The stream ends when
/// the body does; an error ends it too.
///
/// ```
/// use futures_util::StreamExt;
/// use wego_hertz::Body;
/// use wego_hertz::sse_client::EventStream;
///
/// # wego_netpoll::rt::block_on(async {
/// let body = Body::from("event: greet\ndata: hello\n\n");
/// let mut events = EventStream::new(body);
/// let e = events.next().await.unwrap().unwrap();
/// assert_eq!((e.event.as_str(), e.data.as_str()), ("greet", "hello"));
/// assert!(events.next().await.is_none());
/// # }).unwrap();
/// ```
pub struct EventStream<B> {
    body: Option<B>,
    parser: EventParser,
    /// An error ended the stream.
    failed: bool,
}

impl<B> fmt::Debug for EventStream<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("parser", &self.parser)
            .finish_non_exhaustive()
    }
}

impl<B> EventStream<B> {
    /// Reads events from `body` with the default maximum event size
    /// (1 MiB).
    pub fn new(body: B) -> Self {
        Self::with_parser(body, EventParser::new())
    }

    /// Reads events from `body` with `parser` (its size limit, a last
    /// event id to start from).
    pub fn with_parser(body: B, parser: EventParser) -> Self {
        Self {
            body: Some(body),
            parser,
            failed: false,
        }
    }

    /// The parser: the last event id and the `retry` delay seen so far.
    pub fn parser(&self) -> &EventParser {
        &self.parser
    }

    /// The parser, with its last event id and `retry` delay.
    pub fn into_parser(self) -> EventParser {
        self.parser
    }
}

impl<B> Stream for EventStream<B>
where
    B: HttpBody + Unpin,
    B::Error: Into<BoxError>,
{
    type Item = Result<MessageEvent, SseError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.failed {
                return Poll::Ready(None);
            }
            match this.parser.next_event() {
                Ok(Some(e)) => return Poll::Ready(Some(Ok(e))),
                Ok(None) => {}
                Err(e) => {
                    this.failed = true;
                    this.body = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(Pin::new(body).poll_frame(cx)) {
                None => {
                    // An unfinished event at the end is dropped (§9.2.6).
                    this.body = None;
                    return Poll::Ready(None);
                }
                Some(Err(e)) => {
                    this.failed = true;
                    this.body = None;
                    return Poll::Ready(Some(Err(SseError::Body(e.into()))));
                }
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            let n = chunk.len();
                            if let Err(e) = this.parser.push(chunk) {
                                this.failed = true;
                                this.body = None;
                                return Poll::Ready(Some(Err(e)));
                            }
                            data.advance(n);
                        }
                    }
                }
            }
        }
    }
}

/// The default delay before reconnecting: 3 s, as browsers wait.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(3);

type Opening<B> = Pin<Box<dyn Future<Output = Result<B, BoxError>> + Send>>;

enum State<B> {
    /// Not opened yet.
    Start,
    /// Waiting before (re)opening.
    Waiting(Pin<Box<wego_netpoll::rt::Sleep>>),
    /// Opening a stream.
    Opening(Opening<B>),
    /// Reading one.
    Reading(EventStream<B>),
}

/// An event stream that reopens itself, EventSource-style: when a body
/// ends or fails, or opening one fails, it waits the `retry` delay the
/// stream set (or the default) and calls `open` again with the last event
/// id, which a request sends as `Last-Event-ID`.
///
/// Errors are yielded and then reconnection goes on; the stream never
/// ends by itself. Drop it to stop.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use wego_hertz::sse_client::Reconnecting;
///
/// # async fn open_events(_last: Option<String>) -> Result<wego_hertz::Body, wego_hertz::BoxError> { todo!() }
/// # async fn run() {
/// let mut events = Reconnecting::new(|last_event_id: Option<String>| open_events(last_event_id));
/// while let Some(item) = events.next().await {
///     match item {
///         Ok(event) => println!("{}: {}", event.event, event.data),
///         Err(e) => eprintln!("{e}; reconnecting"),
///     }
/// }
/// # }
/// ```
pub struct Reconnecting<F, B> {
    open: F,
    state: State<B>,
    last_id: String,
    retry: Duration,
    max_event: usize,
}

impl<F, B> fmt::Debug for Reconnecting<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconnecting")
            .field("last_event_id", &self.last_id)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl<F, Fut, B, E> Reconnecting<F, B>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<B, E>> + Send + 'static,
    E: Into<BoxError>,
{
    /// A stream that opens its first body when first polled, with no last
    /// event id.
    pub fn new(open: F) -> Self {
        Self {
            open,
            state: State::Start,
            last_id: String::new(),
            retry: DEFAULT_RETRY,
            max_event: super::parser::DEFAULT_MAX_EVENT_SIZE,
        }
    }

    /// The delay before reconnecting until a stream sets one with
    /// `retry` (3 s by default).
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// The maximum event size of each stream (1 MiB by default).
    pub fn with_max_event_size(mut self, max: usize) -> Self {
        self.max_event = max;
        self
    }

    /// The last event id seen (empty if none).
    pub fn last_event_id(&self) -> &str {
        &self.last_id
    }

    /// The delay before the next reconnection.
    pub fn retry(&self) -> Duration {
        self.retry
    }

    fn open_next(&mut self) -> Opening<B> {
        let last = (!self.last_id.is_empty()).then(|| self.last_id.clone());
        let fut = (self.open)(last);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }

    fn wait(&mut self) {
        self.state = State::Waiting(Box::pin(wego_netpoll::rt::sleep(self.retry)));
    }
}

impl<F, Fut, B, E> Stream for Reconnecting<F, B>
where
    F: FnMut(Option<String>) -> Fut + Unpin,
    Fut: Future<Output = Result<B, E>> + Send + 'static,
    E: Into<BoxError>,
    B: HttpBody + Unpin,
    B::Error: Into<BoxError>,
{
    type Item = Result<MessageEvent, SseError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Start => this.state = State::Opening(this.open_next()),
                State::Waiting(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    this.state = State::Opening(this.open_next());
                }
                State::Opening(fut) => match ready!(fut.as_mut().poll(cx)) {
                    Ok(body) => {
                        let parser = EventParser::with_max_event_size(this.max_event)
                            .with_last_event_id(this.last_id.clone());
                        this.state = State::Reading(EventStream::with_parser(body, parser));
                    }
                    Err(e) => {
                        this.wait();
                        return Poll::Ready(Some(Err(SseError::Connect(e))));
                    }
                },
                State::Reading(events) => {
                    let item = ready!(Pin::new(&mut *events).poll_next(cx));
                    let parser = events.parser();
                    this.last_id.clear();
                    this.last_id.push_str(parser.last_event_id());
                    if let Some(retry) = parser.retry() {
                        this.retry = retry;
                    }
                    match item {
                        Some(Ok(e)) => return Poll::Ready(Some(Ok(e))),
                        Some(Err(e)) => {
                            this.wait();
                            return Poll::Ready(Some(Err(e)));
                        }
                        None => this.wait(),
                    }
                }
            }
        }
    }
}
