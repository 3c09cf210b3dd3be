//! Calls in a payload protocol added to the server
//! ([`PayloadProtocol`]): the message read with the protocol, its body
//! transcoded into the protocol's body form for the service, the reply's
//! body transcoded back. Binary and Compact frames never come here.
//!
//! A message whose envelope cannot be read has no sequence id to answer:
//! the connection closes, as for any unknown payload. A body that cannot
//! be transcoded is answered with `PROTOCOL_ERROR`; a reply body that
//! cannot (a service's hand-written bytes) with `INTERNAL_ERROR`, so a
//! caller never waits for nothing.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use pilota::FastStr;

use super::shared::{Answer, Peer, Shared, label};
use super::{ThriftReply, dispatch};
use crate::thrift::{
    self, ApplicationException, ExceptionKind, MessageHeader, MessageType, PayloadProtocol, payload,
};
use crate::transport::{FrameCodec, FrameError};
use crate::ttheader::Header;

/// Serves one frame whose payload is in `p`.
pub(super) async fn handle(
    shared: &Shared,
    peer: &Peer,
    codec: &dyn FrameCodec,
    theader: Option<Header>,
    p: &Arc<dyn PayloadProtocol>,
    frame: Bytes,
) -> Answer {
    let len = frame.len();
    let (header, body) = match payload::decode_message(&**p, frame) {
        Ok(x) => x,
        Err(e) => {
            tracing::debug!(peer = label(peer), error = %e, protocol = ?p, "unreadable envelope");
            return Answer::Close {
                len,
                protocol_id: theader.map(|h| h.protocol_id),
            };
        }
    };
    let form = p.body_form();
    let (call_kind, seq_id) = (header.kind, header.seq_id);
    let (method, reply) = match body {
        Ok(args) => dispatch::call(shared, peer, theader.as_ref(), header, form, args).await,
        Err(e) => {
            tracing::debug!(peer = label(peer), error = %e, protocol = ?p, "body not transcoded");
            let e = ApplicationException::new(ExceptionKind::ProtocolError, e.to_string());
            (FastStr::new(&header.name), ThriftReply::Exception(e))
        }
    };
    if call_kind == MessageType::Oneway {
        return Answer::Nothing;
    }
    let (kind, body) = match reply {
        ThriftReply::Result(b) => (MessageType::Reply, b),
        ThriftReply::Exception(e) => (MessageType::Exception, exception_body(form, &e)),
        _ => return Answer::Nothing,
    };
    let mut env = MessageHeader {
        name: method.to_string(),
        kind,
        seq_id,
    };
    let hint = env.name.len() + body.len();
    dispatch::frame_reply(codec, theader.as_ref(), hint, |out| {
        let start = out.len();
        let Err(e) = payload::encode_message(&**p, &env, &body, out) else {
            return Ok(());
        };
        tracing::debug!(error = %e, protocol = ?p, "reply body not transcoded");
        out.truncate(start);
        env.kind = MessageType::Exception;
        let e = ApplicationException::new(ExceptionKind::InternalError, "reply not transcoded");
        payload::encode_message(&**p, &env, &exception_body(form, &e), out)
            .map_err(FrameError::Thrift)
    })
    .into()
}

/// `e` as a struct body in `form`.
fn exception_body(form: thrift::Protocol, e: &ApplicationException) -> Bytes {
    let mut out = BytesMut::new();
    // An exception (a string and an i32) always encodes.
    let _ = thrift::encode_body(form, e, &mut out);
    out.freeze()
}
