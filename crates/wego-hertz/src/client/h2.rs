//! HTTP/2 through the `h2` crate: multiplexed connections per origin, each
//! request a stream.
//!
//! - **Choosing a connection.** An origin keeps a list of connections. A
//!   request takes the first one that is alive and has a free stream (fewer
//!   streams in flight than the server's `SETTINGS_MAX_CONCURRENT_STREAMS`),
//!   counting itself in at once so concurrent requests see it; when none
//!   has room, one more connection is opened. Opening is serialised per
//!   origin, so a burst of first requests opens one connection, not one
//!   each.
//! - **Liveness.** A connection is never handed out once its driver task
//!   has ended (the server closed it, the socket failed, an idle timeout)
//!   or the server sent GOAWAY (h2 then refuses new streams on it; the check
//!   runs before anything of the request is written). Such connections
//!   leave the list when met.
//! - **Refused streams.** A stream the server refused (`REFUSED_STREAM`,
//!   or above a GOAWAY's last stream id) was not processed (RFC 9113 §8.7),
//!   so a request whose body is in memory is sent once more on another
//!   connection, whatever its method.
//! - **Flow control.** A request body is sent by a task of its own, piece
//!   by piece as the stream's send window allows: a slow server slows the
//!   body's producer. The task stops, and resets the stream with
//!   `CANCEL`, once the caller has dropped both the request's future and
//!   the response body. A response body releases window only as the caller
//!   reads it, so a slow reader slows the server, and memory holds at most
//!   a window's worth.
//! - **Limits and timeouts** are the HTTP/1.1 side's: the response head
//!   size (`SETTINGS_MAX_HEADER_LIST_SIZE`) and header count, the body
//!   limit, the read-idle timeout and the whole-request deadline.
//! - **Request fields.** Connection-specific fields are dropped; `TE`
//!   goes as `te: trailers` when it lists `trailers` and is dropped
//!   otherwise (RFC 9113 §8.2.2).
//! - **Bodiless responses.** A response to `HEAD`, or a 204 or 304, has
//!   an empty body whatever its `content-length`, as on HTTP/1.1.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, Version};
use http_body::{Body as _, Frame, SizeHint};
use tokio::sync::oneshot;
use wego_netpoll::net::BoxIo;
use wego_netpoll::rt::{self, Sleep};

use super::h1::next_deadline;
use super::pool::Origin;
use crate::codec::{ResponseLimits, ResponseParseError, may_have_body};
use crate::{Body, BodyError, Error, Result};

/// Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2), and `Host`,
/// which `:authority` replaces.
const DROPPED_FIELDS: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// What the HTTP/2 side needs from the client's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) head: ResponseLimits,
    pub(crate) max_body: Option<u64>,
    pub(crate) read_idle: Option<Duration>,
}

/// One HTTP/2 connection: the handle that opens streams, how many are in
/// flight, and whether its driver task has ended.
#[derive(Clone)]
struct Conn {
    send: SendRequest<Bytes>,
    in_flight: Arc<AtomicUsize>,
    ended: Arc<AtomicBool>,
}

impl Conn {
    /// Whether the connection may carry a new stream: its driver runs and
    /// h2 has no connection error (a GOAWAY received sets one).
    fn is_alive(&mut self) -> bool {
        if self.ended.load(Ordering::Acquire) {
            return false;
        }
        // A clone carries no pending stream, so this answers at once:
        // `Ready(Err)` after GOAWAY or a connection error.
        let mut cx = Context::from_waker(Waker::noop());
        !matches!(self.send.poll_ready(&mut cx), Poll::Ready(Err(_)))
    }

    /// Counts one more stream in, if the server allows it.
    fn try_claim(&self) -> Option<Slot> {
        let max = self.send.current_max_send_streams().max(1);
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(&self.in_flight)))
    }
}

/// One stream counted in a connection's in-flight streams until dropped;
/// the request body's task and the response body share it.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Default)]
struct Entry {
    conns: Vec<Conn>,
    /// Held while a connection to the origin is being opened.
    opening: Arc<tokio::sync::Mutex<()>>,
}

/// The HTTP/2 connections of a client, per origin.
#[derive(Default)]
pub(crate) struct Connections {
    origins: Mutex<HashMap<Origin, Entry>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections").finish_non_exhaustive()
    }
}

impl Connections {
    /// Whether `origin` has a live HTTP/2 connection (so a request to it
    /// should go over HTTP/2 rather than open an HTTP/1.1 connection).
    pub(crate) fn has(&self, origin: &Origin) -> bool {
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        origins.get_mut(origin).is_some_and(|e| {
            e.conns.retain_mut(Conn::is_alive);
            !e.conns.is_empty()
        })
    }

    /// A live connection with a free stream, its stream counted in.
    fn claim(&self, origin: &Origin) -> Option<(Conn, Slot)> {
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = origins.get_mut(origin)?;
        entry.conns.retain_mut(Conn::is_alive);
        entry
            .conns
            .iter()
            .find_map(|c| c.try_claim().map(|slot| (c.clone(), slot)))
    }

    fn opening(&self, origin: &Origin) -> Arc<tokio::sync::Mutex<()>> {
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&origins.entry(origin.clone()).or_default().opening)
    }

    /// Runs the HTTP/2 handshake on `io` (plaintext with prior knowledge,
    /// or TLS that settled on `h2`) and adds the connection to `origin`'s.
    pub(crate) async fn add(&self, origin: &Origin, io: BoxIo, limits: &Limits) -> Result<()> {
        let mut builder = h2::client::Builder::new();
        builder
            .enable_push(false)
            .max_header_list_size(u32::try_from(limits.head.max_head).unwrap_or(u32::MAX));
        let (send, conn) = builder.handshake(io).await.map_err(Error::protocol)?;
        let ended = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ended);
        // Batched: the frames of requests sent from many tasks at once go
        // out in one write, not one write per request.
        rt::spawn(async move {
            if let Err(e) = rt::batched(conn).await {
                tracing::debug!(error = %e, "http/2 client connection ended");
            }
            flag.store(true, Ordering::Release);
        });
        let conn = Conn {
            send,
            in_flight: Arc::default(),
            ended,
        };
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        origins.entry(origin.clone()).or_default().conns.push(conn);
        Ok(())
    }

    /// A connection to `origin` with a free stream, opened through `open`
    /// when none has one.
    async fn checkout<F, Fut>(
        &self,
        origin: &Origin,
        limits: &Limits,
        open: F,
    ) -> Result<(Conn, Slot)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<BoxIo>>,
    {
        if let Some(found) = self.claim(origin) {
            return Ok(found);
        }
        let opening = self.opening(origin);
        let _one_at_a_time = opening.lock().await;
        // Another request may have opened one while this one waited.
        if let Some(found) = self.claim(origin) {
            return Ok(found);
        }
        let io = open().await?;
        self.add(origin, io, limits).await?;
        self.claim(origin)
            .ok_or_else(|| Error::closed(Some("the new http/2 connection closed at once".into())))
    }
}

/// How an attempt failed: refused streams may be sent again.
enum Failed {
    /// The server did not process the stream (RFC 9113 §8.7).
    Refused(Error),
    /// GOAWAY without error cut the stream off: not processed if it was
    /// above the last stream id, which h2 does not tell; idempotent
    /// requests only are sent again.
    GoneAway(Error),
    Other(Error),
}

impl Failed {
    fn into_error(self) -> Error {
        match self {
            Self::Refused(e) | Self::GoneAway(e) | Self::Other(e) => e,
        }
    }

    fn from_h2(e: h2::Error) -> Self {
        if e.reason() == Some(h2::Reason::REFUSED_STREAM) {
            Self::Refused(Error::closed(Some(e.into())))
        } else if e.is_go_away() && e.is_remote() && e.reason() == Some(h2::Reason::NO_ERROR) {
            Self::GoneAway(Error::closed(Some(e.into())))
        } else {
            Self::Other(Error::closed(Some(e.into())))
        }
    }
}

/// Sends `req` as a stream on one of `origin`'s connections, opening one
/// through `open` when none has a free stream.
pub(crate) async fn send<F, Fut>(
    conns: &Connections,
    origin: &Origin,
    req: Request<Body>,
    limits: &Limits,
    deadline: Option<Instant>,
    open: F,
) -> Result<Response<Body>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<BoxIo>>,
{
    let (parts, body) = req.into_parts();
    let mut head = Request::new(());
    *head.method_mut() = parts.method;
    *head.uri_mut() = parts.uri;
    *head.version_mut() = Version::HTTP_2;
    *head.headers_mut() = parts.headers;
    for name in DROPPED_FIELDS {
        head.headers_mut().remove(name);
    }
    // RFC 9113 §8.2.2: TE may only say `trailers`. A TE that lists it
    // goes as exactly that; any other is dropped, as hyper drops it.
    if head.headers().contains_key(header::TE) {
        let trailers = crate::upgrade::has_token(head.headers(), header::TE, "trailers");
        head.headers_mut().remove(header::TE);
        if trailers {
            head.headers_mut()
                .insert(header::TE, HeaderValue::from_static("trailers"));
        }
    }
    // A body in memory can be sent again if the stream is refused.
    let (body, replay) = match body.in_memory() {
        Some(_) => {
            let data = body
                .collect_limited(usize::MAX)
                .await
                .map_err(Error::body)?;
            (Body::from(data.clone()), Some(data))
        }
        None => (body, None),
    };
    let idempotent = super::is_idempotent(head.method());
    let again = clone_head(&head);
    match send_once(conns, origin, head, body, limits, deadline, &open).await {
        Ok(resp) => Ok(resp),
        Err(Failed::Refused(e)) | Err(Failed::GoneAway(e)) if replay.is_none() => Err(e),
        Err(Failed::GoneAway(e)) if !idempotent => Err(e),
        Err(Failed::Refused(e)) | Err(Failed::GoneAway(e)) => {
            tracing::debug!(error = %e, "http/2 stream refused; sending it again");
            let body = replay.map_or_else(Body::empty, Body::from);
            send_once(conns, origin, again, body, limits, deadline, &open)
                .await
                .map_err(Failed::into_error)
        }
        Err(other) => Err(other.into_error()),
    }
}

fn clone_head(head: &Request<()>) -> Request<()> {
    let mut again = Request::new(());
    *again.method_mut() = head.method().clone();
    *again.uri_mut() = head.uri().clone();
    *again.version_mut() = head.version();
    *again.headers_mut() = head.headers().clone();
    again
}

async fn send_once<F, Fut>(
    conns: &Connections,
    origin: &Origin,
    head: Request<()>,
    body: Body,
    limits: &Limits,
    deadline: Option<Instant>,
    open: &F,
) -> Result<Response<Body>, Failed>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<BoxIo>>,
{
    // A connection that died between the liveness check and here fails
    // `ready()` before anything was sent: take another one.
    let mut tries = 0;
    let (mut send, slot) = loop {
        let (conn, slot) = conns
            .checkout(origin, limits, open)
            .await
            .map_err(Failed::Other)?;
        match conn.send.ready().await {
            Ok(send) => break (send, slot),
            Err(e) if tries == 0 => {
                tracing::debug!(error = %e, "http/2 connection gone before the request; taking another");
                tries += 1;
            }
            Err(e) => return Err(Failed::Other(Error::closed(Some(e.into())))),
        }
    };
    let end = body.is_end_stream();
    let head_request = head.method() == Method::HEAD;
    let (response, stream) = send.send_request(head, end).map_err(|e| {
        // An error with no reason that is not IO is h2's refusal of the
        // request itself (a malformed head): the caller's to fix.
        if e.reason().is_none() && !e.is_io() {
            Failed::Other(Error::request_caused("http/2 refused the request head", e))
        } else {
            Failed::from_h2(e)
        }
    })?;
    let slot = Arc::new(slot);
    // Held by this future, then by the response body: once both are gone
    // the caller has given up, and the upload stops.
    let (exchange, dropped) = oneshot::channel::<()>();
    if !end {
        rt::spawn(send_body(
            stream,
            body,
            Arc::clone(&slot),
            deadline,
            dropped,
        ));
    }
    let wait = async { response.await.map_err(Failed::from_h2) };
    let resp = match next_deadline(limits.read_idle, deadline) {
        Some(at) => rt::timeout_at(at, wait)
            .await
            .unwrap_or_else(|_| Err(Failed::Other(Error::timeout())))?,
        None => wait.await?,
    };
    let (parts, recv) = resp.into_parts();
    if parts.headers.len() > limits.head.max_headers {
        return Err(Failed::Other(Error::protocol(
            ResponseParseError::TooManyHeaders {
                limit: limits.head.max_headers,
            },
        )));
    }
    if !may_have_body(parts.status, head_request) {
        // No content whatever `content-length` says (RFC 9110 §6.4.1,
        // §9.3.2), as on HTTP/1.1: the length is that of the body a GET
        // would have had.
        return Ok(Response::from_parts(parts, Body::empty()));
    }
    let declared = content_length(&parts.headers);
    let timer = next_deadline(limits.read_idle, deadline).map(|at| Box::pin(rt::sleep_until(at)));
    let body = RecvBody {
        recv,
        trailers_next: false,
        done: false,
        declared,
        read: 0,
        max: limits.max_body,
        timer,
        read_idle: limits.read_idle,
        deadline,
        _slot: slot,
        _exchange: exchange,
    };
    Ok(Response::from_parts(parts, Body::new(body)))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Sends a request body within the stream's window, until the body ends,
/// fails (the stream is reset so the server sees it end early), the server
/// resets the stream, the whole-request deadline passes, or the caller
/// drops the request and its response (`dropped` resolves): the last
/// three reset the stream with `CANCEL`.
async fn send_body(
    mut stream: h2::SendStream<Bytes>,
    mut body: Body,
    _slot: Arc<Slot>,
    deadline: Option<Instant>,
    dropped: oneshot::Receiver<()>,
) {
    let pumped = async {
        match deadline {
            Some(at) => rt::timeout_at(at, pump(&mut stream, &mut body)).await.ok(),
            None => Some(pump(&mut stream, &mut body).await),
        }
    };
    let sent = tokio::select! {
        sent = pumped => sent,
        _ = dropped => None,
    };
    match sent {
        Some(Ok(())) => {}
        Some(Err(Stop::Reset)) => {}
        Some(Err(Stop::Body(e))) => {
            tracing::debug!(error = %e, "http/2 request body failed; resetting the stream");
            stream.send_reset(h2::Reason::CANCEL);
        }
        None => stream.send_reset(h2::Reason::CANCEL),
    }
}

enum Stop {
    /// The stream is gone (reset by the server, or the connection failed).
    Reset,
    Body(BodyError),
}

async fn pump(stream: &mut h2::SendStream<Bytes>, body: &mut Body) -> Result<(), Stop> {
    loop {
        let frame = std::future::poll_fn(|cx| {
            if stream.poll_reset(cx).is_ready() {
                return Poll::Ready(Err(Stop::Reset));
            }
            Pin::new(&mut *body).poll_frame(cx).map(Ok)
        })
        .await?;
        let frame = match frame {
            None => {
                return stream
                    .send_data(Bytes::new(), true)
                    .map_err(|_| Stop::Reset);
            }
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(Stop::Body(e)),
        };
        let mut data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    return stream.send_trailers(trailers).map_err(|_| Stop::Reset);
                }
                continue;
            }
        };
        while !data.is_empty() {
            stream.reserve_capacity(data.len());
            match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
                Some(Ok(0)) => {}
                Some(Ok(n)) => {
                    let piece = data.split_to(n.min(data.len()));
                    stream.send_data(piece, false).map_err(|_| Stop::Reset)?;
                }
                None | Some(Err(_)) => return Err(Stop::Reset),
            }
        }
    }
}

/// A response body read from an h2 stream; window is released as the
/// caller takes each piece.
struct RecvBody {
    recv: h2::RecvStream,
    trailers_next: bool,
    done: bool,
    declared: Option<u64>,
    read: u64,
    max: Option<u64>,
    timer: Option<Pin<Box<Sleep>>>,
    read_idle: Option<Duration>,
    deadline: Option<Instant>,
    /// The stream counts as in flight on its connection until the body is
    /// dropped.
    _slot: Arc<Slot>,
    /// Dropped with the body: a request body still being sent stops then.
    _exchange: oneshot::Sender<()>,
}

type Polled = Poll<Option<std::result::Result<Frame<Bytes>, BodyError>>>;

impl RecvBody {
    fn fail(&mut self, e: BodyError) -> Polled {
        self.done = true;
        Poll::Ready(Some(Err(e)))
    }

    fn too_large(&mut self) -> Polled {
        let max = self.max.unwrap_or(0);
        self.fail(BodyError::too_large(
            usize::try_from(max).unwrap_or(usize::MAX),
        ))
    }

    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        self.timer
            .as_mut()
            .is_some_and(|t| t.as_mut().poll(cx).is_ready())
    }
}

impl http_body::Body for RecvBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let (Some(max), Some(declared)) = (this.max, this.declared)
            && declared > max
        {
            return this.too_large();
        }
        if !this.trailers_next {
            match this.recv.poll_data(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    this.read = this.read.saturating_add(data.len() as u64);
                    if this.max.is_some_and(|m| this.read > m) {
                        return this.too_large();
                    }
                    if let (Some(timer), Some(at)) = (
                        this.timer.as_mut(),
                        next_deadline(this.read_idle, this.deadline),
                    ) {
                        timer.as_mut().reset(at);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Some(Err(e))) => {
                    return this.fail(BodyError::io(std::io::Error::other(e)));
                }
                Poll::Ready(None) => this.trailers_next = true,
                Poll::Pending => {
                    if this.timed_out(cx) {
                        return this.fail(BodyError::timeout());
                    }
                    return Poll::Pending;
                }
            }
        }
        match this.recv.poll_trailers(cx) {
            Poll::Ready(Ok(Some(trailers))) => {
                this.done = true;
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
            Poll::Ready(Ok(None)) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) => this.fail(BodyError::io(std::io::Error::other(e))),
            Poll::Pending => {
                if this.timed_out(cx) {
                    return this.fail(BodyError::timeout());
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.recv.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(n) if self.read == 0 && !self.done => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}
