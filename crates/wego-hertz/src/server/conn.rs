//! The connection driver: where the sans-IO codec meets the socket.
//!
//! One task per connection runs this loop, kept whole on purpose:
//!
//! ```text
//!   ┌─> read head ──(parse error)──> 4xx/505 + close
//!   │      │ (idle timeout / draining with no bytes) ──> close quietly
//!   │      │ (header-read timeout) ──> 408 + close
//!   │      v
//!   │   call service ══ pump body: socket ─> decoder ─> one-slot channel ─> handler
//!   │      v
//!   │   write head + body (the pump keeps feeding a handler that streams
//!   │      │               its request body into its response)
//!   │      v
//!   │   drain what the handler left unread (≤ drain_limit), else close
//!   └──────┘ keep-alive and not draining
//! ```
//!
//! Writes never happen inside a `select!` branch, so no write is ever
//! half-done by cancellation; the reads and channel reservations that race
//! with the service are cancel safe, and a decoded frame is only taken out
//! of the read buffer once a channel slot is reserved for it.
//!
//! Responses are gathered in a write buffer and flushed before the driver
//! waits for more input, so pipelined requests already buffered are answered
//! with one write.
//!
//! The usual request (no body still to read, no 100-continue, a response
//! body already in memory) takes an inline path in `Driver::run` that moves
//! no future besides the service's; the rest of the loop above runs in
//! boxed futures (`serve_general`, `finish_body`, `finish_flush`). Read and
//! write buffers are lent from the thread's pool (`super::pool`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body::{Body as _, Frame};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower_service::Service;
use wego_netpoll::{Conn, Watcher, rt};

use super::incoming::{self, Msg};
use super::pool;
use super::{BodyLimit, ClientAddr, Config, ExpectDecision};
use crate::body::{Body, BodyError};
use crate::codec::{
    BodyDecoder, BodyFraming, DateCache, Decoded, ParseError, RequestHead, ResponseContext,
    ResponseFraming, encode_last_chunk_cased, encode_response_head, parse_request_head,
};

/// Bytes gathered in the write buffer before it is flushed regardless.
const FLUSH_AT: usize = 64 * 1024;
/// Body frames up to this size are copied into the write buffer; larger ones
/// are written with a vectored write straight from their `Bytes`.
const COPY_BELOW: usize = 16 * 1024;
/// Free space ensured in the read buffer before each read.
const READ_RESERVE: usize = 8 * 1024;

/// The thread's `Date` value and when it must be formatted again.
struct DateNow {
    cache: DateCache,
    text: [u8; 29],
    /// The monotonic time at which the wall clock's next second begins.
    refresh_at: Option<Instant>,
}

thread_local! {
    static DATE: std::cell::RefCell<DateNow> = const {
        std::cell::RefCell::new(DateNow { cache: DateCache::new(), text: [0; 29], refresh_at: None })
    };
}

/// The `Date` value for now, and now.
///
/// Reads only the monotonic clock, which the caller needs anyway (it is
/// when the connection's idle time starts); the wall clock is read again
/// once its next second may have begun, so a wall-clock step shows within a
/// second.
fn date_now() -> ([u8; 29], Instant) {
    let now = Instant::now();
    let text = DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.refresh_at.is_none_or(|at| now >= at) {
            let wall = SystemTime::now();
            let into_second = wall
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |t| t.subsec_nanos());
            let rest = Duration::from_nanos(u64::from(1_000_000_000 - into_second));
            d.refresh_at = Some(now + rest);
            let DateNow { cache, text, .. } = &mut *d;
            let fresh = cache.get(wall);
            let n = fresh.len().min(text.len());
            text[..n].copy_from_slice(&fresh[..n]);
        }
        d.text
    });
    (text, now)
}

/// Serves one connection until it closes, the shutdown drains it while idle,
/// or the shutdown deadline forces it.
pub(crate) async fn serve_connection<S>(conn: Conn, svc: S, config: Arc<Config>, watcher: Watcher)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let peer = conn.peer_addr().clone();
    let mut driver = Driver {
        io: conn,
        // Both lent from the thread's pool while in use: see `pool`.
        rbuf: BytesMut::new(),
        wbuf: BytesMut::new(),
        config,
        svc,
        peer: ClientAddr(peer),
        answered_at: Instant::now(),
    };
    tokio::select! {
        biased;
        () = watcher.forced() => {
            tracing::debug!("connection forced closed by shutdown");
        }
        () = driver.run(&watcher) => {}
    }
}

struct Driver<S> {
    io: Conn,
    rbuf: BytesMut,
    wbuf: BytesMut,
    config: Arc<Config>,
    svc: S,
    peer: ClientAddr,
    /// When the last response was made (its `Date` was read then), or the
    /// connection accepted.
    answered_at: Instant,
}

/// Why reading a head ended without one.
enum HeadEnd {
    /// Clean close: EOF, idle timeout, or draining while idle.
    Close,
    /// The head was malformed or too large.
    Parse(ParseError),
    /// The head did not arrive within the header-read timeout.
    Timeout,
}

/// How a request is served (see `Driver::run`).
enum Started<F> {
    /// The service was called: the inline path.
    Called(F, Meta),
    /// The request is ready but the service is not.
    Waiting(Box<Request<Body>>, Meta),
    /// A body still to be read, `100-continue`, or a body over the limit.
    General(Box<RequestHead>),
    // Both rare, and boxed: unboxed, they would make every `Started` (a
    // per-request write into the connection's future) as large as a request.
}

/// What the inline path keeps of a request while its response is made.
#[derive(Clone, Copy)]
struct Meta {
    keep_alive: bool,
    head_request: bool,
    version: Version,
}

/// What `queue_response` queued.
enum Queued {
    /// The whole response; carries whether the connection stays open.
    All(bool),
    /// The head only: the body still has to be written with this framing.
    Head(Body, ResponseFraming, bool),
}

/// What became of the request body by the time the response was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    /// Read to its end (or there was none).
    Done,
    /// The handler has not read all of it; the connection may drain it.
    Unread,
    /// Reading failed (malformed, timeout, EOF, too large): close.
    Broken,
}

impl<S> Driver<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    async fn run(&mut self, watcher: &Watcher) {
        // One draining future for the connection's life, rather than a new
        // one per read.
        let mut draining = std::pin::pin!(watcher.draining());
        // One lazily re-armed timer for the idle and header-read deadlines:
        // a request only moves a deadline; the timer is reset when it fires
        // early, so keep-alive traffic costs no timer-wheel work per request.
        let mut timer = std::pin::pin!(rt::sleep(self.config.header_read_timeout));
        let mut first = true;
        loop {
            let head = match self
                .read_head(draining.as_mut(), timer.as_mut(), first)
                .await
            {
                Ok(head) => head,
                Err(HeadEnd::Close) => break,
                Err(HeadEnd::Parse(e)) => {
                    tracing::debug!(error = %e, "rejecting request head");
                    let _ = self.write_error(e.status()).await;
                    break;
                }
                Err(HeadEnd::Timeout) => {
                    let _ = self.write_error(StatusCode::REQUEST_TIMEOUT).await;
                    break;
                }
            };
            first = false;
            // The usual request is served inline here. An `async fn` call
            // moves its whole future (the bytes of all its states) into the
            // caller's, and at 1,000 connections those bytes are cold cache
            // lines of the connection's task: the per-request path creates
            // no future besides the service's, and the rarely needed ones
            // (streamed bodies either way, 100-continue) live on the heap.
            let served = 'served: {
                let (fut, meta) = match self.start(head) {
                    Started::Called(fut, meta) => (fut, meta),
                    Started::Waiting(req, meta) => {
                        (Box::pin(self.call_when_ready(req)).await, meta)
                    }
                    Started::General(head) => {
                        break 'served Box::pin(self.serve_general(*head, watcher)).await;
                    }
                };
                let Ok(response) = fut.await;
                match self.queue_response(response, meta, watcher) {
                    Queued::All(keep_alive) => {
                        if self.must_flush(keep_alive) {
                            self.flush().await.map(|()| keep_alive)
                        } else {
                            Ok(keep_alive)
                        }
                    }
                    Queued::Head(body, framing, keep_alive) => {
                        Box::pin(self.finish_body(body, framing, keep_alive)).await
                    }
                }
            };
            match served {
                Ok(true) if !watcher.is_draining() => {}
                Ok(_) => {
                    let _ = self.flush().await;
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "connection i/o failed");
                    return;
                }
            }
        }
        let _ = rt::timeout(self.config.write_timeout, self.io.shutdown()).await;
    }

    /// Reads until a complete head is parsed.
    async fn read_head<D>(
        &mut self,
        mut draining: Pin<&mut D>,
        mut timer: Pin<&mut rt::Sleep>,
        first: bool,
    ) -> Result<RequestHead, HeadEnd>
    where
        D: Future<Output = ()>,
    {
        // The connection's accept, or the previous response (the clock read
        // that dated it): when a request's header-read or idle time starts.
        let now = self.answered_at;
        // The header-read clock starts at accept for a first request, and at
        // the first byte of later ones; before that the idle clock runs.
        let mut started = (first || !self.rbuf.is_empty()).then_some(now);
        let idle_deadline = now + self.config.idle_timeout;
        loop {
            if !self.rbuf.is_empty() {
                match parse_request_head(&mut self.rbuf, &self.config.head) {
                    Ok(Some(head)) => return Ok(head),
                    Ok(None) => {}
                    Err(e) => return Err(HeadEnd::Parse(e)),
                }
                started.get_or_insert_with(Instant::now);
            }
            if self.flush().await.is_err() {
                return Err(HeadEnd::Close);
            }
            let (deadline, idle) = match started {
                Some(t) => (t + self.config.header_read_timeout, false),
                None => (idle_deadline, true),
            };
            if timer.deadline() > deadline {
                timer.as_mut().reset(deadline);
            }
            let read = loop {
                // The read goes first: a wake-up with bytes to read then
                // costs no poll of the shutdown signal.
                tokio::select! {
                    biased;
                    r = std::future::poll_fn(|cx| poll_read_lent(&mut self.io, &mut self.rbuf, cx)) => {
                        break r;
                    }
                    () = draining.as_mut(), if idle => return Err(HeadEnd::Close),
                    () = timer.as_mut() => {
                        if Instant::now() >= deadline {
                            return Err(if idle { HeadEnd::Close } else { HeadEnd::Timeout });
                        }
                        // Armed for an earlier request's deadline: move on.
                        timer.as_mut().reset(deadline);
                    }
                }
            };
            match read {
                Ok(0) | Err(_) => return Err(HeadEnd::Close),
                Ok(_) => {}
            }
        }
    }

    /// Calls the service when the request's body is already here whole (or
    /// it has none), no `100 Continue` is asked for and the service is ready
    /// without waiting (a router without layers always is). The request is
    /// built and handed over here, off the connection's future: a request
    /// kept across an await would be one more copy into it.
    fn start(&mut self, head: RequestHead) -> Started<S::Future> {
        let whole = !head.expect_continue
            && match head.framing {
                BodyFraming::Empty => true,
                BodyFraming::Length(n) => {
                    (self.rbuf.len() as u64) >= n
                        && self.config.max_body_size.is_none_or(|max| n <= max)
                }
                BodyFraming::Chunked => false,
            };
        if !whole {
            return Started::General(Box::new(head));
        }
        let RequestHead {
            parts,
            framing,
            keep_alive,
            ..
        } = head;
        let body = match framing {
            BodyFraming::Length(n) => self.arrived_body(n),
            _ => Body::empty(),
        };
        let meta = Meta {
            keep_alive: keep_alive && self.config.keep_alive,
            head_request: parts.method == Method::HEAD,
            version: parts.version,
        };
        let req = self.request(parts, body);
        let mut cx = Context::from_waker(Waker::noop());
        match self.svc.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => Started::Called(self.svc.call(req), meta),
            Poll::Pending => Started::Waiting(Box::new(req), meta),
        }
    }

    /// A body of `n` bytes that arrived whole with its head, handed over as
    /// one buffer (no channel, no pump). The caller checked `n` against the
    /// read buffer's length.
    fn arrived_body(&mut self, n: u64) -> Body {
        let len = usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(self.rbuf.len());
        Body::from(self.rbuf.split_to(len).freeze())
    }

    /// Waits for the service to be ready, then calls it.
    async fn call_when_ready(&mut self, req: Box<Request<Body>>) -> S::Future {
        let Ok(()) = std::future::poll_fn(|cx| self.svc.poll_ready(cx)).await;
        self.svc.call(*req)
    }

    /// Queues the response's head, and its body too when that needs no
    /// writing of its own (see `put_whole_body`).
    fn queue_response(
        &mut self,
        response: Response<Body>,
        meta: Meta,
        watcher: &Watcher,
    ) -> Queued {
        let (parts, body) = response.into_parts();
        let keep_alive = meta.keep_alive && !watcher.is_draining();
        let (framing, keep_alive) =
            self.encode_head(&parts, &body, meta.head_request, meta.version, keep_alive);
        if self.put_whole_body(&body, framing) {
            Queued::All(keep_alive)
        } else {
            Queued::Head(body, framing, keep_alive)
        }
    }

    /// Writes a response body that `queue_response` left, then flushes;
    /// returns whether the connection stays open.
    async fn finish_body(
        &mut self,
        body: Body,
        framing: ResponseFraming,
        keep_alive: bool,
    ) -> std::io::Result<bool> {
        let complete = self.write_body(body, framing, &mut None).await?;
        let keep_alive = keep_alive && complete;
        if self.must_flush(keep_alive) {
            self.flush().await?;
        }
        Ok(keep_alive)
    }

    /// Whether to write out what is queued now: when the connection
    /// closes, when no pipelined request waits to be answered with it, or
    /// when enough has gathered.
    fn must_flush(&self, keep_alive: bool) -> bool {
        !keep_alive || self.rbuf.is_empty() || self.wbuf.len() >= FLUSH_AT
    }

    /// The request with the server's extensions added.
    fn request(&self, mut parts: http::request::Parts, body: Body) -> Request<Body> {
        // Extractors fall back to the default limit: skip an allocation.
        if self.config.body_limit != super::DEFAULT_BODY_LIMIT {
            parts.extensions.insert(BodyLimit(self.config.body_limit));
        }
        parts.extensions.insert(self.peer.clone());
        Request::from_parts(parts, body)
    }

    /// Encodes the response head into the write buffer; returns the body's
    /// framing and whether the connection stays open.
    fn encode_head(
        &mut self,
        parts: &http::response::Parts,
        body: &Body,
        head_request: bool,
        version: Version,
        keep_alive: bool,
    ) -> (ResponseFraming, bool) {
        let (date, now) = date_now();
        self.answered_at = now;
        let ctx = ResponseContext {
            head_request,
            version,
            keep_alive,
            date: &date,
            server: self.config.server_header.as_ref().map(|v| v.as_bytes()),
            title_case_headers: self.config.title_case_headers,
        };
        encode_response_head(
            parts.status,
            &parts.headers,
            body.size_hint().exact(),
            &ctx,
            lent(&mut self.wbuf),
        )
    }

    /// Queues a body that needs no writing of its own: none at all (HEAD,
    /// 204, 304), or a small one already in memory whose length is the
    /// framing's. Returns false, queueing nothing, for any other body.
    fn put_whole_body(&mut self, body: &Body, framing: ResponseFraming) -> bool {
        match framing {
            ResponseFraming::None => true,
            ResponseFraming::Length(n) => match body.in_memory() {
                Some(data) if data.len() as u64 == n && data.len() < COPY_BELOW => {
                    lent(&mut self.wbuf).extend_from_slice(data);
                    true
                }
                _ => false,
            },
            ResponseFraming::Chunked | ResponseFraming::UntilClose => false,
        }
    }

    /// Answers a request whose body must be streamed to the handler, or that
    /// asks for `100 Continue`, or whose declared body is too large.
    async fn serve_general(
        &mut self,
        head: RequestHead,
        watcher: &Watcher,
    ) -> std::io::Result<bool> {
        let RequestHead {
            parts,
            framing,
            keep_alive,
            expect_continue,
        } = head;
        let keep_alive = keep_alive && self.config.keep_alive;
        let head_request = parts.method == Method::HEAD;
        let version = parts.version;

        if expect_continue
            && let Some(hook) = &self.config.expect
            && let ExpectDecision::Reject(status) = hook(&parts)
        {
            self.write_error(status).await?;
            return Ok(false);
        }
        if let (Some(max), BodyFraming::Length(n)) = (self.config.max_body_size, framing)
            && n > max
        {
            self.write_error(StatusCode::PAYLOAD_TOO_LARGE).await?;
            return Ok(false);
        }

        let (body, mut pump) = match framing {
            BodyFraming::Empty => (Body::empty(), None),
            // A body of known length that already arrived with its head is
            // handed over as one buffer, with no channel and no pump (here:
            // a client that asked for 100-continue but sent the body anyway).
            BodyFraming::Length(n) if (self.rbuf.len() as u64) >= n => (self.arrived_body(n), None),
            _ => {
                let len = match framing {
                    BodyFraming::Length(n) => Some(n),
                    _ => None,
                };
                let (tx, rx) = incoming::channel(len);
                let pump = Pump {
                    tx,
                    decoder: BodyDecoder::new(framing, self.config.head.max_head),
                    continue_pending: expect_continue,
                    read: 0,
                    state: BodyState::Unread,
                };
                // The client may wait for earlier responses before sending
                // this body; do not hold them back.
                self.flush().await?;
                (Body::incoming(rx), Some(pump))
            }
        };
        let req = self.request(parts, body);

        let ready = std::future::poll_fn(|cx| self.svc.poll_ready(cx)).await;
        let Ok(()) = ready;
        let mut fut = std::pin::pin!(self.svc.call(req));

        let response = loop {
            let Some(p) = pump.as_mut().filter(|p| p.state == BodyState::Unread) else {
                let Ok(r) = fut.await;
                break r;
            };
            let step = tokio::select! {
                biased;
                r = &mut fut => {
                    let Ok(r) = r;
                    break r;
                }
                step = p.step(&mut self.io, &mut self.rbuf, &self.config) => step,
            };
            if step == Step::SendContinue {
                self.write_continue().await?;
            }
        };

        let (parts, body) = response.into_parts();
        let mut body_state = pump.as_ref().map_or(BodyState::Done, |p| p.state);
        // An unanswered 100-continue leaves the client's next bytes
        // ambiguous (body or next request): close after this response.
        let keep_alive = keep_alive
            && body_state != BodyState::Broken
            && !pump.as_ref().is_some_and(|p| p.continue_pending)
            && !watcher.is_draining();
        let (framing, mut keep_alive) =
            self.encode_head(&parts, &body, head_request, version, keep_alive);
        let complete = self.write_body(body, framing, &mut pump).await?;
        keep_alive &= complete;

        if let Some(p) = pump.as_mut() {
            body_state = p.state;
            if body_state == BodyState::Unread {
                // RFC 9110 §10.1.1: without our 100 Continue the client may
                // or may not send the body; only closing is unambiguous.
                body_state = if p.continue_pending {
                    BodyState::Broken
                } else {
                    self.drain(p).await
                };
            }
        }
        keep_alive &= body_state == BodyState::Done;
        if self.must_flush(keep_alive) {
            self.flush().await?;
        }
        Ok(keep_alive)
    }

    /// Writes the response body with `framing`; while a request body is
    /// still being read, keeps the pump going so that a handler may stream
    /// one into the other. Returns false if the framing could not be kept
    /// (a body shorter or longer than its `Content-Length`, or a body error):
    /// the connection must close.
    async fn write_body(
        &mut self,
        mut body: Body,
        framing: ResponseFraming,
        pump: &mut Option<Pump>,
    ) -> std::io::Result<bool> {
        if framing == ResponseFraming::None {
            return Ok(true);
        }
        let mut written: u64 = 0;
        loop {
            if body.is_end_stream() {
                break;
            }
            let frame = match pump.as_mut().filter(|p| p.state == BodyState::Unread) {
                // The final head is already queued: if the handler reads the
                // body only now, no 100 Continue may follow it; the client
                // sends the body after its own wait (RFC 9110 §10.1.1).
                Some(p) => {
                    let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
                    tokio::select! {
                        biased;
                        f = next => f,
                        _ = p.step(&mut self.io, &mut self.rbuf, &self.config) => continue,
                    }
                }
                None => {
                    // Fast path for complete bodies: no task wake-up needed.
                    let ready = {
                        let mut cx = Context::from_waker(Waker::noop());
                        Pin::new(&mut body).poll_frame(&mut cx)
                    };
                    match ready {
                        Poll::Ready(f) => f,
                        Poll::Pending => {
                            self.flush().await?;
                            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
                        }
                    }
                }
            };
            let frame = match frame {
                None => break,
                Some(Ok(f)) => f,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "response body failed; closing");
                    self.flush().await?;
                    return Ok(false);
                }
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
                        crate::codec::encode_chunk_size(data.len(), lent(&mut self.wbuf));
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
        let r = rt::timeout(self.config.write_timeout, self.io.write_all_buf(&mut chain)).await;
        pool::give_back(std::mem::take(&mut self.wbuf));
        r.unwrap_or_else(|_| Err(write_timed_out()))
    }

    /// Writes the whole write buffer out, then empties it.
    ///
    /// The buffer is written by position rather than consumed, so that
    /// emptying it leaves its start where it was: the next response is
    /// encoded into the same (recently used, so cached) bytes instead of
    /// walking forward through the allocation.
    async fn flush(&mut self) -> std::io::Result<()> {
        if self.wbuf.is_empty() {
            // A lent buffer goes back even if nothing was written to it:
            // a connection waiting for input holds none.
            if self.wbuf.capacity() > 0 {
                pool::give_back(std::mem::take(&mut self.wbuf));
            }
            return Ok(());
        }
        let mut pos = 0;
        // Fast path: the socket usually takes the whole buffer at once, so
        // try once before arming the write timer (boxed: a flush is awaited
        // on every request, see `Driver::run`).
        let first = {
            let mut cx = Context::from_waker(Waker::noop());
            poll_write_out(&mut self.io, &self.wbuf, &mut pos, &mut cx)
        };
        let r = match first {
            Poll::Ready(r) => r,
            Poll::Pending => Box::pin(self.finish_flush(pos)).await,
        };
        pool::give_back(std::mem::take(&mut self.wbuf));
        r
    }

    /// Writes the write buffer from `pos` on, waiting for the socket within
    /// the write timeout.
    async fn finish_flush(&mut self, mut pos: usize) -> std::io::Result<()> {
        let (io, wbuf) = (&mut self.io, &self.wbuf);
        let out = std::future::poll_fn(|cx| poll_write_out(io, wbuf, &mut pos, cx));
        rt::timeout(self.config.write_timeout, out)
            .await
            .unwrap_or_else(|_| Err(write_timed_out()))
    }

    async fn write_continue(&mut self) -> std::io::Result<()> {
        lent(&mut self.wbuf).extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        self.flush().await
    }

    /// Answers with an empty `status` response and `Connection: close`.
    async fn write_error(&mut self, status: StatusCode) -> std::io::Result<()> {
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

    /// Reads and discards up to `drain_limit` bytes of body the handler left.
    async fn drain(&mut self, pump: &mut Pump) -> BodyState {
        let limit = pump.read.saturating_add(self.config.drain_limit as u64);
        loop {
            match pump.decoder.decode(&mut self.rbuf) {
                Ok(Some(Decoded::End)) => return BodyState::Done,
                Ok(Some(Decoded::Data(d))) => {
                    pump.read += d.len() as u64;
                    if pump.read > limit {
                        return BodyState::Broken;
                    }
                }
                Ok(Some(Decoded::Trailers(_))) => {}
                Ok(None) => {
                    if self.flush().await.is_err() {
                        return BodyState::Broken;
                    }
                    room(&mut self.rbuf);
                    let read = rt::timeout(
                        self.config.body_read_timeout,
                        self.io.read_buf(&mut self.rbuf),
                    )
                    .await;
                    if !matches!(read, Ok(Ok(n)) if n > 0) {
                        return BodyState::Broken;
                    }
                }
                Err(_) => return BodyState::Broken,
            }
        }
    }
}

/// Writes `buf[*pos..]` to `io`, moving `pos` past what was written.
///
/// One contiguous buffer goes out with `poll_write` (a plain `send`):
/// tokio's `write_buf` would take the vectored path for a socket, and a
/// one-element `writev` costs more in the kernel than `send` does.
fn poll_write_out(
    io: &mut Conn,
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
    Poll::Ready(Ok(()))
}

/// Reads into the read buffer, lent from the pool for the read: a
/// connection waiting for a request with nothing buffered holds no read
/// buffer, and the bytes of most requests land in a few buffers that stay
/// cached rather than in one per connection.
fn poll_read_lent(
    io: &mut Conn,
    rbuf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<usize>> {
    let read = std::pin::pin!(io.read_buf(room(rbuf))).poll(cx);
    if read.is_pending() && rbuf.is_empty() {
        pool::give_back(std::mem::take(rbuf));
    }
    read
}

/// The read buffer with room for a read, lent from the pool if it has none.
fn room(rbuf: &mut BytesMut) -> &mut BytesMut {
    if rbuf.capacity() == 0 {
        *rbuf = pool::lend();
    }
    rbuf.reserve(READ_RESERVE);
    rbuf
}

/// The connection's write buffer, lent from the pool if it has none.
fn lent(wbuf: &mut BytesMut) -> &mut BytesMut {
    if wbuf.capacity() == 0 {
        *wbuf = pool::lend();
    }
    wbuf
}

fn write_timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out")
}

/// Moves the request body from the socket to the handler.
struct Pump {
    tx: incoming::Sender,
    decoder: BodyDecoder,
    /// `Expect: 100-continue` was received and `100 Continue` not yet sent.
    continue_pending: bool,
    /// Body bytes delivered so far.
    read: u64,
    state: BodyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A frame was handed over, or the body ended or failed (see `state`).
    Progress,
    /// The handler asked for the body: send `100 Continue` now.
    SendContinue,
}

impl Pump {
    /// Hands over the next frame of the body.
    ///
    /// Cancel safe: bytes leave the read buffer only once a channel slot is
    /// reserved for them, and the send that follows does not wait.
    async fn step(&mut self, io: &mut Conn, rbuf: &mut BytesMut, config: &Config) -> Step {
        if self.continue_pending {
            self.tx.want.notified().await;
            self.continue_pending = false;
            return Step::SendContinue;
        }
        let Ok(permit) = self.tx.tx.reserve().await else {
            // The handler dropped the body; what is left gets drained.
            self.state = BodyState::Unread;
            return self.parked().await;
        };
        loop {
            match self.decoder.decode(rbuf) {
                Ok(Some(Decoded::Data(data))) => {
                    self.read += data.len() as u64;
                    if let Some(max) = config.max_body_size
                        && self.read > max
                    {
                        let limit = usize::try_from(max).unwrap_or(usize::MAX);
                        permit.send(Msg::Err(BodyError::too_large(limit)));
                        self.state = BodyState::Broken;
                        return Step::Progress;
                    }
                    permit.send(Msg::Frame(Frame::data(data)));
                    return Step::Progress;
                }
                Ok(Some(Decoded::Trailers(t))) => {
                    permit.send(Msg::Frame(Frame::trailers(t)));
                    return Step::Progress;
                }
                Ok(Some(Decoded::End)) => {
                    permit.send(Msg::End);
                    self.state = BodyState::Done;
                    return Step::Progress;
                }
                Ok(None) => {
                    room(rbuf);
                    let read = rt::timeout(config.body_read_timeout, io.read_buf(rbuf)).await;
                    let err = match read {
                        Ok(Ok(0)) => BodyError::incomplete(),
                        Ok(Ok(_)) => continue,
                        Ok(Err(e)) => BodyError::io(e),
                        Err(_) => BodyError::timeout(),
                    };
                    permit.send(Msg::Err(err));
                    self.state = BodyState::Broken;
                    return Step::Progress;
                }
                Err(e) => {
                    permit.send(Msg::Err(BodyError::malformed(e)));
                    self.state = BodyState::Broken;
                    return Step::Progress;
                }
            }
        }
    }

    /// Nothing more to do until the response is written: never resolves.
    async fn parked(&self) -> Step {
        std::future::pending::<Step>().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service that answers at once, so that the sizes below are the
    /// driver's own.
    #[derive(Clone)]
    struct Hello;

    impl Service<Request<Body>> for Hello {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<Body>) -> Self::Future {
            std::future::ready(Ok(Response::new(Body::from("hi"))))
        }
    }

    type D = Driver<Hello>;

    fn size3<A, B, C, F: Future>(_: impl FnOnce(A, B, C) -> F) -> usize {
        size_of::<F>()
    }

    #[test]
    fn date_now_follows_the_wall_clock() {
        for _ in 0..3 {
            let before = DateCache::new().get(SystemTime::now()).to_vec();
            let start = Instant::now();
            let (text, at) = date_now();
            let after = DateCache::new().get(SystemTime::now()).to_vec();
            assert!(text[..] == before[..] || text[..] == after[..], "{text:?}");
            assert!(at >= start && at <= Instant::now());
            std::thread::sleep(Duration::from_millis(600));
        }
    }

    /// The general path and the waiting part of a flush are boxed, so that
    /// the connection's future and the flush awaited on every request stay
    /// small (see `Driver::run`).
    #[test]
    fn per_request_futures_stay_small() {
        let run = size3(|d: &'static mut D, w: &'static Watcher, (): ()| d.run(w));
        let serve_general =
            size3(|d: &'static mut D, h: RequestHead, w: &'static Watcher| d.serve_general(h, w));
        let flush = size3(|d: &'static mut D, (): (), (): ()| d.flush());
        let finish_flush = size3(|d: &'static mut D, (): (), (): ()| d.finish_flush(0));
        eprintln!(
            "run {run} B, serve_general {serve_general} B, flush {flush} B, \
             finish_flush {finish_flush} B"
        );
        // Boxed, so neither is part of the futures awaited per request.
        assert!(run < serve_general, "run's future holds serve_general's");
        assert!(
            flush <= 64 && flush < finish_flush,
            "flush's future is {flush} bytes"
        );
    }
}
