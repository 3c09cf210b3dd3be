//! A request body read from an h2 stream: each DATA frame releases its
//! flow-control capacity once the handler has taken it, so the client
//! sends no faster than the handler reads, within the stream's window.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::oneshot;
use wego_netpoll::rt;

use crate::body::BodyError;

/// What the body tells its stream's task.
#[derive(Debug, Default)]
pub(super) struct Signals {
    /// The body grew past `max_body_size`.
    pub(super) too_large: AtomicBool,
}

/// The request body of one HTTP/2 stream.
pub(super) struct RecvBody {
    stream: h2::RecvStream,
    /// Sent on the first poll: the handler wants the body, so an asked-for
    /// `100 Continue` goes out now.
    want: Option<oneshot::Sender<()>>,
    signals: Arc<Signals>,
    /// Body bytes read so far.
    read: u64,
    max: Option<u64>,
    /// Bytes left of a declared `content-length`.
    remaining: Option<u64>,
    /// The body-read timeout, armed when a wait for DATA starts.
    timeout: Duration,
    timer: Option<Pin<Box<rt::Sleep>>>,
    /// A wait is under way: `timer` bounds it. Cleared when a frame is
    /// taken, so the next wait starts a full timeout from its own start,
    /// as each read does on HTTP/1.1.
    waiting: bool,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Trailers,
    Done,
}

impl RecvBody {
    pub(super) fn new(
        stream: h2::RecvStream,
        want: Option<oneshot::Sender<()>>,
        signals: Arc<Signals>,
        max: Option<u64>,
        remaining: Option<u64>,
        timeout: Duration,
    ) -> Self {
        let state = if stream.is_end_stream() {
            State::Done
        } else {
            State::Data
        };
        Self {
            stream,
            want,
            signals,
            read: 0,
            max,
            remaining,
            timeout,
            timer: None,
            waiting: false,
            state,
        }
    }

    fn fail(&mut self, err: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.state = State::Done;
        Poll::Ready(Some(Err(err)))
    }

    /// Whether the body-read timeout of the current wait ran out (arming
    /// it when the wait starts).
    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        let timeout = self.timeout;
        let timer = match self.timer.as_mut() {
            Some(timer) if !self.waiting => {
                timer.as_mut().reset(rt::deadline_in(timeout));
                timer
            }
            Some(timer) => timer,
            None => self.timer.insert(Box::pin(rt::sleep(timeout))),
        };
        self.waiting = true;
        timer.as_mut().poll(cx).is_ready()
    }
}

/// The body error for an h2 stream error: a reset by the client or a lost
/// connection ends the body early; a protocol error (a `content-length`
/// the DATA frames do not match) is malformed framing.
fn h2_error(e: h2::Error) -> BodyError {
    if e.reason() == Some(h2::Reason::PROTOCOL_ERROR) {
        BodyError::malformed(e)
    } else {
        BodyError::incomplete()
    }
}

impl http_body::Body for RecvBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if let Some(want) = this.want.take() {
            let _ = want.send(());
        }
        if this.state == State::Data {
            match this.stream.poll_data(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    let _ = this.stream.flow_control().release_capacity(data.len());
                    this.read += data.len() as u64;
                    if let Some(max) = this.max
                        && this.read > max
                    {
                        this.signals.too_large.store(true, Ordering::Release);
                        let limit = usize::try_from(max).unwrap_or(usize::MAX);
                        return this.fail(BodyError::too_large(limit));
                    }
                    if let Some(rem) = this.remaining.as_mut() {
                        *rem = rem.saturating_sub(data.len() as u64);
                    }
                    this.waiting = false;
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Some(Err(e))) => return this.fail(h2_error(e)),
                Poll::Ready(None) => this.state = State::Trailers,
                Poll::Pending => {
                    if this.timed_out(cx) {
                        return this.fail(BodyError::timeout());
                    }
                    return Poll::Pending;
                }
            }
        }
        if this.state == State::Trailers {
            return match this.stream.poll_trailers(cx) {
                Poll::Ready(Ok(trailers)) => {
                    this.state = State::Done;
                    Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))))
                }
                Poll::Ready(Err(e)) => this.fail(h2_error(e)),
                Poll::Pending => {
                    if this.timed_out(cx) {
                        return this.fail(BodyError::timeout());
                    }
                    Poll::Pending
                }
            };
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Done || self.stream.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
