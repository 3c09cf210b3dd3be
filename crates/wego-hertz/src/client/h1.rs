//! One HTTP/1.1 exchange on one connection: the driver between the sans-IO
//! codec ([`encode_request_head`], [`parse_response_head`], [`BodyDecoder`])
//! and the IO.
//!
//! The request head, and a small in-memory body, are written before the
//! response is read. A larger or streaming body is written by a task of its
//! own on the write half of the connection while the response is read from
//! the read half, so a server that answers while still reading (an echo, an
//! early 413) never deadlocks against the client. The response body is read
//! only as the caller polls it (backpressure), and when it ends cleanly on a
//! reusable connection the two halves are joined and go back to the pool.
//! Dropping the response body early closes the connection. A `101
//! Switching Protocols` response hands the connection to the caller
//! instead (`super::upgrade`).

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::CONNECTION;
use http::{HeaderMap, Method, Response, Uri};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;
use wego_netpoll::net::BoxIo;
use wego_netpoll::rt::{self, Sleep};

use super::pool::{Origin, Pool};
use super::upgrade::{Slot, Upgraded};
use crate::codec::{
    BodyDecoder, ChunkedDecoder, Decoded, RequestFraming, ResponseBodyFraming, ResponseLimits,
    encode_last_chunk, encode_request_head, parse_response_head,
};
use crate::{Body, BodyError, Error};

/// Bodies up to this size that are already in memory are written with the
/// head, before the response is read; larger ones go through the writer
/// task like streams.
const INLINE_BODY: usize = 64 * 1024;

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;

/// What an exchange needs from the client's configuration.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) limits: ResponseLimits,
    pub(crate) max_body: Option<u64>,
    pub(crate) max_trailers: usize,
    pub(crate) read_idle: Option<Duration>,
}

/// Where a finished connection goes back to.
#[derive(Debug, Clone)]
pub(crate) struct Return {
    pub(crate) pool: Pool,
    pub(crate) origin: Origin,
}

/// What a request is, apart from its body.
#[derive(Debug)]
pub(crate) struct Head<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
}

/// Why an exchange failed, and whether it failed before the server could
/// have acted on it: nothing of a response arrived and the connection broke
/// (closed, reset), so an idempotent request may be sent again.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: Error,
    pub(crate) untouched: bool,
}

impl Failed {
    fn fatal(error: Error) -> Self {
        Self {
            error,
            untouched: false,
        }
    }
}

/// The writer task's outcome: the write half back, or why it stopped.
enum Written {
    Done(WriteHalf<BoxIo>),
    /// The request body failed; the exchange is over.
    BodyFailed(BodyError),
    /// The connection failed; the server may still have answered.
    Io,
}

/// The request body's writer, while the response is read.
enum Writer {
    Done(WriteHalf<BoxIo>),
    Running {
        rx: oneshot::Receiver<Written>,
        /// Dropping this stops the task.
        _stop: oneshot::Sender<()>,
    },
    Gone,
}

impl Writer {
    /// The write half, if the body has been written completely.
    fn try_finish(&mut self) -> Option<WriteHalf<BoxIo>> {
        if let Self::Running { rx, .. } = self {
            match rx.try_recv() {
                Ok(Written::Done(wr)) => *self = Self::Done(wr),
                Ok(_) | Err(oneshot::error::TryRecvError::Closed) => *self = Self::Gone,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
        match std::mem::replace(self, Self::Gone) {
            Self::Done(wr) => Some(wr),
            other => {
                *self = other;
                None
            }
        }
    }
}

/// Sends one request on `io` and reads the response head.
///
/// `deadline` bounds the whole exchange, response body included.
pub(crate) async fn send(
    io: BoxIo,
    head: Head<'_>,
    body: Body,
    settings: &Settings,
    deadline: Option<Instant>,
    back: Return,
) -> Result<Response<Body>, Failed> {
    let mut io = io;
    let head_request = head.method == Method::HEAD;
    let mut out = BytesMut::new();
    let framing = encode_request_head(
        head.method,
        head.uri,
        head.headers,
        body.size_hint().exact(),
        &mut out,
    );
    let close_asked = asks_close(head.headers);
    let inline = match body.in_memory() {
        Some(data) if data.len() <= INLINE_BODY => {
            out.extend_from_slice(data);
            true
        }
        _ => framing == RequestFraming::Empty,
    };
    let timer = Timer::new(settings.read_idle, deadline);
    // A write that fails here happened before any response byte: the
    // connection was dead, and the request may be replayed.
    let wrote = timer
        .run(async {
            io.write_all(&out).await?;
            io.flush().await
        })
        .await;
    match wrote {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            return Err(Failed {
                error: Error::closed(Some(e.into())),
                untouched: true,
            });
        }
        None => return Err(Failed::fatal(Error::timeout())),
    }
    let (mut rd, wr) = tokio::io::split(io);
    let mut writer = if inline {
        Writer::Done(wr)
    } else {
        let (tx, rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        rt::spawn(async move {
            tokio::select! {
                _ = stop_rx => {}
                written = write_body(wr, body, framing) => {
                    let _ = tx.send(written);
                }
            }
        });
        Writer::Running { rx, _stop: stop_tx }
    };

    let mut rbuf = BytesMut::new();
    let mut received = false;
    let head = loop {
        match parse_response_head(&mut rbuf, &settings.limits, head_request) {
            // RFC 9110 §15.2: interim responses are skipped; 101 ends the
            // exchange and is handed over as it is.
            Ok(Some(h))
                if h.parts.status.is_informational()
                    && h.parts.status != http::StatusCode::SWITCHING_PROTOCOLS =>
            {
                continue;
            }
            Ok(Some(h)) => break h,
            Ok(None) => {}
            Err(e) => return Err(Failed::fatal(Error::protocol(e))),
        }
        let read = read_or_body_failure(&mut rd, &mut rbuf, &mut writer, &timer).await;
        match read {
            ReadOutcome::Data => received = true,
            ReadOutcome::Eof => {
                return Err(Failed {
                    error: Error::closed(None),
                    untouched: !received,
                });
            }
            ReadOutcome::Io(e) => {
                return Err(Failed {
                    error: Error::closed(Some(e.into())),
                    untouched: !received,
                });
            }
            ReadOutcome::TimedOut => return Err(Failed::fatal(Error::timeout())),
            ReadOutcome::BodyFailed(e) => return Err(Failed::fatal(Error::body(e))),
        }
    };

    if head.parts.status == http::StatusCode::SWITCHING_PROTOCOLS {
        // RFC 9110 §15.2.2: the connection now speaks the protocol the
        // server switched to; what follows the head belongs to it.
        let pending = Pending { rd, writer, rbuf };
        let mut resp = Response::from_parts(head.parts, Body::empty());
        resp.extensions_mut().insert(Slot::new(pending));
        return Ok(resp);
    }
    let reusable = head.keep_alive && !close_asked;
    let decoder = match head.framing {
        ResponseBodyFraming::Empty => None,
        ResponseBodyFraming::Length(n) => Some(Some(BodyDecoder::Length(n))),
        ResponseBodyFraming::Chunked => Some(Some(BodyDecoder::Chunked(ChunkedDecoder::new(
            settings.max_trailers,
        )))),
        _ => Some(None),
    };
    let conn = Conn {
        rd,
        writer,
        rbuf,
        back: reusable.then_some(back),
    };
    let body = match decoder {
        None => {
            conn.finish();
            Body::empty()
        }
        Some(decoder) => {
            let declared = match &decoder {
                Some(BodyDecoder::Length(n)) => Some(*n),
                _ => None,
            };
            Body::new(ResponseBody {
                conn: Some(conn),
                decoder,
                declared,
                received: 0,
                max: settings.max_body,
                timer: timer.sleep(),
                read_idle: settings.read_idle,
                deadline,
            })
        }
    };
    Ok(Response::from_parts(head.parts, body))
}

fn asks_close(headers: &HeaderMap) -> bool {
    headers.get_all(CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    })
}

/// Writes a request body that is streamed or too large to go inline.
async fn write_body(mut wr: WriteHalf<BoxIo>, mut body: Body, framing: RequestFraming) -> Written {
    let mut left = match framing {
        RequestFraming::Length(n) => Some(n),
        _ => None,
    };
    let chunked = framing == RequestFraming::Chunked;
    let mut trailers = None;
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Written::BodyFailed(e),
        };
        let frame = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                trailers = frame.into_trailers().ok();
                continue;
            }
        };
        if frame.is_empty() {
            continue;
        }
        if let Some(left) = left.as_mut() {
            // The body said how long it is; a longer one would be read by
            // the server as the start of another request.
            match left.checked_sub(frame.len() as u64) {
                Some(rest) => *left = rest,
                None => {
                    return Written::BodyFailed(BodyError::malformed(
                        "request body longer than its size hint",
                    ));
                }
            }
        }
        let ok = if chunked {
            let mut size = BytesMut::new();
            crate::codec::encode_chunk_size(frame.len(), &mut size);
            wr.write_all(&size).await.is_ok()
                && wr.write_all(&frame).await.is_ok()
                && wr.write_all(b"\r\n").await.is_ok()
        } else {
            wr.write_all(&frame).await.is_ok()
        };
        if !ok {
            return Written::Io;
        }
    }
    if left.is_some_and(|n| n > 0) {
        return Written::BodyFailed(BodyError::incomplete());
    }
    if chunked {
        let mut last = BytesMut::new();
        encode_last_chunk(trailers.as_ref(), &mut last);
        if wr.write_all(&last).await.is_err() {
            return Written::Io;
        }
    }
    match wr.flush().await {
        Ok(()) => Written::Done(wr),
        Err(_) => Written::Io,
    }
}

enum ReadOutcome {
    Data,
    Eof,
    Io(std::io::Error),
    TimedOut,
    BodyFailed(BodyError),
}

/// Reads more of the response head, watching the writer: a failed request
/// body ends the exchange at once, while a failed write is only noted (the
/// server may have answered before closing).
async fn read_or_body_failure(
    rd: &mut ReadHalf<BoxIo>,
    rbuf: &mut BytesMut,
    writer: &mut Writer,
    timer: &Timer,
) -> ReadOutcome {
    rbuf.reserve(READ_CHUNK);
    let read = async {
        loop {
            let running = match writer {
                Writer::Running { rx, .. } => Some(rx),
                _ => None,
            };
            match running {
                Some(rx) => {
                    tokio::select! {
                        r = rd.read_buf(rbuf) => return Ok(r),
                        w = rx => match w {
                            Ok(Written::Done(wr)) => *writer = Writer::Done(wr),
                            Ok(Written::BodyFailed(e)) => return Err(e),
                            Ok(Written::Io) | Err(_) => *writer = Writer::Gone,
                        },
                    }
                }
                None => return Ok(rd.read_buf(rbuf).await),
            }
        }
    };
    match timer.run(read).await {
        None => ReadOutcome::TimedOut,
        Some(Err(e)) => ReadOutcome::BodyFailed(e),
        Some(Ok(Ok(0))) => ReadOutcome::Eof,
        Some(Ok(Ok(_))) => ReadOutcome::Data,
        Some(Ok(Err(e))) => ReadOutcome::Io(e),
    }
}

/// The read-idle timeout and the whole-request deadline as one wait bound.
struct Timer {
    read_idle: Option<Duration>,
    deadline: Option<Instant>,
}

impl Timer {
    fn new(read_idle: Option<Duration>, deadline: Option<Instant>) -> Self {
        Self {
            read_idle,
            deadline,
        }
    }

    fn next(&self) -> Option<Instant> {
        next_deadline(self.read_idle, self.deadline)
    }

    /// Runs `fut` within the bound; `None` when it passed first.
    async fn run<F: Future>(&self, fut: F) -> Option<F::Output> {
        match self.next() {
            Some(at) => rt::timeout_at(at, fut).await.ok(),
            None => Some(fut.await),
        }
    }

    fn sleep(&self) -> Option<Pin<Box<Sleep>>> {
        self.next().map(|at| Box::pin(rt::sleep_until(at)))
    }
}

pub(crate) fn next_deadline(
    read_idle: Option<Duration>,
    deadline: Option<Instant>,
) -> Option<Instant> {
    let idle = read_idle.map(rt::deadline_in);
    match (idle, deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The connection of a 101 response until the caller takes it: the read
/// half, the request body's writer (usually done) and what was read past
/// the head.
pub(crate) struct Pending {
    rd: ReadHalf<BoxIo>,
    writer: Writer,
    rbuf: BytesMut,
}

impl Pending {
    /// Waits for the request body to be written, then joins the halves.
    pub(crate) async fn finish(self) -> Result<Upgraded, Error> {
        let Self { rd, writer, rbuf } = self;
        let wr = match writer {
            Writer::Done(wr) => wr,
            // `_stop` lives until the writer has answered.
            Writer::Running { rx, _stop } => match rx.await {
                Ok(Written::Done(wr)) => wr,
                Ok(Written::BodyFailed(e)) => return Err(Error::body(e)),
                Ok(Written::Io) | Err(_) => return Err(Error::closed(None)),
            },
            Writer::Gone => return Err(Error::closed(None)),
        };
        Ok(Upgraded::new(rd.unsplit(wr), rbuf.freeze()))
    }
}

/// The connection while a response body is read.
struct Conn {
    rd: ReadHalf<BoxIo>,
    writer: Writer,
    rbuf: BytesMut,
    /// Where the connection goes when the body ends, if it may be reused.
    back: Option<Return>,
}

impl Conn {
    /// The response is complete: pool the connection when the response
    /// allows it, the request body was written completely and nothing
    /// unread follows; otherwise close it.
    fn finish(mut self) {
        let Some(back) = self.back.take() else {
            return;
        };
        if !self.rbuf.is_empty() {
            return;
        }
        if let Some(wr) = self.writer.try_finish() {
            back.pool.put(&back.origin, self.rd.unsplit(wr));
        }
    }
}

/// A response body streamed from the connection as it is polled.
struct ResponseBody {
    /// `None` once the body has ended or failed.
    conn: Option<Conn>,
    /// `None`: the body runs until the server closes.
    decoder: Option<BodyDecoder>,
    declared: Option<u64>,
    received: u64,
    max: Option<u64>,
    timer: Option<Pin<Box<Sleep>>>,
    read_idle: Option<Duration>,
    deadline: Option<Instant>,
}

impl ResponseBody {
    fn fail(&mut self, e: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.conn = None;
        Poll::Ready(Some(Err(e)))
    }

    fn end(&mut self) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(conn) = self.conn.take() {
            conn.finish();
        }
        Poll::Ready(None)
    }

    fn data(&mut self, data: Bytes) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.received = self.received.saturating_add(data.len() as u64);
        if let Some(max) = self.max.filter(|&m| self.received > m) {
            return self.fail(BodyError::too_large(
                usize::try_from(max).unwrap_or(usize::MAX),
            ));
        }
        if let (Some(timer), Some(at)) = (
            self.timer.as_mut(),
            next_deadline(self.read_idle, self.deadline),
        ) {
            timer.as_mut().reset(at);
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if let (Some(max), Some(declared)) = (this.max, this.declared)
            && declared > max
            && this.conn.is_some()
        {
            return this.fail(BodyError::too_large(
                usize::try_from(max).unwrap_or(usize::MAX),
            ));
        }
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.decoder.as_mut() {
                Some(decoder) => match decoder.decode(&mut conn.rbuf) {
                    Ok(Some(Decoded::Data(data))) if data.is_empty() => continue,
                    Ok(Some(Decoded::Data(data))) => return this.data(data),
                    Ok(Some(Decoded::Trailers(trailers))) => {
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Ok(Some(Decoded::End)) => return this.end(),
                    Ok(None) => {}
                    Err(e) => return this.fail(BodyError::malformed(e)),
                },
                None if !conn.rbuf.is_empty() => {
                    let data = conn.rbuf.split().freeze();
                    return this.data(data);
                }
                None => {}
            }
            conn.rbuf.reserve(READ_CHUNK);
            let read = std::pin::pin!(conn.rd.read_buf(&mut conn.rbuf)).poll(cx);
            match read {
                Poll::Ready(Ok(0)) if this.decoder.is_none() => return this.end(),
                Poll::Ready(Ok(0)) => return this.fail(BodyError::incomplete()),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return this.fail(BodyError::io(e)),
                Poll::Pending => {
                    if let Some(timer) = this.timer.as_mut() {
                        ready!(timer.as_mut().poll(cx));
                        return this.fail(BodyError::timeout());
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.decoder, self.conn.is_some()) {
            (_, false) => SizeHint::with_exact(0),
            (Some(BodyDecoder::Length(n)), true) => SizeHint::with_exact(*n),
            _ => SizeHint::default(),
        }
    }
}
