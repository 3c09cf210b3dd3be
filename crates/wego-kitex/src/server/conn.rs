//! The per-connection driver: sniff, read frames, dispatch, write replies.
//!
//! One task per connection reads frames and drives the calls in flight
//! (a `FuturesUnordered`, bounded by `max_in_flight`; at the limit it stops
//! reading), writing each reply as it finishes, so replies to concurrent
//! TTHeader, THeader and Framed requests may go out in any order. Buffered
//! requests are served one at a time because nothing but order pairs their
//! replies with calls.
//!
//! Each frame is served in `frame.rs` (the call and reply framing in `dispatch.rs`); a frame in a payload protocol
//! added to the server (`transcoded.rs`) has its bodies transcoded. An
//! unframed connection whose first bytes no built-in protocol claims is
//! offered to the added payload protocols, which then find each message's
//! end.
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
//! when a read would block with nothing left to decode. A reply that
//! finishes alone is written from its own frame; replies that finish
//! together are gathered in a lent buffer only until the socket has taken
//! them. An idle connection costs its task, socket and counters, not 8 KiB
//! of buffer.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use pilota::FastStr;
use wego_netpoll::Watcher;
use wego_netpoll::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, split};
use wego_netpoll::net::{BoxIo, Io};
use wego_netpoll::rt::{self, Gates};

use super::shared::{Answer, Peer, Shared, label, unsupported_protocol};
use super::{Config, frame};
use crate::thrift::{DecodeState, MessageType, PayloadProtocol, Protocol, json};
use crate::transport::{
    BufferedCodec, DetectFraming, Detection, FrameCodec, Match, Prefixed, SNIFF_LIMIT, detect,
};
use wego_netpoll::buffer::pool;

/// Most bytes read while looking for an unframed TJSON envelope.
const JSON_ENVELOPE_LIMIT: usize = 64 * 1024 + 64;
/// Room the read buffer has before each read.
const READ_RESERVE: usize = 4 * 1024;

pub(super) async fn serve_conn<IO: Io>(shared: Arc<Shared>, mut conn: IO, watcher: Watcher) {
    let cfg = &shared.config;
    let peer: Peer = conn.peer_addr().map(|a| FastStr::new(a.to_string()));
    let mut buf = BytesMut::new();
    // The first frame's clock starts at the connection's first byte: a
    // sniff trickled a byte at a time is bounded like any frame.
    let mut frame_deadline = None;
    let detection = loop {
        match sniff(&shared.framings, &shared.payloads, &buf) {
            Sniffed::Payload(p) => {
                // An unframed connection in a payload protocol: it finds
                // where each message ends, and replies go in order.
                let codec: Arc<dyn FrameCodec> = Arc::new(BufferedCodec::new(p));
                return drive(
                    shared,
                    conn,
                    peer,
                    buf,
                    frame_deadline,
                    codec,
                    Protocol::Binary,
                    true,
                    watcher,
                )
                .await;
            }
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
                frame_deadline.get_or_insert_with(|| rt::deadline_in(cfg.frame_read_timeout));
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

/// What the first bytes say: a configured framing, the built-in detection,
/// or an unframed message in a configured payload protocol.
enum Sniffed {
    Custom(Arc<dyn DetectFraming>),
    Builtin(Detection),
    Payload(Arc<dyn PayloadProtocol>),
}

/// Asks the configured framings, then the built-in detection, then, when
/// that finds nothing, the configured payload protocols. A configured
/// framing or protocol may ask for more only up to [`SNIFF_LIMIT`] bytes.
fn sniff(
    framings: &[Arc<dyn DetectFraming>],
    payloads: &[Arc<dyn PayloadProtocol>],
    buf: &[u8],
) -> Sniffed {
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
    match detect(buf) {
        Detection::Unknown => {}
        d => return Sniffed::Builtin(d),
    }
    for p in payloads {
        match p.detect(buf) {
            Match::Yes => return Sniffed::Payload(p.clone()),
            Match::NeedMore if buf.len() < SNIFF_LIMIT => {
                return Sniffed::Builtin(Detection::NeedMore);
            }
            _ => {}
        }
    }
    Sniffed::Builtin(Detection::Unknown)
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
    let idle = rt::deadline_in(cfg.read_timeout);
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

/// Runs `write` under the write timeout. A write the socket takes at once
/// (the usual reply) finishes on its first poll and never makes a timer;
/// the timeout starts when the socket first pushes back.
pub(crate) async fn write_within(
    timeout: std::time::Duration,
    write: impl Future<Output = io::Result<()>>,
) -> io::Result<()> {
    let mut write = std::pin::pin!(write);
    if let Some(done) = (&mut write).now_or_never() {
        return done;
    }
    match rt::timeout(timeout, write).await {
        Ok(done) => done,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer did not take the write within the write timeout",
        )),
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
            pool::give_back(b);
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
    // Where the decode of a partial frame stopped: the next read resumes
    // it instead of walking an unframed message from byte 0 again.
    let mut decoding = DecodeState::default();
    let mut reading = true;
    let mut idle_deadline = rt::deadline_in(cfg.read_timeout);
    // Made once per connection, not per wake-up: each is a registration
    // (shutdown phase channel, timer) that costs more to make and drop than
    // to poll. The idle timer lags behind `idle_deadline` (moved on every
    // read) and is reset only when it fires early. All four are gated:
    // polled only after they woke (or were reset), not on each of the
    // several wake-ups of a call (`rt::Gates`).
    let gates = Gates::new();
    let draining = gates.gate(watcher.draining());
    let forced = gates.gate(watcher.forced());
    let idle = gates.gate(rt::sleep_until(idle_deadline));
    // The frame read timer, reset only when a new partial frame starts its
    // clock: `select!` builds every branch's future on every turn, even a
    // disabled one, and a timer made per turn is a timer made per call.
    let frame_timer = gates.gate(rt::sleep_until(idle_deadline));
    tokio::pin!(draining, forced, idle, frame_timer);
    loop {
        while reading && pending.len() < limit {
            match codec.decode_resume(&mut buf, cfg.max_frame, &mut decoding) {
                Ok(Some(frame)) => {
                    frame_deadline = None;
                    pending.push(Box::pin(frame::handle(&shared, &peer, codec, proto, frame)));
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
            frame_deadline = Some(rt::deadline_in(cfg.frame_read_timeout));
        }
        if let Some(d) = frame_deadline
            && frame_timer.get_ref().deadline() != d
        {
            frame_timer.as_mut().get_pin_mut().reset(d);
        }
        tokio::select! {
            biased;
            // The forced phase comes only after draining, whose branch
            // stops the reading: while reading, that branch sees a shutdown
            // first, and the forced signal need not be polled.
            () = &mut forced, if !reading => return,
            Some(answer) = pending.next(), if !pending.is_empty() => {
                // Collect every reply that is already done, then write once.
                // A reply that finished alone (a ping-pong call's) is
                // written from its own buffer; several are gathered in `out`.
                let (mut lone, mut close) = match answer {
                    Answer::Reply(b) => (Some(b), None),
                    other => (None, take(other, &mut out)),
                };
                while close.is_none() {
                    let Some(Some(answer)) = pending.next().now_or_never() else {
                        break;
                    };
                    if let Some(b) = lone.take() {
                        take(Answer::Reply(b), &mut out);
                    }
                    close = take(answer, &mut out);
                }
                let bytes: &[u8] = match &lone {
                    Some(b) => b,
                    None => &out,
                };
                if !bytes.is_empty() {
                    // Flushed too: a TLS stream keeps the records it could
                    // not send until it is flushed.
                    let write = async {
                        wr.write_all(bytes).await?;
                        wr.flush().await
                    };
                    if write_within(cfg.write_timeout, write).await.is_err() {
                        return;
                    }
                    pool::give_back(lone.unwrap_or_else(|| std::mem::take(&mut out)));
                }
                if let Some((len, protocol_id)) = close {
                    // Nothing after this frame can be trusted to be framed
                    // as the peer thinks: close now, calls in flight too.
                    unknown_payload(&shared, label(&peer), Some(codec), len, protocol_id);
                    break;
                }
            }
            r = read_lent(&mut rd, &mut buf), if can_read => match r {
                Ok(n) if n > 0 => idle_deadline = rt::deadline_in(cfg.read_timeout),
                _ => reading = false,
            },
            () = &mut idle, if reading && pending.is_empty() => {
                if rt::now() >= idle_deadline {
                    reading = false;
                } else {
                    idle.as_mut().get_pin_mut().reset(idle_deadline);
                }
            }
            () = &mut frame_timer, if frame_deadline.is_some() => {
                frame_timed_out(&shared, label(&peer), frame_deadline);
                reading = false;
            }
            () = &mut draining, if reading => reading = false,
        }
    }
    pool::give_back(buf);
    let _ = rt::timeout(cfg.write_timeout, wr.shutdown()).await;
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
