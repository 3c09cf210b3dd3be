//! The write path: response heads and bodies into the write buffer, and
//! the buffer out to the socket.
//!
//! A response whose body is not already in memory has its head written
//! lazily: when the body yields its first frame or ends, not when the
//! handler returns. Until then no response byte exists, so `100 Continue`
//! may still go out when the body is first polled, and a body that fails
//! first (a request body with broken framing streamed back, say) is
//! answered with an error status instead of a `200` cut short.
//! [`FlushHead`] in the response's extensions writes the head at once.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body::{Body as _, Frame};
use tokio::io::{AsyncRead, AsyncWrite};
use tower_service::Service;
use wego_netpoll::{Watcher, rt};

use super::date::date_now;
use super::pump::{Pump, Step};
use super::{Driver, Meta};
use crate::body::{Body, BodyError};
use crate::codec::{
    ResponseContext, ResponseFraming, encode_chunk_size, encode_last_chunk_cased,
    encode_response_head, may_have_body,
};
use crate::recycle;
use crate::response::FlushHead;
use wego_netpoll::buffer::pool;

/// Bytes gathered in the write buffer before it is flushed regardless.
pub(super) const FLUSH_AT: usize = 64 * 1024;
/// Body frames up to this size are copied into the write buffer; larger ones
/// are written with a vectored write straight from their `Bytes`.
const COPY_BELOW: usize = 16 * 1024;

/// What `queue_response` did.
pub(super) enum Queued {
    /// Queued the whole response; carries whether the connection stays
    /// open.
    All(bool),
    /// Nothing: the body must be polled first (see `write_response`).
    /// Boxed: unboxed, it would make every `Queued` (a value in the
    /// connection's future, see `Driver::run`) as large as a response.
    Later(Box<Response<Body>>, Meta),
}

/// How the first poll of a response body ended, before the head.
enum First {
    /// A frame, to be written after the head.
    Frame(Frame<Bytes>),
    /// The body ended without a frame.
    End,
    /// The body failed.
    Failed(BodyError),
}

impl<S, IO> Driver<S, IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request<Body>, Response = Response<Body>, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
{
    /// Queues a response whose body is in memory and small, head and body
    /// together; leaves any other response to `write_response`.
    // Inlined into `Driver::run`, as `try_start` is.
    #[inline(always)]
    pub(super) fn queue_response(
        &mut self,
        response: Response<Body>,
        meta: Meta,
        watcher: &Watcher,
    ) -> Queued {
        let keep_alive = meta.keep_alive && !watcher.is_draining();
        if response
            .body()
            .in_memory()
            .is_none_or(|data| data.len() >= COPY_BELOW)
        {
            return Queued::Later(Box::new(response), Meta { keep_alive, ..meta });
        }
        let (parts, body) = response.into_parts();
        let hint = body.size_hint().exact();
        let (framing, keep_alive) =
            self.encode_head(&parts, hint, meta.head_request, meta.version, keep_alive);
        // Written: the map's allocations serve a later request's head.
        recycle::give_back_headers(parts.headers);
        let data = body.in_memory().unwrap_or_default();
        match framing {
            ResponseFraming::None => Queued::All(keep_alive),
            ResponseFraming::Length(n) if n == data.len() as u64 => {
                lent(&mut self.wbuf).extend_from_slice(data);
                Queued::All(keep_alive)
            }
            // The framing of a body of known length is that length: not
            // reached, but never a response that lies about its length.
            _ => Queued::All(false),
        }
    }

    /// Writes a response that `queue_response` left, then flushes unless a
    /// pipelined request waits; returns whether the connection stays open.
    pub(super) async fn finish_response(
        &mut self,
        response: Box<Response<Body>>,
        meta: Meta,
    ) -> std::io::Result<bool> {
        let keep_alive = self.write_response(*response, meta, &mut None).await?;
        if self.must_flush(keep_alive) {
            self.flush().await?;
        }
        Ok(keep_alive)
    }

    /// Writes `response`, its head when the body yields its first frame or
    /// ends (at once for a body-less response or with [`FlushHead`]),
    /// keeping `pump` going meanwhile. Returns whether the connection stays
    /// open.
    ///
    /// Before the head: a request body that was rejected (malformed, too
    /// large) replaces the response with the rejection's status; a response
    /// body that fails gets the failure's status (500 for its own errors).
    /// Either way the connection closes.
    pub(super) async fn write_response(
        &mut self,
        response: Response<Body>,
        meta: Meta,
        pump: &mut Option<Pump>,
    ) -> std::io::Result<bool> {
        let (parts, mut body) = response.into_parts();
        // Taken before any poll: a polled body's hint is what is left.
        let hint = body.size_hint().exact();
        let first = if !may_have_body(parts.status, meta.head_request)
            || parts.extensions.get::<FlushHead>().is_some()
        {
            None
        } else {
            Some(match self.next_frame(&mut body, pump, false).await? {
                Some(Ok(frame)) => First::Frame(frame),
                None => First::End,
                Some(Err(e)) => First::Failed(e),
            })
        };
        let failure = pump.as_ref().and_then(Pump::failure);
        if let Some(status) = failure.and_then(|f| f.rejection()) {
            tracing::debug!(%status, "request body rejected before the response");
            self.write_error(status).await?;
            return Ok(false);
        }
        let first = match first {
            Some(First::Failed(e)) => {
                let status = match failure {
                    Some(f) => f.status(),
                    None => Some(StatusCode::INTERNAL_SERVER_ERROR),
                };
                tracing::debug!(error = %e, "response body failed before its head");
                if let Some(status) = status {
                    self.write_error(status).await?;
                }
                return Ok(false);
            }
            Some(First::Frame(frame)) => Some(frame),
            Some(First::End) | None => None,
        };
        // An unanswered 100-continue leaves the client's next bytes
        // ambiguous (body or next request), and a dropped body too long to
        // drain ends the connection: close after this response, and say so.
        let keep_alive = meta.keep_alive
            && failure.is_none()
            && !pump
                .as_ref()
                .is_some_and(|p| p.continue_pending || p.cannot_drain(self.config.drain_limit));
        let (framing, keep_alive) =
            self.encode_head(&parts, hint, meta.head_request, meta.version, keep_alive);
        recycle::give_back_headers(parts.headers);
        if first.is_none() && parts.extensions.get::<FlushHead>().is_some() {
            self.flush().await?;
        }
        let complete = self.write_body(body, framing, pump, first).await?;
        Ok(keep_alive && complete)
    }

    /// The body's next frame, `None` at its end; while a request body is
    /// still being read, keeps the pump going so that a handler may stream
    /// one into the other. `100 Continue` goes out when the handler first
    /// asks for the request body, unless the final head is already
    /// written (`head_written`): then the client sends the body after its
    /// own wait (RFC 9110 §10.1.1).
    async fn next_frame(
        &mut self,
        body: &mut Body,
        pump: &mut Option<Pump>,
        head_written: bool,
    ) -> std::io::Result<Option<Result<Frame<Bytes>, BodyError>>> {
        loop {
            if body.is_end_stream() {
                return Ok(None);
            }
            // Fast path for complete bodies: no task wake-up needed.
            let ready = {
                let mut cx = Context::from_waker(Waker::noop());
                Pin::new(&mut *body).poll_frame(&mut cx)
            };
            if let Poll::Ready(f) = ready {
                return Ok(f);
            }
            // What is written so far goes out before the wait: the client
            // may wait for it before it sends more. The response ends after
            // the wait, so its end is read off the clock then.
            self.answered_at = None;
            self.flush().await?;
            if let Some(p) = pump.as_mut().filter(|p| p.is_unread()) {
                let next = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx));
                let step = tokio::select! {
                    biased;
                    f = next => return Ok(f),
                    step = p.step(&mut self.io, &mut self.rbuf, &self.config) => step,
                };
                if step == Step::SendContinue && !head_written {
                    self.write_continue().await?;
                }
                continue;
            }
            return Ok(std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await);
        }
    }

    /// Writes the response body with `framing`, `first` being its first
    /// frame if already polled. Returns false if the framing could not be
    /// kept (a body shorter or longer than its `Content-Length`, or a body
    /// error): the connection must close.
    async fn write_body(
        &mut self,
        mut body: Body,
        framing: ResponseFraming,
        pump: &mut Option<Pump>,
        mut first: Option<Frame<Bytes>>,
    ) -> std::io::Result<bool> {
        if framing == ResponseFraming::None {
            return Ok(true);
        }
        let mut written: u64 = 0;
        loop {
            let frame = match first.take() {
                Some(frame) => frame,
                None => match self.next_frame(&mut body, pump, true).await? {
                    None => break,
                    Some(Ok(frame)) => frame,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "response body failed; closing");
                        self.flush().await?;
                        return Ok(false);
                    }
                },
            };
            match frame.into_data() {
                Ok(data) => {
                    if data.is_empty() {
                        continue;
                    }
                    if let ResponseFraming::Length(n) = framing {
                        let room = n - written;
                        if data.len() as u64 > room {
                            tracing::debug!("response body longer than its content-length");
                            self.write_data(data.slice(..room as usize)).await?;
                            self.flush().await?;
                            return Ok(false);
                        }
                    }
                    written += data.len() as u64;
                    if framing == ResponseFraming::Chunked {
                        encode_chunk_size(data.len(), lent(&mut self.wbuf));
                        self.write_data(data).await?;
                        lent(&mut self.wbuf).extend_from_slice(b"\r\n");
                    } else {
                        self.write_data(data).await?;
                    }
                }
                Err(frame) => {
                    if let (Ok(trailers), ResponseFraming::Chunked) =
                        (frame.into_trailers(), framing)
                    {
                        encode_last_chunk_cased(
                            Some(&trailers),
                            self.config.title_case_headers,
                            lent(&mut self.wbuf),
                        );
                        return Ok(true);
                    }
                }
            }
            if self.wbuf.len() >= FLUSH_AT {
                self.flush().await?;
            }
        }
        match framing {
            ResponseFraming::Chunked => {
                encode_last_chunk_cased(None, false, lent(&mut self.wbuf));
            }
            ResponseFraming::Length(n) if written != n => {
                tracing::debug!("response body shorter than its content-length");
                self.flush().await?;
                return Ok(false);
            }
            _ => {}
        }
        Ok(true)
    }

    /// Polls `pending`, the service's readiness or its response future;
    /// while it is not ready, writes out what is queued (answers to earlier
    /// pipelined requests, which `must_flush` left for the next response)
    /// rather than hold it behind a handler that waits. One that is ready
    /// at once costs no write: its answer goes out with the others.
    ///
    /// The write takes what the IO accepts without waiting, and drops it
    /// from the buffer, so it may stop anywhere: the rest goes out with the
    /// next flush, under the write timeout. A write error is left for that
    /// flush to report.
    pub(super) fn poll_answer<T>(
        &mut self,
        cx: &mut Context<'_>,
        pending: impl FnOnce(&mut S, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let polled = pending(&mut self.svc, cx);
        if polled.is_pending() && !self.wbuf.is_empty() {
            let mut pos = 0;
            if let Poll::Ready(Ok(())) = poll_write_out(&mut self.io, &self.wbuf, &mut pos, cx) {
                pool::give_back(std::mem::take(&mut self.wbuf));
            } else {
                self.wbuf.advance(pos);
            }
        }
        polled
    }

    /// Whether to write out what is queued now: when the connection
    /// closes, when no pipelined request waits to be answered with it, or
    /// when enough has gathered.
    pub(super) fn must_flush(&self, keep_alive: bool) -> bool {
        !keep_alive || self.rbuf.is_empty() || self.wbuf.len() >= FLUSH_AT
    }

    /// Encodes the response head into the write buffer for a body of
    /// length `hint` (if known); returns the body's framing and whether the
    /// connection stays open.
    ///
    /// A 1xx other than `101` is answered as an empty `500`, its headers
    /// and body dropped: a 1xx is interim (RFC 9110 §15.2), and the client
    /// would wait for a final response that never comes. hyper's server
    /// does the same.
    #[inline(always)]
    fn encode_head(
        &mut self,
        parts: &http::response::Parts,
        hint: Option<u64>,
        head_request: bool,
        version: Version,
        keep_alive: bool,
    ) -> (ResponseFraming, bool) {
        let (date, now) = date_now();
        self.answered_at = Some(now);
        self.switched = parts.status == StatusCode::SWITCHING_PROTOCOLS;
        let ctx = ResponseContext {
            head_request,
            version,
            keep_alive,
            date: &date,
            server: self.config.server_header.as_ref().map(|v| v.as_bytes()),
            title_case_headers: self.config.title_case_headers,
        };
        if parts.status.is_informational() && !self.switched {
            return not_final(parts.status, &ctx, lent(&mut self.wbuf));
        }
        encode_response_head(
            parts.status,
            &parts.headers,
            hint,
            &ctx,
            lent(&mut self.wbuf),
        )
    }

    /// Queues `data` after the write buffer: copied when small, otherwise
    /// written together with the buffer in one vectored write.
    async fn write_data(&mut self, data: Bytes) -> std::io::Result<()> {
        if data.len() < COPY_BELOW {
            lent(&mut self.wbuf).extend_from_slice(&data);
            return Ok(());
        }
        // Chained over a slice of the buffer, so that the write consumes the
        // slice and the buffer goes back to the pool with its start in place.
        let mut chain = Buf::chain(&self.wbuf[..], data);
        let io = &mut self.io;
        let mut waited = false;
        let r = until_stalled(self.config.write_timeout, |cx, progressed| {
            let r = poll_write_buf(io, &mut chain, progressed, cx);
            waited |= r.is_pending();
            r
        })
        .await;
        if waited {
            self.answered_at = None;
        }
        pool::give_back(std::mem::take(&mut self.wbuf));
        r
    }

    /// Writes the whole write buffer out, empties it, and flushes the IO.
    ///
    /// The buffer is written by position rather than consumed, so that
    /// emptying it leaves its start where it was: the next response is
    /// encoded into the same (recently used, so cached) bytes instead of
    /// walking forward through the allocation.
    ///
    /// The IO's own flush ends every call, even with nothing buffered here
    /// (`write_data` may have written past the buffer): an IO that buffers
    /// (a TLS stream keeps records it could not send yet) sends what it
    /// holds and arms its waker then. On a socket it costs nothing.
    pub(super) async fn flush(&mut self) -> std::io::Result<()> {
        let mut pos = 0;
        // Fast path: the socket usually takes the whole buffer at once and
        // has nothing left to flush, so try once before arming the write
        // timer (boxed: a flush is awaited on every request, see
        // `Driver::run`). The no-op waker is never what a Pending waits
        // on: a Pending goes to `finish_flush`, which polls again with the
        // task's waker.
        let first = {
            let mut cx = Context::from_waker(Waker::noop());
            poll_write_out(&mut self.io, &self.wbuf, &mut pos, &mut cx)
        };
        let r = match first {
            Poll::Ready(r) => r,
            Poll::Pending => Box::pin(self.finish_flush(pos)).await,
        };
        // A lent buffer goes back even if nothing was written to it: a
        // connection waiting for input holds none.
        if self.wbuf.capacity() > 0 {
            pool::give_back(std::mem::take(&mut self.wbuf));
        }
        r
    }

    /// Writes the write buffer from `pos` on and flushes the IO, waiting
    /// for the socket at most the write timeout each time it takes nothing.
    pub(super) async fn finish_flush(&mut self, mut pos: usize) -> std::io::Result<()> {
        // The socket made the write wait: the response ends after it.
        self.answered_at = None;
        let (io, wbuf) = (&mut self.io, &self.wbuf);
        until_stalled(self.config.write_timeout, |cx, progressed| {
            let before = pos;
            let r = poll_write_out(io, wbuf, &mut pos, cx);
            *progressed = pos != before;
            r
        })
        .await
    }

    /// Sends `100 Continue` at once.
    pub(super) async fn write_continue(&mut self) -> std::io::Result<()> {
        lent(&mut self.wbuf).extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        self.flush().await
    }

    /// Answers with an empty `status` response and `Connection: close`; a
    /// 1xx (from the expect hook) is no final status, and is answered 500.
    pub(super) async fn write_error(&mut self, status: StatusCode) -> std::io::Result<()> {
        let status = if status.is_informational() {
            tracing::warn!(%status, "1xx is not a final status; answering 500");
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            status
        };
        let (date, _) = date_now();
        let ctx = ResponseContext {
            head_request: false,
            version: Version::HTTP_11,
            keep_alive: false,
            date: &date,
            server: self.config.server_header.as_ref().map(|v| v.as_bytes()),
            title_case_headers: self.config.title_case_headers,
        };
        encode_response_head(
            status,
            &HeaderMap::new(),
            Some(0),
            &ctx,
            lent(&mut self.wbuf),
        );
        self.flush().await
    }
}

/// Encodes an empty `500` in place of a response whose status, a 1xx
/// other than `101`, is not final (see `Driver::encode_head`); returns
/// [`ResponseFraming::None`], so the response's body is not written.
#[cold]
fn not_final(
    status: StatusCode,
    ctx: &ResponseContext<'_>,
    dst: &mut BytesMut,
) -> (ResponseFraming, bool) {
    tracing::warn!(%status, "1xx is not a final response; answering 500");
    let (_, keep_alive) = encode_response_head(
        StatusCode::INTERNAL_SERVER_ERROR,
        &HeaderMap::new(),
        Some(0),
        ctx,
        dst,
    );
    (ResponseFraming::None, keep_alive)
}

/// Writes `buf[*pos..]` to `io`, moving `pos` past what was written, then
/// flushes `io`.
///
/// One contiguous buffer goes out with `poll_write` (a plain `send`):
/// tokio's `write_buf` would take the vectored path for a socket, and a
/// one-element `writev` costs more in the kernel than `send` does.
fn poll_write_out<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    buf: &[u8],
    pos: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<()>> {
    while let Some(rest) = buf.get(*pos..).filter(|r| !r.is_empty()) {
        match Pin::new(&mut *io).poll_write(cx, rest) {
            Poll::Ready(Ok(0)) => {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            Poll::Ready(Ok(n)) => *pos += n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Pin::new(&mut *io).poll_flush(cx)
}

/// The connection's write buffer, lent from the pool if it has none.
pub(super) fn lent(wbuf: &mut BytesMut) -> &mut BytesMut {
    if wbuf.capacity() == 0 {
        *wbuf = pool::lend();
    }
    wbuf
}

/// Drives `poll` to its end, failing with a timeout once the IO has
/// accepted nothing for `timeout`: the clock restarts at every wait that
/// follows progress (`poll` sets its flag when bytes went out), so a slow
/// reader that keeps reading is served whatever the response's size, and a
/// stalled one is cut one `timeout` after its last read.
async fn until_stalled(
    timeout: Duration,
    mut poll: impl FnMut(&mut Context<'_>, &mut bool) -> Poll<std::io::Result<()>>,
) -> std::io::Result<()> {
    let mut timer = std::pin::pin!(rt::sleep(timeout));
    std::future::poll_fn(|cx| {
        let mut progressed = false;
        if let Poll::Ready(r) = poll(cx, &mut progressed) {
            return Poll::Ready(r);
        }
        if progressed {
            timer.as_mut().reset(rt::deadline_in(timeout));
        }
        timer.as_mut().poll(cx).map(|()| Err(write_timed_out()))
    })
    .await
}

/// Writes `buf` out (vectored when the IO supports it) and flushes the IO;
/// sets `progressed` when any bytes went out.
fn poll_write_buf<IO: AsyncWrite + Unpin, B: Buf>(
    io: &mut IO,
    buf: &mut B,
    progressed: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<()>> {
    while buf.has_remaining() {
        let mut slices = [std::io::IoSlice::new(&[]); 2];
        let written = if io.is_write_vectored() {
            let n = buf.chunks_vectored(&mut slices);
            Pin::new(&mut *io).poll_write_vectored(cx, &slices[..n])
        } else {
            Pin::new(&mut *io).poll_write(cx, buf.chunk())
        };
        match written {
            Poll::Ready(Ok(0)) => {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                *progressed = true;
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Pin::new(&mut *io).poll_flush(cx)
}

fn write_timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out")
}
