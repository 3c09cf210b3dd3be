//! The connection driver: where the sans-IO codec meets the socket.
//!
//! One task per connection runs this loop, kept whole on purpose in this
//! file; the date clock (`date`), the body pump (`pump`) and the write path
//! (`write`) are its parts, and the shutdown signals and the read timer are
//! polled only after they woke (`rt::Gates`):
//!
//! ```text
//!   ┌─> read head ──(parse error)──> 4xx/505 + close
//!   │      │ (idle timeout / draining with no bytes) ──> close quietly
//!   │      │ (header-read timeout) ──> 408 + close
//!   │      v
//!   │   call service ══ pump body: socket ─> decoder ─> one-slot channel ─> handler
//!   │      v
//!   │   write head + body (the pump keeps feeding a handler that streams
//!   │      │               its request body into its response; the head
//!   │      │               waits for the body's first frame or end)
//!   │      │ (request body malformed or too large before any response
//!   │      │  byte) ──> 400/413 + close
//!   │      v
//!   │   drain what the handler left unread (≤ drain_limit), else close
//!   └──────┘ keep-alive and not draining
//! ```
//!
//! A close that may leave request bytes unread (a 4xx or 408 answered
//! before the request was read whole, a refused 100-continue, a body
//! past the drain limit, pipelined bytes after the last answer) lingers
//! first (`linger`, RFC 9112 §9.6): the write side is shut down and the
//! client's bytes are read and discarded for a bounded time.
//!
//! Writes never happen inside a `select!` branch, so no write is ever
//! half-done by cancellation; the reads and channel reservations that race
//! with the service are cancel safe, and a decoded frame is only taken out
//! of the read buffer once a channel slot is reserved for it.
//!
//! A bodiless HTTP/1.1 request that asks to switch protocols carries an
//! upgrade slot (`crate::upgrade`); when its answer is `101`, the driver
//! flushes that head and hands the IO, with the bytes read past the head,
//! to the handler's `OnUpgrade`. Any other `101` closes the connection:
//! HTTP/1.1 cannot go on after it.
//!
//! Responses are gathered in a write buffer and flushed before the driver
//! waits for more input, so pipelined requests already buffered are answered
//! with one write; a handler (or service) not ready at once does not hold
//! them back: they are written out while it waits (`poll_answer`).
//!
//! The usual request (no body still to read, no 100-continue, a response
//! body already in memory) takes an inline path in `Driver::run` that moves
//! no future besides the service's; the rest of the loop above runs in
//! boxed futures (`serve_general`, `finish_response`, `finish_flush`). Read and
//! write buffers are lent from the thread's pool (`super::pool`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::BytesMut;
use http::{Method, Request, Response, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower_service::Service;
use wego_netpoll::Watcher;
use wego_netpoll::net::Io;
use wego_netpoll::rt::{self, Gated, Gates};

use self::pump::{BodyState, Pump, Step};
use self::write::{Queued, lent};
use super::facts::ConnFacts;
use super::http2::{self, Rewind};
use super::{Config, ExpectDecision};
use crate::body::{Body, incoming};
use crate::codec::{BodyDecoder, BodyFraming, ParseError, RequestHead, parse_request_head_into};
use crate::upgrade::{self, Upgraded};
use wego_netpoll::buffer::pool;

pub(super) mod date;
mod linger;
mod pump;
mod write;

/// Free space a read buffer is given when it has less than
/// [`READ_MIN_ROOM`].
const READ_RESERVE: usize = 8 * 1024;

/// Free space below which the read buffer is grown (or its consumed front
/// reclaimed) before a read. Each request split off the front of a pooled
/// buffer shortens its room; reclaiming it only once the room is this low,
/// rather than topping it up to [`READ_RESERVE`] before every read, keeps
/// `BytesMut::reserve`'s slow path off the per-request path.
const READ_MIN_ROOM: usize = 4 * 1024;

/// Serves one connection until it closes, the shutdown drains it while idle,
/// or the shutdown deadline forces it.
///
/// Generic over the IO, not boxed: a netpoll `Conn` gets a driver of its
/// own, with no dynamic call per read or write.
pub(crate) async fn serve_connection<S, IO>(io: IO, svc: S, config: Arc<Config>, watcher: Watcher)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    IO: Io,
{
    let facts = ConnFacts::of(&io);
    if facts.negotiated_h2() {
        // TLS settled on HTTP/2 by ALPN: the client's preface comes first,
        // with no HTTP/1.1 in between (RFC 9113 §3.2). Boxed, as below.
        Box::pin(http2::serve(io, svc, config, &watcher, facts)).await;
        return;
    }
    let mut driver = Driver {
        io,
        // Both lent from the thread's pool while in use: see `pool`.
        rbuf: BytesMut::new(),
        wbuf: BytesMut::new(),
        config,
        svc,
        facts,
        answered_at: Some(rt::now()),
        upgrade: None,
        switched: false,
        linger: false,
    };
    // The shutdown signals and the read timer are polled only after they
    // woke, not on every wake-up of the connection (see `rt::Gates`).
    let gates = Gates::new();
    let handover = tokio::select! {
        biased;
        () = gates.gate(watcher.forced()) => {
            tracing::debug!("connection forced closed by shutdown");
            return;
        }
        handover = driver.run(&watcher, &gates) => handover,
    };
    let Driver {
        io,
        rbuf,
        svc,
        config,
        facts,
        ..
    } = driver;
    let io = match handover {
        Handover::None => return,
        Handover::Switched(pending) => {
            pending.fulfil(Upgraded::new(Box::new(io), rbuf.freeze()));
            return;
        }
        Handover::PriorKnowledge => Rewind::new(io, rbuf.freeze()),
        Handover::Upgrade(parts) => Rewind::upgraded(io, rbuf.freeze(), http2::stream_one(&parts)),
    };
    // Boxed: the HTTP/2 driver is not part of an HTTP/1.1 connection's
    // future.
    Box::pin(http2::serve(io, svc, config, &watcher, facts)).await;
}

/// Whether the connection goes on as HTTP/2, and how it got there.
enum Handover {
    /// It does not: the connection is over.
    None,
    /// It opened with the HTTP/2 preface.
    PriorKnowledge,
    /// This request asked for `Upgrade: h2c` and got `101`; it becomes
    /// stream 1.
    Upgrade(Box<http::request::Parts>),
    /// The handler answered `101` to a request with an upgrade slot: the
    /// IO goes to it.
    Switched(upgrade::Pending),
}

struct Driver<S, IO> {
    io: IO,
    rbuf: BytesMut,
    wbuf: BytesMut,
    config: Arc<Config>,
    svc: S,
    /// The client's address and TLS facts, for each request's extensions.
    facts: ConnFacts,
    /// When the last response was written out, or the connection accepted:
    /// the idle and header-read clocks start then. A response written at
    /// once is dated by the clock read for its `Date`; one whose writing
    /// waits (on its body, the socket, or a drain) sets this to `None`, and
    /// [`Driver::answered_at`] reads the clock when it is next needed, once
    /// the response is out.
    answered_at: Option<Instant>,
    /// The upgrade slot of the request being answered, if it has one.
    upgrade: Option<upgrade::Pending>,
    /// The last head written was a `101 Switching Protocols`.
    switched: bool,
    /// The connection closes while its client may still be sending the
    /// request: linger before the close (see `linger`). Set only on the
    /// paths that close.
    linger: bool,
}

/// Why reading a head ended without one.
enum HeadEnd {
    /// Clean close: EOF, idle timeout, or draining with no byte of a
    /// request read.
    Close,
    /// The head was malformed or too large.
    Parse(ParseError),
    /// The head did not arrive within the header-read timeout.
    Timeout,
    /// The connection opened with the HTTP/2 preface.
    Http2,
    /// The request asked for `Upgrade: h2c` and may have it (its head).
    H2c(Box<http::request::Parts>),
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

impl<S, IO> Driver<S, IO>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
    IO: AsyncRead + AsyncWrite + Unpin,
{
    async fn run(&mut self, watcher: &Watcher, gates: &Gates) -> Handover {
        // One draining future for the connection's life, rather than a new
        // one per read.
        let mut draining = std::pin::pin!(gates.gate(watcher.draining()));
        // One lazily re-armed timer for the idle and header-read deadlines:
        // a request only moves a deadline; the timer is reset when it fires
        // early, so keep-alive traffic costs no timer-wheel work per request.
        let mut timer = std::pin::pin!(gates.gate(rt::sleep(self.config.header_read_timeout)));
        let mut first = true;
        loop {
            // A request is parsed into the request the service gets, in a
            // synchronous step (`try_start`) that also calls the service:
            // the request is not moved out of a parser's frame, and no
            // await sits between its making and the call, so it is never
            // part of the connection's future.
            // The header-read clock starts at accept for a first request,
            // and at the first byte of later ones, but never before the
            // previous response was written (`answered_at`); before that the
            // idle clock runs.
            let mut started = (first || !self.rbuf.is_empty()).then(|| self.answered_at());
            let next = loop {
                match self.try_start(first) {
                    Ok(Some(started)) => break Ok(started),
                    Ok(None) => {}
                    Err(end) => break Err(end),
                }
                if !self.rbuf.is_empty() {
                    // Part of a head arrived: the header-read clock runs.
                    started.get_or_insert_with(rt::now);
                }
                if let Err(end) = self
                    .wait_for_head(started, draining.as_mut(), timer.as_mut())
                    .await
                {
                    break Err(end);
                }
            };
            let started = match next {
                Ok(started) => started,
                Err(HeadEnd::Close) => break,
                Err(HeadEnd::Http2) => return Handover::PriorKnowledge,
                Err(HeadEnd::H2c(parts)) => {
                    lent(&mut self.wbuf).extend_from_slice(http2::SWITCHING);
                    if self.flush().await.is_err() {
                        return Handover::None;
                    }
                    return Handover::Upgrade(parts);
                }
                Err(HeadEnd::Parse(e)) => {
                    tracing::debug!(error = %e, "rejecting request head");
                    // The rest of the head, and any body, may be on its way.
                    self.linger = true;
                    let _ = self.write_error(e.status()).await;
                    break;
                }
                Err(HeadEnd::Timeout) => {
                    // A head begun may still be coming; a silent client
                    // sends nothing to discard.
                    self.linger = !self.rbuf.is_empty();
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
                let (fut, meta) = match started {
                    Started::Called(fut, meta) => (fut, meta),
                    Started::Waiting(req, meta) => {
                        (Box::pin(self.call_when_ready(req)).await, meta)
                    }
                    Started::General(head) => {
                        break 'served Box::pin(self.serve_general(*head, watcher)).await;
                    }
                };
                // With earlier answers queued (pipelining), they are written
                // out while the handler waits; with none, the plain await
                // keeps this path as the compiler inlines it.
                let Ok(response) = if self.wbuf.is_empty() {
                    fut.await
                } else {
                    let mut fut = std::pin::pin!(fut);
                    std::future::poll_fn(|cx| self.poll_answer(cx, |_, cx| fut.as_mut().poll(cx)))
                        .await
                };
                match self.queue_response(response, meta, watcher) {
                    Queued::All(keep_alive) => {
                        if self.must_flush(keep_alive) {
                            self.flush().await.map(|()| keep_alive)
                        } else {
                            Ok(keep_alive)
                        }
                    }
                    Queued::Later(response, meta) => {
                        Box::pin(self.finish_response(response, meta)).await
                    }
                }
            };
            if self.switched {
                // RFC 9110 §15.2.2: after the 101's empty line the
                // connection speaks the new protocol, never HTTP/1.1.
                let pending = self.upgrade.take();
                if served.is_ok() && self.flush().await.is_ok() {
                    if let Some(pending) = pending {
                        return Handover::Switched(pending);
                    }
                    tracing::debug!("101 without an upgrade slot: closing");
                }
                return Handover::None;
            }
            // Not switched: dropping the slot fails the handler's
            // `OnUpgrade`.
            self.upgrade = None;
            match served {
                Ok(true) if !watcher.is_draining() => {}
                Ok(_) => {
                    // Bytes past the last request (pipelined ones) say more
                    // may follow them.
                    self.linger |= !self.rbuf.is_empty();
                    let _ = self.flush().await;
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "connection i/o failed");
                    return Handover::None;
                }
            }
        }
        let shut_down = matches!(
            rt::timeout(self.config.write_timeout, self.io.shutdown()).await,
            Ok(Ok(()))
        );
        if shut_down && self.linger {
            // Boxed: rare, and not part of the connection's future.
            Box::pin(self.linger(watcher)).await;
        }
        Handover::None
    }

    /// Parses a head from the read buffer and starts serving it: `Ok(None)`
    /// when the buffer holds no complete head yet.
    // Inlined into `run`, and one function with the request's making and
    // the service's call, so that the request is made in `run`'s frame and
    // moved only into the service (a by-value argument to a helper was one
    // more 260-byte copy, even inlined).
    #[inline(always)]
    fn try_start(&mut self, first: bool) -> Result<Option<Started<S::Future>>, HeadEnd> {
        if self.rbuf.is_empty() {
            return Ok(None);
        }
        // RFC 9113 §3.4: the preface opens a prior-knowledge connection;
        // until 24 bytes decide, wait rather than parse.
        if first && self.config.http2.enabled {
            match http2::preface(&self.rbuf) {
                http2::Preface::Full => return Err(HeadEnd::Http2),
                http2::Preface::Partial => return Ok(None),
                http2::Preface::No => {}
            }
        }
        let mut req = Request::new(Body::empty());
        let info = match parse_request_head_into(&mut self.rbuf, &self.config.head, &mut req) {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(None),
            Err(e) => return Err(HeadEnd::Parse(e)),
        };
        if self.config.http2.enabled && http2::wants_h2c(&req, &info, &self.rbuf) {
            return Err(HeadEnd::H2c(Box::new(req.into_parts().0)));
        }
        // Served inline when the request's body is already here whole (or
        // it has none), no `100 Continue` is asked for and the service is
        // ready without waiting (a router without layers always is).
        let whole = !info.expect_continue
            && match info.framing {
                BodyFraming::Empty => true,
                BodyFraming::Length(n) => {
                    (self.rbuf.len() as u64) >= n
                        && self.config.max_body_size.is_none_or(|max| n <= max)
                }
                BodyFraming::Chunked => false,
            };
        if !whole {
            return Ok(Some(Started::General(Box::new(RequestHead::new(
                req.into_parts().0,
                info,
            )))));
        }
        if let BodyFraming::Length(n) = info.framing {
            *req.body_mut() = self.arrived_body(n);
        }
        let meta = Meta {
            keep_alive: info.keep_alive && self.config.keep_alive,
            head_request: req.method() == Method::HEAD,
            version: req.version(),
        };
        self.add_extensions(req.extensions_mut());
        // Only a bodiless request may switch: a body would stand between
        // the head and the new protocol's bytes.
        if info.upgrade
            && info.framing == BodyFraming::Empty
            && upgrade::requested(req.version(), req.headers())
        {
            self.upgrade = Some(upgrade::offer(req.extensions_mut()));
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.svc.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => Ok(Some(Started::Called(self.svc.call(req), meta))),
            Poll::Pending => Ok(Some(Started::Waiting(Box::new(req), meta))),
        }
    }

    /// Flushes what is written, then waits for more of a head to arrive:
    /// `Ok` after a read that brought bytes. `started`: when the head's
    /// header-read time started; `None` while the connection is idle.
    async fn wait_for_head<D>(
        &mut self,
        started: Option<Instant>,
        mut draining: Pin<&mut Gated<D>>,
        mut timer: Pin<&mut Gated<rt::Sleep>>,
    ) -> Result<(), HeadEnd>
    where
        D: Future<Output = ()>,
    {
        if self.flush().await.is_err() {
            return Err(HeadEnd::Close);
        }
        // Read after the flush, which may have waited for a slow reader:
        // neither clock runs while the last response is still going out.
        let answered_at = self.answered_at();
        let (deadline, idle) = match started {
            Some(t) => (
                rt::deadline_after(t.max(answered_at), self.config.header_read_timeout),
                false,
            ),
            None => (
                rt::deadline_after(answered_at, self.config.idle_timeout),
                true,
            ),
        };
        // A draining shutdown closes the connection while no byte of a
        // request is here: between requests, and also before a first
        // request, which is on the header clock from accept (as hyper
        // closes a connection that has read nothing; see docs/http.md).
        let silent = self.rbuf.is_empty();
        if timer.get_ref().deadline() > deadline {
            timer.as_mut().get_pin_mut().reset(deadline);
        }
        let read = loop {
            // The read goes first: a wake-up with bytes to read then
            // costs no poll of the shutdown signal.
            tokio::select! {
                biased;
                r = std::future::poll_fn(|cx| poll_read_lent(&mut self.io, &mut self.rbuf, cx)) => {
                    break r;
                }
                () = draining.as_mut(), if silent => return Err(HeadEnd::Close),
                () = timer.as_mut() => {
                    if rt::now() >= deadline {
                        return Err(if idle { HeadEnd::Close } else { HeadEnd::Timeout });
                    }
                    // Armed for an earlier request's deadline: move on.
                    timer.as_mut().get_pin_mut().reset(deadline);
                }
            }
        };
        match read {
            Ok(0) | Err(_) => Err(HeadEnd::Close),
            Ok(_) => Ok(()),
        }
    }

    /// When the last response was written out (see the field): the clock
    /// is read only if that response's writing waited.
    fn answered_at(&mut self) -> Instant {
        *self.answered_at.get_or_insert_with(rt::now)
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

    /// Waits for the service to be ready (writing out earlier answers
    /// meanwhile, see `poll_answer`), then calls it.
    async fn call_when_ready(&mut self, req: Box<Request<Body>>) -> S::Future {
        let Ok(()) = std::future::poll_fn(|cx| self.poll_answer(cx, S::poll_ready)).await;
        self.svc.call(*req)
    }

    /// Adds the server's extensions to a request's.
    fn add_extensions(&self, extensions: &mut http::Extensions) {
        self.facts.fill(extensions, self.config.body_limit);
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
            ..
        } = head;
        let keep_alive = keep_alive && self.config.keep_alive;
        let head_request = parts.method == Method::HEAD;
        let version = parts.version;

        // Refused from the head: a client that did not wait for a 100
        // sends its body anyway.
        if expect_continue
            && let Some(hook) = &self.config.expect
            && let ExpectDecision::Reject(status) = hook(&parts)
        {
            self.linger = true;
            self.write_error(status).await?;
            return Ok(false);
        }
        if let (Some(max), BodyFraming::Length(n)) = (self.config.max_body_size, framing)
            && n > max
        {
            self.linger = true;
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
                let decoder = BodyDecoder::new(framing, self.config.head.max_head);
                let pump = Pump::new(tx, decoder, expect_continue);
                // The client may wait for earlier responses before sending
                // this body; do not hold them back.
                self.flush().await?;
                (Body::incoming(rx), Some(pump))
            }
        };
        let mut req = Request::from_parts(parts, body);
        self.add_extensions(req.extensions_mut());

        let ready = std::future::poll_fn(|cx| self.poll_answer(cx, S::poll_ready)).await;
        let Ok(()) = ready;
        let mut fut = std::pin::pin!(self.svc.call(req));

        let response = loop {
            let Some(p) = pump.as_mut().filter(|p| p.is_unread()) else {
                let Ok(r) =
                    std::future::poll_fn(|cx| self.poll_answer(cx, |_, cx| fut.as_mut().poll(cx)))
                        .await;
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

        let meta = Meta {
            keep_alive: keep_alive && !watcher.is_draining(),
            head_request,
            version,
        };
        let mut keep_alive = self.write_response(response, meta, &mut pump).await?;

        let mut body_state = BodyState::Done;
        if let Some(p) = pump.as_mut() {
            body_state = p.state;
            // RFC 9110 §10.1.1: without our 100 Continue the client may or
            // may not send the body; only closing is unambiguous, and the
            // body stays unread.
            if body_state == BodyState::Unread && !p.continue_pending {
                body_state = self.drain(p).await;
            }
        }
        keep_alive &= body_state == BodyState::Done;
        self.linger = body_state.may_be_sending();
        if self.must_flush(keep_alive) {
            self.flush().await?;
        }
        Ok(keep_alive)
    }
}

/// Reads into the read buffer, lent from the pool for the read: a
/// connection waiting for a request with nothing buffered holds no read
/// buffer, and the bytes of most requests land in a few buffers that stay
/// cached rather than in one per connection.
fn poll_read_lent<IO: AsyncRead + Unpin>(
    io: &mut IO,
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
    if rbuf.capacity() - rbuf.len() < READ_MIN_ROOM {
        rbuf.reserve(READ_RESERVE);
    }
    rbuf
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

    type D = Driver<Hello, wego_netpoll::Conn>;

    /// A read always has at least `READ_MIN_ROOM` free; the buffer is only
    /// grown or reclaimed when its room falls below that, not before every
    /// read.
    #[test]
    fn room_reserves_only_below_the_minimum() {
        let mut rbuf = BytesMut::new();
        room(&mut rbuf);
        assert!(rbuf.capacity() >= READ_MIN_ROOM, "lent with room");

        // A request split off the front: room shrinks but stays above the
        // minimum, and the buffer is left as it is.
        rbuf.extend_from_slice(&[b'x'; 100]);
        drop(rbuf.split_to(100));
        let before = (rbuf.as_ptr(), rbuf.capacity());
        room(&mut rbuf);
        assert_eq!((rbuf.as_ptr(), rbuf.capacity()), before);

        // Little room left: made room for a full read.
        let fill = rbuf.capacity() - READ_MIN_ROOM + 1;
        rbuf.extend_from_slice(&vec![b'y'; fill]);
        room(&mut rbuf);
        assert!(rbuf.capacity() - rbuf.len() >= READ_RESERVE);
        assert_eq!(rbuf.len(), fill, "buffered bytes kept");
        assert!(rbuf.iter().all(|&b| b == b'y'));
    }

    fn size3<A, B, C, F: Future>(_: impl FnOnce(A, B, C) -> F) -> usize {
        size_of::<F>()
    }

    /// The general path and the waiting part of a flush are boxed, so that
    /// the connection's future and the flush awaited on every request stay
    /// small (see `Driver::run`).
    #[test]
    fn per_request_futures_stay_small() {
        let run = size3(|d: &'static mut D, w: &'static Watcher, g: &'static Gates| d.run(w, g));
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
