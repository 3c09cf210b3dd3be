//! The per-connection driver: sniff, read frames, dispatch, write replies.
//!
//! Reading and writing are separate tasks joined by a channel, so replies to
//! concurrent requests (TTHeader, THeader, Framed) are written as soon as
//! each is ready, in any order; Buffered requests are served one at a time
//! because nothing but order pairs their replies with calls. A semaphore
//! bounds in-flight requests; at the limit the driver stops reading.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::sync::{Semaphore, mpsc};
use tower_service::Service;
use wego_netpoll::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, split};
use wego_netpoll::{Conn, Watcher, rt};

use super::{Config, ConnHandler, PayloadHandler, Router, ThriftReply, ThriftRequest};
use crate::metainfo::{self, CallContext, MetaInfo, RpcInfo, keys};
use crate::thrift::{
    self, ApplicationException, ExceptionKind, MessageHeader, MessageType, Protocol,
};
use crate::transport::{Detection, Framing, Prefixed, decode_frame, detect, framed};
use crate::ttheader::{self, Header, PROTOCOL_BINARY, PROTOCOL_COMPACT};

/// Longest sniff before a connection is declared unknown.
const SNIFF_LIMIT: usize = 64;

pub(super) struct Shared {
    pub(super) router: Router,
    pub(super) config: Config,
    pub(super) http2: Option<Arc<dyn ConnHandler>>,
    pub(super) payload: Option<Arc<dyn PayloadHandler>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("router", &self.router)
            .field("config", &self.config)
            .finish()
    }
}

pub(super) async fn serve_conn(shared: Arc<Shared>, mut conn: Conn, watcher: Watcher) {
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let detection = loop {
        match detect(&buf) {
            Detection::NeedMore if buf.len() < SNIFF_LIMIT => {}
            Detection::NeedMore => break Detection::Unknown,
            d => break d,
        }
        match rt::timeout(shared.config.read_timeout, conn.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
    };
    match detection {
        Detection::Http2 => match &shared.http2 {
            Some(h) => h.serve(Prefixed::new(buf.freeze(), conn), watcher).await,
            None => {
                tracing::info!(peer = %conn.peer_addr(), "HTTP/2 connection but no HTTP/2 handler, closing")
            }
        },
        Detection::Thrift(framing, proto) => {
            drive(shared, conn, buf, framing, proto, watcher).await
        }
        _ => tracing::debug!(peer = %conn.peer_addr(), "unrecognised protocol, closing"),
    }
}

enum Frame {
    Plain(Bytes),
    Headed(Header, Bytes),
}

fn next_frame(
    buf: &mut BytesMut,
    framing: Framing,
    proto: Protocol,
    max: usize,
) -> Result<Option<Frame>, crate::transport::FrameError> {
    Ok(
        decode_frame(buf, framing, proto, max)?.map(|(h, p)| match h {
            Some(h) => Frame::Headed(h, p),
            None => Frame::Plain(p),
        }),
    )
}

async fn drive(
    shared: Arc<Shared>,
    conn: Conn,
    mut buf: BytesMut,
    framing: Framing,
    proto: Protocol,
    watcher: Watcher,
) {
    let peer: Arc<str> = conn.peer_addr().to_string().into();
    let (mut rd, wr) = split(conn);
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let writer = rt::spawn(write_loop(wr, rx, shared.config.write_timeout));
    let limit = shared.config.max_in_flight.get();
    let in_flight = Arc::new(Semaphore::new(limit));
    'conn: loop {
        loop {
            let frame = match next_frame(&mut buf, framing, proto, shared.config.max_frame) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(peer = %peer, error = %e, "bad frame, closing");
                    break 'conn;
                }
            };
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                break 'conn;
            };
            let (shared2, tx2, peer2) = (shared.clone(), tx.clone(), peer.clone());
            let task = async move {
                if let Some(out) = handle(&shared2, &peer2, framing, proto, frame).await {
                    let _ = tx2.send(out).await;
                }
                drop(permit);
            };
            if framing == Framing::Buffered {
                task.await;
            } else {
                rt::spawn(task);
            }
        }
        tokio::select! {
            r = rt::timeout(shared.config.read_timeout, rd.read_buf(&mut buf)) => match r {
                Ok(Ok(n)) if n > 0 => {}
                _ => break,
            },
            () = watcher.draining() => break,
        }
    }
    // Let in-flight calls finish (or the shutdown deadline pass), then close.
    tokio::select! {
        _ = in_flight.acquire_many(u32::try_from(limit).unwrap_or(u32::MAX)) => {}
        () = watcher.forced() => {}
    }
    drop(tx);
    tokio::select! {
        _ = writer => {}
        () = watcher.forced() => {}
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<Bytes>,
    timeout: Duration,
) {
    while let Some(first) = rx.recv().await {
        let batch = async {
            wr.write_all(&first).await?;
            while let Ok(more) = rx.try_recv() {
                wr.write_all(&more).await?;
            }
            wr.flush().await
        };
        match rt::timeout(timeout, batch).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
    let _ = wr.shutdown().await;
}

async fn handle(
    shared: &Shared,
    peer: &str,
    framing: Framing,
    mut proto: Protocol,
    frame: Frame,
) -> Option<Bytes> {
    let mut inner = false;
    let (theader, mut payload) = match frame {
        Frame::Plain(p) => (None, p),
        Frame::Headed(h, p) => (Some(h), p),
    };
    if let Some(h) = &theader {
        if let Some(ph) = shared
            .payload
            .as_ref()
            .filter(|ph| ph.accepts(h.protocol_id, &payload))
        {
            let ctx = Arc::new(context_from(h, None, None, 0, peer));
            let reply = ph.call(payload, ctx).await?;
            return frame_reply(framing, Some(h), |out| {
                out.extend_from_slice(&reply);
                Ok(())
            });
        }
        proto = match h.protocol_id {
            PROTOCOL_BINARY => Protocol::Binary,
            PROTOCOL_COMPACT => Protocol::Compact,
            id => {
                tracing::debug!(peer, protocol_id = id, "unsupported protocol id, closing");
                return None;
            }
        };
        // TTHeader over Framed (volo's default, Kitex's "TTHeaderFramed"):
        // the payload carries its own 4-byte length; replies mirror it.
        if inner_framed(&payload) {
            payload.advance(4);
            inner = true;
        }
    }
    let (header, strict) = match thrift::decode_header(proto, &mut payload) {
        Ok(x) => x,
        Err(e) => {
            // Without an envelope there is no sequence id to answer to.
            tracing::debug!(peer, error = %e, "undecodable message envelope");
            return None;
        }
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
                    peer: Some(peer.to_owned()),
                    ..RpcInfo::default()
                },
                metainfo: MetaInfo::new(),
            },
        };
        let deadline = ctx.rpc_info.deadline;
        let ctx = Arc::new(ctx);
        let req = ThriftRequest::new(proto, header.clone(), payload, ctx.clone());
        let mut router = shared.router.clone();
        let fut = metainfo::scope(ctx, router.call(req));
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
        return None;
    }
    let (kind, body) = match reply {
        ThriftReply::Result(b) => (MessageType::Reply, Ok(b)),
        ThriftReply::Exception(e) => (MessageType::Exception, Err(e)),
        _ => return None,
    };
    let env = MessageHeader {
        name: method,
        kind,
        seq_id: header.seq_id,
    };
    frame_reply(framing, theader.as_ref(), |out| {
        let start = inner.then(|| framed::begin(out));
        thrift::encode_header(proto, &env, strict, out);
        match &body {
            Ok(b) => out.extend_from_slice(b),
            Err(e) => thrift::encode_body(proto, e, out).map_err(|_| ())?,
        }
        if let Some(start) = start {
            framed::finish(out, start).map_err(|_| ())?;
        }
        Ok(())
    })
}

/// Whether a TTHeader payload is itself framed: a 4-byte length equal to
/// the rest, followed by a binary (`0x8001`) or compact (`0x82`) envelope.
fn inner_framed(payload: &[u8]) -> bool {
    match payload.get(..6) {
        Some(p) => {
            let len = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
            len == payload.len() - 4 && ((p[4] == 0x80 && p[5] == 0x01) || p[4] == 0x82)
        }
        None => false,
    }
}

fn context_from(
    h: &Header,
    callee: Option<String>,
    method: Option<&str>,
    seq_id: i32,
    peer: &str,
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
            peer: Some(peer.to_owned()),
        },
        metainfo: MetaInfo::from_wire(&h.str_info),
    }
}

/// Frames a reply like its request: `body` appends the payload.
fn frame_reply(
    framing: Framing,
    req: Option<&Header>,
    body: impl FnOnce(&mut BytesMut) -> Result<(), ()>,
) -> Option<Bytes> {
    let mut out = BytesMut::with_capacity(256);
    match (framing, req) {
        (Framing::TtHeader | Framing::THeader, Some(h)) => {
            let mut rh = Header::new(h.format, h.protocol_id, h.seq_id);
            rh.flags = h.flags;
            let start = ttheader::encode(&rh, &mut out).ok()?;
            body(&mut out).ok()?;
            ttheader::finish(&mut out, start).ok()?;
        }
        (Framing::Framed, _) => {
            let start = framed::begin(&mut out);
            body(&mut out).ok()?;
            framed::finish(&mut out, start).ok()?;
        }
        _ => body(&mut out).ok()?,
    }
    Some(out.freeze())
}
