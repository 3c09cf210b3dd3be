//! Multiplexed mode: one TTHeader connection, concurrent calls paired with
//! their replies by sequence id (replies may arrive in any order). A writer
//! task sends the calls' frames and a reader task hands each reply to its
//! call; the connection closes when the client's last clone is dropped.
//!
//! A reply the client rejects fails only its own call when the frame's
//! extent and sequence id can be read from its fixed TTHeader part: a reply
//! over `max_frame` is skipped as it arrives, a malformed one whose frame
//! was delimited is dropped, and the connection and its other calls go on.
//! Bytes that are not a TTHeader frame end the connection, and every call
//! still waiting on it fails with that protocol error. A write that stalls
//! past the write timeout (a server that stopped reading) ends it too:
//! every call sent or queued on it fails with a transport error, and the
//! next call dials a new connection.
//!
//! A call on a reused connection that turns out closed (the server closed
//! it while idle and the client had not read the close yet) is sent again
//! on a freshly dialed connection when the server cannot have run it (the
//! connection was gone before the request was handed to it), or when the
//! call is idempotent; a request the server may have read is otherwise
//! never sent twice ([`Failed::may_resend`]). A call on a connection it
//! dialed itself is never sent again.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::sync::{Mutex, mpsc, oneshot};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf, split};
use wego_netpoll::net::BoxIo;
use wego_netpoll::rt;

use super::Config;
use super::conn::{self, Failed, Reply};
use crate::server::write_within;
use crate::transport::{Frame, FrameCodec, FrameError};
use crate::ttheader::TTHEADER_MAGIC;
use crate::{Error, Result};

/// How a call on the connection ended: its reply, or why it has none.
type Outcome = std::result::Result<Reply, Failed>;

type Waiters = Arc<std::sync::Mutex<Option<HashMap<i32, oneshot::Sender<Outcome>>>>>;

#[derive(Debug)]
struct Live {
    tx: mpsc::Sender<Bytes>,
    waiters: Waiters,
    /// The connection's reader task, holding its read half; the writer
    /// ends it too when a write stalls past the write timeout.
    reader: Arc<rt::JoinHandle<()>>,
}

/// The last handle on a connection (the client's, or a call's still
/// running on a connection the client has replaced) ends its reader,
/// which would otherwise wait on the socket until the server closes it,
/// keeping the socket, the task and its buffer. The writer ends by itself
/// once `tx` is gone and it has written what was queued (a oneway call
/// returns once its frame is queued), or once a write has stalled past the
/// write timeout, and the socket closes with the last of the two halves.
impl Drop for Live {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

struct Forget {
    waiters: Waiters,
    seq_id: i32,
}

impl Drop for Forget {
    fn drop(&mut self) {
        if let Some(m) = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            m.remove(&self.seq_id);
        }
    }
}

#[derive(Debug)]
pub(super) struct Mux {
    live: Mutex<Option<Arc<Live>>>,
    dials: AtomicUsize,
}

impl Mux {
    pub(super) fn new() -> Self {
        Self {
            live: Mutex::new(None),
            dials: AtomicUsize::new(0),
        }
    }

    pub(super) fn dials(&self) -> usize {
        self.dials.load(Ordering::Relaxed)
    }

    /// The live connection, and whether this call dialed it.
    async fn live(&self, cfg: &Config) -> Result<(Arc<Live>, bool)> {
        let mut slot = self.live.lock().await;
        // A connection is reusable while both its writer (channel open) and
        // its reader (waiter map present) are alive.
        let alive = |l: &&Arc<Live>| {
            !l.tx.is_closed()
                && l.waiters
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some()
        };
        if let Some(l) = slot.as_ref().filter(alive) {
            return Ok((l.clone(), false));
        }
        let link = conn::dial(cfg).await?;
        self.dials.fetch_add(1, Ordering::Relaxed);
        let (rd, wr) = split(link.conn);
        let (tx, rx) = mpsc::channel::<Bytes>(1024);
        let waiters: Waiters = Arc::new(std::sync::Mutex::new(Some(HashMap::new())));
        let reader = Arc::new(rt::spawn(read_replies(
            rd,
            link.buf,
            cfg.codec.clone(),
            cfg.max_frame,
            waiters.clone(),
        )));
        let (w, r, timeout) = (waiters.clone(), reader.clone(), cfg.write_timeout);
        rt::spawn(async move {
            match write_frames(wr, rx, timeout).await {
                // A peer that takes no more bytes: every call sent or
                // queued here would wait for its own timeout, and the
                // connection would never be retired. Fail them now and
                // close it; the next call dials a new one.
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    end(&w, &Ended::WriteTimeout);
                    r.abort();
                }
                // The reader sees the connection's end, and may still
                // deliver replies to calls already sent.
                _ => {}
            }
        });
        let live = Arc::new(Live {
            tx,
            waiters,
            reader,
        });
        *slot = Some(live.clone());
        Ok((live, true))
    }

    pub(super) async fn call(
        &self,
        cfg: &Config,
        frame: Bytes,
        seq_id: i32,
        oneway: bool,
        idempotent: bool,
    ) -> Result<Reply> {
        let (live, dialed) = self.live(cfg).await?;
        match call_on(&live, frame.clone(), seq_id, oneway).await {
            // A reused connection was closed under the call. Its reader or
            // writer has ended, so `live` dials a new one.
            Err(f) if !dialed && f.may_resend(idempotent) => {
                let (live, _) = self.live(cfg).await?;
                call_on(&live, frame, seq_id, oneway)
                    .await
                    .map_err(|f| f.error)
            }
            r => r.map_err(|f| f.error),
        }
    }
}

/// Writes the calls' frames as they are queued, each write under the
/// write timeout, until the client's last handle on the connection is
/// gone or a write fails.
async fn write_frames(
    mut wr: WriteHalf<BoxIo>,
    mut rx: mpsc::Receiver<Bytes>,
    timeout: Duration,
) -> io::Result<()> {
    while let Some(f) = rx.recv().await {
        write_within(timeout, wr.write_all(&f)).await?;
        while let Ok(more) = rx.try_recv() {
            write_within(timeout, wr.write_all(&more)).await?;
        }
        write_within(timeout, wr.flush()).await?;
    }
    Ok(())
}

/// Why the connection ended.
enum Ended {
    Closed,
    Io(io::Error),
    Protocol(FrameError),
    /// A write stalled past the write timeout.
    WriteTimeout,
}

impl Ended {
    /// What a call still waiting for its reply gets: its request went out
    /// (as far as the client knows), and no reply came.
    fn failed(&self) -> Failed {
        let (error, stale) = match self {
            Ended::Closed => (Error::closed(), true),
            Ended::Io(e) => (
                Error::transport(io::Error::new(e.kind(), e.to_string())),
                true,
            ),
            Ended::Protocol(e) => (Error::protocol(e.clone()), false),
            // Not stale: the peer is there, and stopped reading; a new
            // connection to it would stall as well.
            Ended::WriteTimeout => (
                Error::transport(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer did not take the request within the write timeout",
                )),
                false,
            ),
        };
        Failed {
            error,
            stale,
            sent: true,
        }
    }
}

/// A reply frame's extent and sequence id, from its fixed TTHeader part.
enum Peek {
    /// Fewer than the 12 bytes that say.
    NeedMore,
    /// Not a TTHeader frame: only the codec can tell.
    Other,
    /// A TTHeader frame of `total` bytes (length prefix included).
    Frame { seq_id: i32, total: usize },
}

fn peek(buf: &[u8]) -> Peek {
    match (buf.get(4..6), buf.get(..12)) {
        (Some(m), _) if m != TTHEADER_MAGIC.to_be_bytes() => Peek::Other,
        (_, Some(b)) => Peek::Frame {
            seq_id: i32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            total: u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize + 4,
        },
        _ => Peek::NeedMore,
    }
}

/// Hands `outcome` to the call waiting for `seq_id`, if it still waits.
fn deliver(waiters: &Waiters, seq_id: i32, outcome: Outcome) {
    let waiter = waiters
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
        .and_then(|m| m.remove(&seq_id));
    if let Some(w) = waiter {
        let _ = w.send(outcome);
    }
}

/// The connection's reader: hands each reply to its call until the
/// connection ends, then fails the calls still waiting with the reason.
async fn read_replies(
    mut rd: ReadHalf<BoxIo>,
    mut buf: BytesMut,
    codec: Arc<dyn FrameCodec>,
    max: usize,
    waiters: Waiters,
) {
    // Bytes of a rejected reply still to discard as they arrive.
    let mut skip = 0usize;
    let ended = 'read: loop {
        loop {
            if skip > 0 {
                let n = skip.min(buf.len());
                buf.advance(n);
                skip -= n;
                if skip > 0 {
                    break;
                }
            }
            let peeked = peek(&buf);
            // A reply over the limit fails its call alone; the client
            // skips its bytes instead of buffering them.
            if buf.len() >= 4 && !matches!(peeked, Peek::Other) {
                let size = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if size > max {
                    let Peek::Frame { seq_id, total } = peeked else {
                        break; // the sequence id is in the next bytes
                    };
                    let error = Error::protocol(FrameError::TooLarge { size, max });
                    deliver(&waiters, seq_id, Err(rejected(error)));
                    skip = total;
                    continue;
                }
            }
            let before = buf.len();
            match codec.decode(&mut buf, max) {
                Ok(Some(Frame {
                    header: Some(h),
                    payload,
                })) => deliver(&waiters, h.seq_id, Ok(Some((Some(h), payload)))),
                // Nothing pairs a frame without a header with its call.
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => match peeked {
                    // The codec took the whole frame and rejected what is
                    // inside: the stream is still in step.
                    Peek::Frame { seq_id, total } if before - buf.len() == total => {
                        deliver(&waiters, seq_id, Err(rejected(Error::protocol(e))));
                    }
                    _ => break 'read Ended::Protocol(e),
                },
            }
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => break Ended::Closed,
            Ok(_) => {}
            Err(e) => break Ended::Io(e),
        }
    };
    end(&waiters, &ended);
}

/// Ends the connection for the calls: those still waiting fail with why,
/// and no call waits on it again.
fn end(waiters: &Waiters, ended: &Ended) {
    let left = waiters.lock().unwrap_or_else(|p| p.into_inner()).take();
    for (_, w) in left.into_iter().flatten() {
        let _ = w.send(Err(ended.failed()));
    }
}

/// A call whose reply the client rejected: the server ran it.
fn rejected(error: Error) -> Failed {
    Failed {
        error,
        stale: false,
        sent: true,
    }
}

/// Sends one call on `live` and waits for its reply, or why none came.
async fn call_on(live: &Live, frame: Bytes, seq_id: i32, oneway: bool) -> Outcome {
    // The connection was gone before the request was handed to it.
    let unsent = || Failed {
        error: Error::closed(),
        stale: true,
        sent: false,
    };
    let rx = if oneway {
        None
    } else {
        let (tx, rx) = oneshot::channel();
        match live
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            Some(m) => m.insert(seq_id, tx),
            None => return Err(unsent()),
        };
        Some(rx)
    };
    // If this call is dropped (RPC timeout, caller gone), forget its
    // waiter so the map does not grow with replies that never come.
    let _forget = rx.is_some().then(|| Forget {
        waiters: live.waiters.clone(),
        seq_id,
    });
    if live.tx.send(frame).await.is_err() {
        return Err(unsent());
    }
    match rx {
        None => Ok(None),
        Some(rx) => rx.await.unwrap_or_else(|_| Err(Ended::Closed.failed())),
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;
    use wego_netpoll::io::AsyncWriteExt;

    use super::*;
    use crate::transport::TtHeaderCodec;
    use crate::ttheader::{self, Header, HeaderFormat};

    fn reply(seq_id: i32) -> Vec<u8> {
        let mut out = BytesMut::new();
        let start =
            ttheader::encode(&Header::new(HeaderFormat::TtHeader, 0, seq_id), &mut out).unwrap();
        out.extend_from_slice(b"reply");
        ttheader::finish(&mut out, start).unwrap();
        out.to_vec()
    }

    /// Feeds `bytes` to a reader with calls `seqs` waiting, the peer then
    /// closing; returns each call's outcome.
    fn read(bytes: &[u8], seqs: &[i32]) -> Vec<Outcome> {
        let (mut peer, io) = tokio::io::duplex(64 * 1024);
        peer.write_all(bytes).now_or_never().unwrap().unwrap();
        drop(peer);
        let (rd, _wr) = split(Box::new(io) as BoxIo);
        let mut map = HashMap::new();
        let mut rxs = Vec::new();
        for &s in seqs {
            let (tx, rx) = oneshot::channel();
            map.insert(s, tx);
            rxs.push(rx);
        }
        let waiters: Waiters = Arc::new(std::sync::Mutex::new(Some(map)));
        let codec: Arc<dyn FrameCodec> = Arc::new(TtHeaderCodec::new(HeaderFormat::TtHeader));
        read_replies(rd, BytesMut::new(), codec, 64, waiters)
            .now_or_never()
            .expect("the reader ends with its input");
        rxs.into_iter()
            .map(|rx| rx.now_or_never().unwrap().unwrap())
            .collect()
    }

    #[test]
    fn a_malformed_reply_fails_its_call_and_the_next_reply_is_read() {
        // A TTHeader frame for call 1 with an unknown info id.
        let mut bytes = vec![0, 0, 0, 14, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0x55, 0];
        bytes.extend(reply(2));
        let got = read(&bytes, &[1, 2, 3]);
        let e = got[0].as_ref().unwrap_err();
        assert!(e.error.is_protocol() && !e.may_resend(true), "{e:?}");
        assert!(got[1].as_ref().unwrap().is_some());
        // Call 3 got no reply before the close: the connection was stale.
        assert!(got[2].as_ref().unwrap_err().error.is_closed());
    }

    #[test]
    fn a_reply_over_the_limit_is_skipped_whole() {
        // Call 1's reply is over the 64-byte limit, and arrives whole.
        let mut big = BytesMut::new();
        let start = ttheader::encode(&Header::new(HeaderFormat::TtHeader, 0, 1), &mut big).unwrap();
        big.extend_from_slice(&[7; 200]);
        ttheader::finish(&mut big, start).unwrap();
        let mut bytes = big.to_vec();
        bytes.extend(reply(2));
        let got = read(&bytes, &[1, 2]);
        let e = got[0].as_ref().unwrap_err();
        assert!(e.error.is_protocol(), "{e:?}");
        assert!(got[1].as_ref().unwrap().is_some());
    }

    #[test]
    fn bytes_that_are_not_ttheader_fail_every_call_as_a_protocol_error() {
        let got = read(b"HTTP/1.1 400 Bad Request\r\n\r\n", &[1, 2]);
        for g in got {
            let e = g.unwrap_err();
            assert!(e.error.is_protocol() && !e.may_resend(true), "{e:?}");
        }
    }
}
