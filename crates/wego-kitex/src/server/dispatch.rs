//! A call routed to its service, and replies framed like their requests:
//! what the native and the transcoded paths of [`frame`](super::frame)
//! share.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pilota::FastStr;
use wego_netpoll::buffer::pool;
use wego_netpoll::rt;

use super::shared::{Answer, Peer, Shared, unsupported_protocol};
use super::{ThriftReply, ThriftRequest, ThriftRouter};
use crate::metainfo::{self, CallContext, MetaInfo, RpcInfo, keys};
use crate::thrift::{
    ApplicationException, ExceptionKind, MessageHeader, MessageType, Protocol, json,
};
use crate::transport::{FrameCodec, FrameError};
use crate::ttheader::Header;

/// Routes a call (`header`, its argument struct `args` in `proto`) to its
/// service within the call's deadline; returns the method name the reply
/// carries and the reply.
pub(super) async fn call(
    shared: &Shared,
    peer: &Peer,
    theader: Option<&Header>,
    header: MessageHeader,
    proto: Protocol,
    args: Bytes,
) -> (FastStr, ThriftReply) {
    let routed = shared.router.route(&header.name);
    let (callee, method) = match &routed {
        Some(r) => (Some(r.callee.clone()), r.method.clone()),
        None => (None, FastStr::new(&header.name)),
    };
    let reply = if !matches!(header.kind, MessageType::Call | MessageType::Oneway) {
        ThriftReply::Exception(ApplicationException::new(
            ExceptionKind::InvalidMessageType,
            "expected a call",
        ))
    } else if theader.is_some_and(|h| !h.transforms.is_empty()) {
        ThriftReply::Exception(ApplicationException::new(
            ExceptionKind::InvalidTransform,
            "transforms are not supported",
        ))
    } else {
        let ctx = match theader {
            Some(h) => context_from(h, callee, Some(method.clone()), header.seq_id, peer),
            None => CallContext {
                rpc_info: RpcInfo {
                    callee: callee.unwrap_or_default(),
                    method: method.clone(),
                    seq_id: header.seq_id,
                    peer: peer.clone(),
                    ..RpcInfo::default()
                },
                metainfo: MetaInfo::new(),
            },
        };
        let deadline = ctx.rpc_info.deadline;
        let mut ctx = ctx;
        let span = serve_span(&mut ctx, &method);
        let ctx = Arc::new(ctx);
        let req = ThriftRequest::new(proto, header, args, ctx.clone());
        // A handler's panic is this call's INTERNAL_ERROR, not the end of
        // the connection and of every call in flight on it.
        let served = async {
            crate::contain::contain(ThriftRouter::serve_inline(routed, req))
                .await
                .unwrap_or_else(|| {
                    tracing::error!("thrift handler panicked; answering INTERNAL_ERROR");
                    Ok(ThriftReply::Exception(ApplicationException::new(
                        ExceptionKind::InternalError,
                        "handler panicked",
                    )))
                })
        };
        let fut = tracing::Instrument::instrument(metainfo::scope(ctx, served), span);
        let r = match deadline {
            Some(d) => rt::timeout_at(d, fut).await.unwrap_or_else(|_| {
                Ok(ThriftReply::Exception(ApplicationException::new(
                    ExceptionKind::InternalError,
                    "deadline exceeded",
                )))
            }),
            None => fut.await,
        };
        r.unwrap_or_else(|never| match never {})
    };
    (method, reply)
}

/// The call's `wego.serve` span (trace propagation comes with the
/// `governance` feature). It joins the caller's trace when the caller sent
/// a `traceparent`; otherwise, when a subscriber wants the span, it starts
/// a new trace and puts it in the call's metainfo, so that calls the
/// handler makes continue it.
#[cfg(feature = "governance")]
fn serve_span(ctx: &mut CallContext, method: &str) -> tracing::Span {
    use wego_governance::trace::TraceContext;
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
            rpc.service = &*ctx.rpc_info.callee,
        ),
        None => {
            let span = tracing::info_span!(
                "wego.serve",
                rpc.method = %method,
                trace_id = tracing::field::Empty,
                remote_parent = false,
                otel.kind = "server",
                rpc.system = "thrift",
                rpc.service = &*ctx.rpc_info.callee,
            );
            if !span.is_disabled() {
                let root = TraceContext::new_root();
                span.record("trace_id", root.trace_id_hex());
                root.inject(&mut ctx.metainfo, None);
            }
            span
        }
    }
}

#[cfg(not(feature = "governance"))]
fn serve_span(_: &mut CallContext, _: &str) -> tracing::Span {
    tracing::Span::none()
}

/// A payload that is not Thrift binary or compact. A TJSON call gets
/// `INVALID_PROTOCOL` in TJSON, framed like the request, so a TJSON client
/// reads why; anything else has no envelope (no sequence id) to answer.
pub(super) fn unsupported(
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
    frame_reply(codec, theader, 0, |out| {
        json::encode_exception(&call, &e, out);
        Ok(())
    })
    .into()
}

pub(super) fn context_from(
    h: &Header,
    callee: Option<FastStr>,
    method: Option<FastStr>,
    seq_id: i32,
    peer: &Peer,
) -> CallContext {
    let deadline = h
        .int(keys::RPC_TIMEOUT)
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .and_then(|ms| rt::now().checked_add(Duration::from_millis(ms)));
    CallContext {
        rpc_info: RpcInfo {
            caller: h.int(keys::FROM_SERVICE).map(FastStr::new),
            callee: callee
                .or_else(|| h.int(keys::TO_SERVICE).map(FastStr::new))
                .unwrap_or_default(),
            method: method
                .or_else(|| h.int(keys::TO_METHOD).map(FastStr::new))
                .unwrap_or_default(),
            seq_id,
            deadline,
            peer: peer.clone(),
        },
        metainfo: MetaInfo::from_wire(&h.str_info),
    }
}

/// Gives a buffer lent from the pool back once nothing else holds it (a
/// reply frame after its write, an encoded body after its framing).
///
/// Only a buffer of the pool's size goes back: a handler's own small body
/// would take a pool slot and be grown again on its next loan.
pub(super) fn recycle(b: Bytes) {
    if let Ok(b) = b.try_into_mut()
        && b.capacity() >= pool::NEW_CAPACITY
    {
        pool::give_back(b);
    }
}

/// Room for a reply's framing and envelope beyond its length hint, so a
/// reply buffer is allocated once (a TTHeader without metadata is under 64
/// bytes).
const FRAME_SLACK: usize = 128;

/// Frames a reply like its request (`req`'s format, protocol id, flags
/// and sequence id): `body` appends the payload in place, `len_hint` bytes
/// of it or about that.
pub(super) fn frame_reply(
    codec: &dyn FrameCodec,
    req: Option<&Header>,
    len_hint: usize,
    mut body: impl FnMut(&mut BytesMut) -> Result<(), FrameError>,
) -> Option<BytesMut> {
    // Lent from the thread's pool: the connection gives the frame back
    // once the socket has taken it. It stays a `BytesMut` to the end: a
    // frozen `Bytes` of a lent buffer would allocate its shared header.
    let mut out = pool::lend();
    out.reserve(len_hint.saturating_add(FRAME_SLACK));
    let rh = req.map(|h| {
        let mut rh = Header::new(h.format, h.protocol_id, h.seq_id);
        rh.flags = h.flags;
        rh
    });
    match codec.encode(rh.as_ref(), &mut out, &mut body) {
        Ok(()) => Some(out),
        Err(e) => {
            tracing::debug!(error = %e, "cannot frame the reply, sending none");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lent_frame_goes_back_to_the_pool_and_a_small_body_does_not() {
        let mut frame = pool::lend();
        frame.extend_from_slice(b"reply");
        let ptr = frame.as_ptr();
        recycle(frame.freeze());
        let again = pool::lend();
        assert_eq!(again.as_ptr(), ptr, "the frame's buffer is lent again");

        let small = Bytes::from(vec![1u8; 16]);
        let small_ptr = small.as_ptr();
        recycle(small);
        let next = pool::lend();
        assert_ne!(next.as_ptr(), small_ptr, "a small body is not pooled");
        assert!(next.capacity() >= pool::NEW_CAPACITY);
        pool::give_back(again);
        pool::give_back(next);
    }
}
