//! The per-connection driver: sniff, read frames, dispatch, write replies.
//!
//! One task per connection reads frames and drives the calls in flight
//! (a `FuturesUnordered`, bounded by `max_in_flight`; at the limit it stops
//! reading), writing each reply as it finishes, so replies to concurrent
//! TTHeader, THeader and Framed requests may go out in any order. Buffered
//! requests are served one at a time because nothing but order pairs their
//! replies with calls.
//!
//! A payload in no protocol the server speaks never leaves its peer
//! waiting: a TJSONProtocol call is answered with a TJSON
//! `TApplicationException` (`INVALID_PROTOCOL`) in the request's framing
//! (and, unframed, the connection then closes, since its end is unknown);
//! anything without an envelope to answer closes the connection at once,
//! logged and counted in [`ServerStats`](super::ServerStats).
//!
//! Two read timeouts bound a connection. The idle `read_timeout` restarts
//! at every read: it closes a silent connection. The `frame_read_timeout`
//! starts at a frame's first byte (for the first frame, the connection's
//! first byte, so the protocol sniff is covered) and closes the connection
//! when the frame has not arrived whole by then, however steadily its bytes
//! trickle in; without it a client sending a byte a second could hold a
//! connection for the length of a 16 MiB frame.
//!
//! A connection waiting for its next frame holds no buffer: the read buffer
//! is lent from a per-thread pool (`wego_netpoll::buffer::pool`) for a read and given back
//! when a read would block with nothing left to decode, and replies are
//! gathered in a lent buffer only until the socket has taken them. An idle
//! connection costs its task, socket and counters, not 8 KiB of buffer.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tower_service::Service;
use wego_netpoll::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, split};
use wego_netpoll::net::{BoxIo, Io};
use wego_netpoll::{Watcher, rt};

use super::{
    Config, ConnHandler, PayloadHandler, ServerStats, ThriftReply, ThriftRequest, ThriftRouter,
};
use crate::metainfo::{self, CallContext, MetaInfo, RpcInfo, keys};
use crate::thrift::{
    self, ApplicationException, ExceptionKind, MessageCodec, MessageHeader, MessageType, Protocol,
    json,
};
use crate::transport::{
    DetectFraming, Detection, Frame, FrameCodec, FrameError, Match, Prefixed, SNIFF_LIMIT, detect,
};
use crate::ttheader::{Header, PROTOCOL_BINARY, PROTOCOL_COMPACT, PROTOCOL_KITEX_PROTOBUF};
use wego_netpoll::buffer::pool;

/// Most bytes read while looking for an unframed TJSON envelope.
const JSON_ENVELOPE_LIMIT: usize = 64 * 1024 + 64;
/// Room the read buffer has before each read.
const READ_RESERVE: usize = 4 * 1024;

pub(super) struct Shared {
    pub(super) router: ThriftRouter,
    pub(super) config: Config,
    pub(super) http2: Option<Arc<dyn ConnHandler>>,
    pub(super) payload: Option<Arc<dyn PayloadHandler>>,
    /// Framings beyond the built-in ones, asked first, in order.
    pub(super) framings: Vec<Arc<dyn DetectFraming>>,
    pub(super) stats: ServerStats,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("router", &self.router)
            .field("config", &self.config)
            .field("framings", &self.framings)
            .finish()
    }
}

/// The peer's address as `RpcInfo` and the logs show it, when the IO knows it.
type Peer = Option<Arc<str>>;

/// How a log line names a peer.
fn label(peer: &Peer) -> &str {
    peer.as_deref().unwrap_or("unknown")
}

pub(super) async fn serve_conn<IO: Io>(shared: Arc<Shared>, mut conn: IO, watcher: Watcher) {
    let cfg = &shared.config;
    let peer: Peer = conn.peer_addr().map(|a| a.to_string().into());
    let mut buf = BytesMut::new();
    // The first frame's clock starts at the connection's first byte: a
    // sniff trickled a byte at a time is bounded like any frame.
    let mut frame_deadline = None;
    let detection = loop {
        match sniff(&shared.framings, &buf) {
            Sniffed::Custom(codec) => {
                let codec: Arc<dyn FrameCodec> = codec;
                return drive(
                    shared,
                    conn,
                    peer,
                    buf,
                    frame_deadline,
                    codec,
                    Protocol::Binary,
                    false,
                    watcher,
                )
                .await;
            }
            Sniffed::Builtin(Detection::NeedMore) => {}
            Sniffed::Builtin(d) => break d,
        }
        let wait = read_deadline(cfg, frame_deadline);
        match rt::timeout_at(wait, read_lent(&mut conn, &mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                frame_deadline.get_or_insert_with(|| rt::now() + cfg.frame_read_timeout);
            }
            Ok(_) => return,
            Err(_) => {
                return frame_timed_out(&shared, label(&peer), frame_deadline);
            }
        }
    };
    match detection {
        Detection::Http2 => match &shared.http2 {
            Some(h) => {
                let io: BoxIo = Box::new(conn);
                h.serve(Prefixed::new(buf.freeze(), io), watcher).await
            }
            None => {
                tracing::info!(
                    peer = label(&peer),
                    "HTTP/2 connection but no HTTP/2 handler, closing"
                )
            }
        },
        Detection::Thrift(framing, proto) => {
            // Buffered replies are paired with calls by order only.
            let ordered = framing == crate::transport::Framing::Buffered;
            drive(
                shared,
                conn,
                peer,
                buf,
                frame_deadline,
                framing.codec(proto),
                proto,
                ordered,
                watcher,
            )
            .await
        }
        _ if json::starts_like(&buf) => {
            unframed_json(&shared, conn, &peer, buf, frame_deadline).await
        }
        _ => unknown_payload(&shared, label(&peer), None, buf.len(), None),
    }
}

/// What the first bytes say: a configured framing, or the built-in detection.
enum Sniffed {
    Custom(Arc<dyn DetectFraming>),
    Builtin(Detection),
}

/// Asks the configured framings, then the built-in detection. A
/// configured framing may ask for more only up to [`SNIFF_LIMIT`] bytes.
fn sniff(framings: &[Arc<dyn DetectFraming>], buf: &[u8]) -> Sniffed {
    let mut undecided = false;
    for f in framings {
        match f.detect(buf) {
            Match::Yes => return Sniffed::Custom(f.clone()),
            Match::NeedMore => undecided = true,
            _ => {}
        }
    }
    if undecided && buf.len() < SNIFF_LIMIT {
        return Sniffed::Builtin(Detection::NeedMore);
    }
    Sniffed::Builtin(detect(buf))
}

/// Reads into `buf`, lent from the pool for the read: a connection waiting
/// for bytes with nothing buffered holds no read buffer.
///
/// # Cancel safety
///
/// Cancel safe, like `read_buf`: a dropped read has read nothing.
fn read_lent<'a, R: AsyncRead + Unpin>(
    io: &'a mut R,
    buf: &'a mut BytesMut,
) -> impl Future<Output = io::Result<usize>> + 'a {
    std::future::poll_fn(move |cx| poll_read_lent(io, buf, cx))
}

fn poll_read_lent<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if buf.capacity() == 0 {
        *buf = pool::lend();
    }
    buf.reserve(READ_RESERVE);
    let read = std::pin::pin!(io.read_buf(buf)).poll(cx);
    if read.is_pending() && buf.is_empty() {
        pool::give_back(std::mem::take(buf));
    }
    read
}

/// When the next read must have returned: the idle timeout from now, or
/// the frame's deadline when a frame has begun and that comes first.
fn read_deadline(cfg: &Config, frame_deadline: Option<Instant>) -> Instant {
    let idle = rt::now() + cfg.read_timeout;
    frame_deadline.map_or(idle, |d| d.min(idle))
}

/// Logs and counts a connection closed because its frame missed the frame
/// read timeout (nothing is counted when the idle timeout struck first).
fn frame_timed_out(shared: &Shared, peer: &str, frame_deadline: Option<Instant>) {
    if frame_deadline.is_some_and(|d| d <= rt::now()) {
        shared.stats.count_frame_read_timeout();
        tracing::debug!(
            peer,
            timeout = ?shared.config.frame_read_timeout,
            "frame not received whole within the frame read timeout, closing"
        );
    }
}

/// Logs and counts a connection closed for a payload in no known protocol.
/// The log names the peer, framing and sizes, never payload bytes.
fn unknown_payload(
    shared: &Shared,
    peer: &str,
    framing: Option<&dyn FrameCodec>,
    len: usize,
    protocol_id: Option<u8>,
) {
    shared.stats.count_unknown_payload();
    tracing::info!(
        peer,
        ?framing,
        protocol_id,
        len,
        "payload in no protocol this server knows, closing"
    );
}

/// The exception a TJSONProtocol call gets.
fn unsupported_protocol() -> ApplicationException {
    ApplicationException::new(
        ExceptionKind::InvalidProtocol,
        "TJSONProtocol is not supported; use TBinaryProtocol or TCompactProtocol",
    )
}

/// An unframed TJSON connection: the first call is answered with
/// `INVALID_PROTOCOL` in TJSON, then the connection closes, since where the
/// message ends is unknown without parsing its JSON body.
async fn unframed_json<IO: Io>(
    shared: &Shared,
    mut conn: IO,
    peer: &Peer,
    mut buf: BytesMut,
    frame_deadline: Option<Instant>,
) {
    let peer = label(peer);
    let cfg = &shared.config;
    let limit = cfg.max_frame.min(JSON_ENVELOPE_LIMIT);
    let call = loop {
        match json::decode_envelope(&buf) {
            Ok(call) => break call,
            Err(json::Stop::NeedMore) if buf.len() < limit => {}
            Err(_) => return unknown_payload(shared, peer, None, buf.len(), None),
        }
        match rt::timeout_at(
            read_deadline(cfg, frame_deadline),
            read_lent(&mut conn, &mut buf),
        )
        .await
        {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return,
            Err(_) => return frame_timed_out(shared, peer, frame_deadline),
        }
    };
    shared.stats.count_unsupported_protocol_call();
    tracing::debug!(peer, "TJSONProtocol call, answering INVALID_PROTOCOL");
    if call.kind != MessageType::Oneway {
        let mut out = BytesMut::new();
        json::encode_exception(&call, &unsupported_protocol(), &mut out);
        let _ = rt::timeout(cfg.write_timeout, conn.write_all(&out)).await;
    }
    let _ = rt::timeout(cfg.write_timeout, conn.shutdown()).await;
}

/// What a frame gets back.
enum Answer {
    /// These bytes, framed like the request.
    Reply(Bytes),
    /// Nothing: a oneway call.
    Nothing,
    /// The payload is in no protocol the server knows and has no envelope
    /// to answer: the connection closes.
    Close { len: usize, protocol_id: Option<u8> },
}

impl From<Option<Bytes>> for Answer {
    fn from(reply: Option<Bytes>) -> Self {
        reply.map_or(Answer::Nothing, Answer::Reply)
    }
}

/// Appends a reply to `out`, lent from the pool if it has no buffer;
/// returns what a `Close` carries.
fn take(answer: Answer, out: &mut BytesMut) -> Option<(usize, Option<u8>)> {
    match answer {
        Answer::Reply(b) => {
            if out.capacity() == 0 {
                *out = pool::lend();
            }
            out.extend_from_slice(&b);
        }
        Answer::Nothing => {}
        Answer::Close { len, protocol_id } => return Some((len, protocol_id)),
    }
    None
}

// The connection's whole state, handed over from the sniff.
#[allow(clippy::too_many_arguments)]
async fn drive<IO: Io>(
    shared: Arc<Shared>,
    conn: IO,
    peer: Peer,
    mut buf: BytesMut,
    mut frame_deadline: Option<Instant>,
    codec: Arc<dyn FrameCodec>,
    proto: Protocol,
    ordered: bool,
    watcher: Watcher,
) {
    let (mut rd, mut wr) = split(conn);
    // Replies paired with calls by order only: one at a time.
    let limit = if ordered {
        1
    } else {
        shared.config.max_in_flight.get()
    };
    let codec = &*codec;
    let cfg = &shared.config;
    // In-flight calls run on this connection's task (no spawn per call), so
    // a ping-pong call costs no cross-task wake-ups; replies are written as
    // each finishes, in any order. The calls are boxed: the set keeps a
    // stub task sized for its future type for the connection's whole life,
    // which for `handle`'s future unboxed is most of a kilobyte per idle
    // connection.
    let mut pending: FuturesUnordered<Pin<Box<dyn Future<Output = Answer> + Send + '_>>> =
        FuturesUnordered::new();
    let mut out = BytesMut::new();
    let mut reading = true;
    let mut idle_deadline = rt::now() + cfg.read_timeout;
    loop {
        while reading && pending.len() < limit {
            match codec.decode(&mut buf, cfg.max_frame) {
                Ok(Some(frame)) => {
                    frame_deadline = None;
                    pending.push(Box::pin(handle(&shared, &peer, codec, proto, frame)));
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(peer = label(&peer), error = %e, "bad frame, closing");
                    shared.stats.count_bad_frame();
                    reading = false;
                }
            }
        }
        if !reading && pending.is_empty() {
            break;
        }
        // A partial frame in the buffer is on its clock from its first
        // byte (bytes left after a decoded frame arrived with it, now). At
        // the in-flight limit the server is not reading, and the wait is
        // its own: the clock starts again when reading resumes.
        let can_read = reading && pending.len() < limit;
        if !can_read || buf.is_empty() {
            frame_deadline = None;
        } else if frame_deadline.is_none() {
            frame_deadline = Some(rt::now() + cfg.frame_read_timeout);
        }
        tokio::select! {
            Some(answer) = pending.next(), if !pending.is_empty() => {
                let mut close = take(answer, &mut out);
                // Collect every reply that is already done, then write once.
                while close.is_none() {
                    let Some(Some(answer)) = pending.next().now_or_never() else {
                        break;
                    };
                    close = take(answer, &mut out);
                }
                if !out.is_empty() {
                    // Flushed too: a TLS stream keeps the records it could
                    // not send until it is flushed.
                    let write = async {
                        wr.write_all(&out).await?;
                        wr.flush().await
                    };
                    match rt::timeout(cfg.write_timeout, write).await {
                        Ok(Ok(())) => pool::give_back(std::mem::take(&mut out)),
                        _ => return,
                    }
                }
                if let Some((len, protocol_id)) = close {
                    // Nothing after this frame can be trusted to be framed
                    // as the peer thinks: close now, calls in flight too.
                    unknown_payload(&shared, label(&peer), Some(codec), len, protocol_id);
                    break;
                }
            }
            r = read_lent(&mut rd, &mut buf), if can_read => match r {
                Ok(n) if n > 0 => idle_deadline = rt::now() + cfg.read_timeout,
                _ => reading = false,
            },
            () = rt::sleep_until(idle_deadline), if reading && pending.is_empty() => reading = false,
            () = rt::sleep_until(frame_deadline.unwrap_or(idle_deadline)), if frame_deadline.is_some() => {
                frame_timed_out(&shared, label(&peer), frame_deadline);
                reading = false;
            }
            () = watcher.draining(), if reading => reading = false,
            () = watcher.forced() => return,
        }
    }
    pool::give_back(buf);
    let _ = rt::timeout(cfg.write_timeout, wr.shutdown()).await;
}

async fn handle(
    shared: &Shared,
    peer: &Peer,
    codec: &dyn FrameCodec,
    mut proto: Protocol,
    frame: Frame,
) -> Answer {
    let Frame {
        header: theader,
        mut payload,
    } = frame;
    // Framed Kitex Protobuf: a plain frame with the Kitex Protobuf magic.
    if theader.is_none()
        && crate::protobuf::codec::is_protobuf(&payload)
        && let Some(ph) = shared
            .payload
            .as_ref()
            .filter(|ph| ph.accepts(PROTOCOL_KITEX_PROTOBUF, &payload))
    {
        let ctx = Arc::new(CallContext {
            rpc_info: RpcInfo {
                peer: peer.as_deref().map(str::to_owned),
                ..RpcInfo::default()
            },
            metainfo: MetaInfo::new(),
        });
        let Some(reply) = ph.call(payload, ctx).await else {
            return Answer::Nothing;
        };
        return frame_reply(codec, None, |out| {
            out.extend_from_slice(&reply);
            Ok(())
        })
        .into();
    }
    if let Some(h) = &theader {
        if let Some(ph) = shared
            .payload
            .as_ref()
            .filter(|ph| ph.accepts(h.protocol_id, &payload))
        {
            let ctx = Arc::new(context_from(h, None, None, 0, peer));
            let Some(reply) = ph.call(payload, ctx).await else {
                return Answer::Nothing;
            };
            return frame_reply(codec, Some(h), |out| {
                out.extend_from_slice(&reply);
                Ok(())
            })
            .into();
        }
        proto = match h.protocol_id {
            PROTOCOL_BINARY => Protocol::Binary,
            PROTOCOL_COMPACT => Protocol::Compact,
            // TJSON is 1 in THeader's numbering; any other id is unknown.
            _ => return unsupported(shared, codec, theader.as_ref(), &payload),
        };
    } else if let Some(p) = Protocol::sniff(&payload) {
        proto = p;
    }
    let (header, strict) = match proto.decode_begin(&mut payload) {
        Ok(x) => x,
        Err(_) => return unsupported(shared, codec, theader.as_ref(), &payload),
    };
    let (callee, method) = match shared.router.route(&header.name) {
        Some((c, m)) => (Some(c.to_owned()), m.to_owned()),
        None => (None, header.name.clone()),
    };
    let reply = if !matches!(header.kind, MessageType::Call | MessageType::Oneway) {
        ThriftReply::Exception(ApplicationException::new(
            ExceptionKind::InvalidMessageType,
            "expected a call",
        ))
    } else if theader.as_ref().is_some_and(|h| !h.transforms.is_empty()) {
        ThriftReply::Exception(ApplicationException::new(
            ExceptionKind::InvalidTransform,
            "transforms are not supported",
        ))
    } else {
        let ctx = match &theader {
            Some(h) => context_from(h, callee, Some(&method), header.seq_id, peer),
            None => CallContext {
                rpc_info: RpcInfo {
                    callee: callee.unwrap_or_default(),
                    method: method.clone(),
                    seq_id: header.seq_id,
                    peer: peer.as_deref().map(str::to_owned),
                    ..RpcInfo::default()
                },
                metainfo: MetaInfo::new(),
            },
        };
        let deadline = ctx.rpc_info.deadline;
        let ctx = Arc::new(ctx);
        let req = ThriftRequest::new(proto, header.clone(), payload, ctx.clone());
        let mut router = shared.router.clone();
        let span = serve_span(&ctx, &method);
        let fut = tracing::Instrument::instrument(metainfo::scope(ctx, router.call(req)), span);
        let r = match deadline {
            Some(d) => rt::timeout_at(d, fut).await.unwrap_or_else(|_| {
                Ok(ThriftReply::Exception(ApplicationException::new(
                    ExceptionKind::InternalError,
                    "deadline exceeded",
                )))
            }),
            None => fut.await,
        };
        match r {
            Ok(r) => r,
            Err(never) => match never {},
        }
    };
    if header.kind == MessageType::Oneway {
        return Answer::Nothing;
    }
    let (kind, body) = match reply {
        ThriftReply::Result(b) => (MessageType::Reply, Ok(b)),
        ThriftReply::Exception(e) => (MessageType::Exception, Err(e)),
        _ => return Answer::Nothing,
    };
    let env = MessageHeader {
        name: method,
        kind,
        seq_id: header.seq_id,
    };
    frame_reply(codec, theader.as_ref(), |out| {
        proto.encode_begin(&env, strict, out);
        match &body {
            Ok(b) => out.extend_from_slice(b),
            Err(e) => thrift::encode_body(proto, e, out)?,
        }
        proto.encode_end(out);
        Ok(())
    })
    .into()
}

/// A span with the caller's trace id when it sent a traceparent (trace
/// propagation comes with the `governance` feature).
#[cfg(feature = "governance")]
fn serve_span(ctx: &CallContext, method: &str) -> tracing::Span {
    match ctx.metainfo.trace_context() {
        Some(t) => tracing::info_span!(
            "wego.serve",
            rpc.method = %method,
            trace_id = %t.trace_id_hex(),
            remote_parent = true,
            parent_span_id = %t.span_id_hex(),
            trace_flags = %t.flags_hex(),
            otel.kind = "server",
            rpc.system = "thrift",
            rpc.service = ctx.rpc_info.callee.as_str(),
        ),
        None => tracing::Span::none(),
    }
}

#[cfg(not(feature = "governance"))]
fn serve_span(_: &CallContext, _: &str) -> tracing::Span {
    tracing::Span::none()
}

/// A payload that is not Thrift binary or compact. A TJSON call gets
/// `INVALID_PROTOCOL` in TJSON, framed like the request, so a TJSON client
/// reads why; anything else has no envelope (no sequence id) to answer.
fn unsupported(
    shared: &Shared,
    codec: &dyn FrameCodec,
    theader: Option<&Header>,
    payload: &[u8],
) -> Answer {
    let Ok(call) = json::decode_envelope(payload) else {
        return Answer::Close {
            len: payload.len(),
            protocol_id: theader.map(|h| h.protocol_id),
        };
    };
    shared.stats.count_unsupported_protocol_call();
    if call.kind == MessageType::Oneway {
        return Answer::Nothing;
    }
    let e = unsupported_protocol();
    frame_reply(codec, theader, |out| {
        json::encode_exception(&call, &e, out);
        Ok(())
    })
    .into()
}

fn context_from(
    h: &Header,
    callee: Option<String>,
    method: Option<&str>,
    seq_id: i32,
    peer: &Peer,
) -> CallContext {
    let deadline = h
        .int(keys::RPC_TIMEOUT)
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
    CallContext {
        rpc_info: RpcInfo {
            caller: h.int(keys::FROM_SERVICE).map(str::to_owned),
            callee: callee
                .or_else(|| h.int(keys::TO_SERVICE).map(str::to_owned))
                .unwrap_or_default(),
            method: method
                .or_else(|| h.int(keys::TO_METHOD))
                .unwrap_or_default()
                .to_owned(),
            seq_id,
            deadline,
            peer: peer.as_deref().map(str::to_owned),
        },
        metainfo: MetaInfo::from_wire(&h.str_info),
    }
}

/// Frames a reply like its request (`req`'s format, protocol id, flags
/// and sequence id): `body` appends the payload in place.
fn frame_reply(
    codec: &dyn FrameCodec,
    req: Option<&Header>,
    mut body: impl FnMut(&mut BytesMut) -> Result<(), FrameError>,
) -> Option<Bytes> {
    let mut out = BytesMut::with_capacity(256);
    let rh = req.map(|h| {
        let mut rh = Header::new(h.format, h.protocol_id, h.seq_id);
        rh.flags = h.flags;
        rh
    });
    match codec.encode(rh.as_ref(), &mut out, &mut body) {
        Ok(()) => Some(out.freeze()),
        Err(e) => {
            tracing::debug!(error = %e, "cannot frame the reply, sending none");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader with nothing to read yet.
    struct Silent;

    impl AsyncRead for Silent {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut wego_netpoll::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    #[test]
    fn a_read_that_would_block_with_nothing_buffered_holds_no_buffer() {
        let mut buf = BytesMut::new();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(poll_read_lent(&mut Silent, &mut buf, &mut cx).is_pending());
        assert_eq!(buf.capacity(), 0, "the buffer went back to the pool");
    }

    #[test]
    fn a_partial_frame_keeps_its_buffer_while_the_read_would_block() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut buf = BytesMut::new();
        let mut bytes: &[u8] = b"\x00\x00\x00\x10\x80\x01";
        assert!(matches!(
            poll_read_lent(&mut bytes, &mut buf, &mut cx),
            Poll::Ready(Ok(6))
        ));
        assert_eq!(&buf[..], b"\x00\x00\x00\x10\x80\x01");
        assert!(poll_read_lent(&mut Silent, &mut buf, &mut cx).is_pending());
        assert_eq!(buf.len(), 6, "the partial frame stays");
        assert!(buf.capacity() >= READ_RESERVE);
    }
}
