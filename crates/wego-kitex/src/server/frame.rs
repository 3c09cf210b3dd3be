//! One frame served: its payload's protocol picked, then the native path
//! (Kitex Protobuf, Binary, Compact) or a payload protocol's transcoded
//! path.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::dispatch::{call, context_from, frame_reply, recycle, unsupported};
use super::shared::{Answer, Peer, Shared};
use super::transcoded::PROTOCOL;
use super::{PayloadHandler, ThriftReply, transcoded};
use crate::contain::{contain, contain_sync};
use crate::metainfo::{CallContext, MetaInfo, RpcInfo};
use crate::thrift::{self, MessageCodec, MessageType, Protocol};
use crate::transport::{Frame, FrameCodec, Match};
use crate::ttheader::{Header, PROTOCOL_BINARY, PROTOCOL_COMPACT, PROTOCOL_KITEX_PROTOBUF};

/// What a panicking payload handler hook is logged as.
const HANDLER: &str = "payload handler";

/// Serves one frame: its payload's protocol picked (Kitex Protobuf,
/// Binary, Compact, a payload protocol added to the server), the call
/// routed, the reply framed like the request.
pub(super) async fn handle(
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
        && crate::transport::detect::is_kitex_protobuf(&payload)
        && let Some(ph) = shared
            .payload
            .as_ref()
            .filter(|ph| takes(ph.as_ref(), PROTOCOL_KITEX_PROTOBUF, &payload))
    {
        let ctx = Arc::new(CallContext {
            rpc_info: RpcInfo {
                peer: peer.clone(),
                ..RpcInfo::default()
            },
            metainfo: MetaInfo::new(),
        });
        let Some(reply) = serve_payload(ph.as_ref(), payload, ctx).await else {
            return Answer::Nothing;
        };
        return frame_reply(codec, None, reply.len(), |out| {
            out.extend_from_slice(&reply);
            Ok(())
        })
        .into();
    }
    if let Some(h) = &theader {
        if let Some(ph) = shared
            .payload
            .as_ref()
            .filter(|ph| takes(ph.as_ref(), h.protocol_id, &payload))
        {
            let ctx = Arc::new(context_from(h, None, None, 0, peer));
            let Some(reply) = serve_payload(ph.as_ref(), payload, ctx).await else {
                return Answer::Nothing;
            };
            return frame_reply(codec, Some(h), reply.len(), |out| {
                out.extend_from_slice(&reply);
                Ok(())
            })
            .into();
        }
        proto = match h.protocol_id {
            PROTOCOL_BINARY => Protocol::Binary,
            PROTOCOL_COMPACT => Protocol::Compact,
            // TJSON is 1 in THeader's numbering: a payload protocol added
            // with that id serves it; any other id is unknown.
            id => match with_header_id(&shared.payloads, id) {
                Some(p) => {
                    return transcoded(shared, peer, codec, theader, p, payload).await;
                }
                None => return unsupported(shared, codec, theader.as_ref(), &payload),
            },
        };
    } else if let Some(p) = Protocol::sniff(&payload) {
        proto = p;
    } else if let Some(p) = shared
        .payloads
        .iter()
        .find(|p| contain_sync(PROTOCOL, || p.detect(&payload)) == Some(Match::Yes))
    {
        return transcoded(shared, peer, codec, None, p, payload).await;
    }
    let (header, strict) = match proto.decode_begin(&mut payload) {
        Ok(x) => x,
        Err(_) => return unsupported(shared, codec, theader.as_ref(), &payload),
    };
    let (kind, seq_id) = (header.kind, header.seq_id);
    let (method, reply) = call(shared, peer, theader.as_ref(), header, proto, payload).await;
    if kind == MessageType::Oneway {
        return Answer::Nothing;
    }
    let (kind, body) = match reply {
        ThriftReply::Result(b) => (MessageType::Reply, Ok(b)),
        ThriftReply::Exception(e) => (MessageType::Exception, Err(e)),
        _ => return Answer::Nothing,
    };
    let body_len = body.as_ref().map_or(0, Bytes::len);
    let frame = frame_reply(codec, theader.as_ref(), method.len() + body_len, |out| {
        thrift::encode_parts(proto, &method, kind, seq_id, strict, out);
        match &body {
            Ok(b) => out.extend_from_slice(b),
            Err(e) => thrift::encode_body(proto, e, out)?,
        }
        proto.encode_end(out);
        Ok(())
    });
    if let Ok(b) = body {
        recycle(b);
    }
    frame.into()
}

/// The payload protocol carried under TTHeader/THeader protocol `id`; a
/// panicking `header_protocol_id` claims nothing.
fn with_header_id(
    payloads: &[Arc<dyn thrift::PayloadProtocol>],
    id: u8,
) -> Option<&Arc<dyn thrift::PayloadProtocol>> {
    payloads
        .iter()
        .find(|p| contain_sync(PROTOCOL, || p.header_protocol_id()).flatten() == Some(id))
}

/// Whether the payload handler takes a frame with `protocol_id` and
/// `payload`; a panicking `accepts` declines it.
fn takes(ph: &dyn PayloadHandler, protocol_id: u8, payload: &[u8]) -> bool {
    contain_sync(HANDLER, || ph.accepts(protocol_id, payload)).unwrap_or(false)
}

/// The payload handler's reply to `payload`. A panicking call, in its
/// future or before it made one, ends only this call: it is answered with
/// the handler's internal error, if the handler can say one.
async fn serve_payload(
    ph: &dyn PayloadHandler,
    payload: Bytes,
    ctx: Arc<CallContext>,
) -> Option<Bytes> {
    // A reference count, not a copy: the internal error answers it.
    let request = payload.clone();
    if let Some(reply) = contain(async { ph.call(payload, ctx).await }).await {
        return reply;
    }
    tracing::error!("payload handler panicked; answering with its internal error");
    contain_sync(HANDLER, || ph.internal_error(&request, "handler panicked")).flatten()
}

/// A frame in a payload protocol, served on a boxed future of its own: the
/// Binary and Compact frames' future keeps its size (and its allocation's
/// size class) whatever the transcoded path holds.
fn transcoded<'a>(
    shared: &'a Shared,
    peer: &'a Peer,
    codec: &'a dyn FrameCodec,
    theader: Option<Header>,
    p: &'a Arc<dyn thrift::PayloadProtocol>,
    payload: Bytes,
) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>> {
    Box::pin(transcoded::handle(shared, peer, codec, theader, p, payload))
}
