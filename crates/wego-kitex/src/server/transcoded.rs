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
//!
//! The protocol is code from outside the crate, run on the connection's
//! task: its panic is contained to the call (`crate::contain`). Once the
//! envelope is read, the call is answered `INTERNAL_ERROR` ("payload
//! protocol panicked"), or gets no reply if the protocol panics writing
//! that too; a panic before has no call to answer and closes the
//! connection, as an unreadable envelope does.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use pilota::FastStr;

use super::shared::{Answer, Peer, Shared, label};
use super::{ThriftReply, dispatch};
use crate::contain::contain_sync;
use crate::thrift::{
    self, ApplicationException, ExceptionKind, MessageHeader, MessageType, PayloadProtocol, payload,
};
use crate::transport::{FrameCodec, FrameError};
use crate::ttheader::Header;

/// What a panicking payload protocol is logged as.
pub(super) const PROTOCOL: &str = "payload protocol";

/// Serves one frame whose payload is in `p`.
pub(super) async fn handle(
    shared: &Shared,
    peer: &Peer,
    codec: &dyn FrameCodec,
    theader: Option<Header>,
    p: &Arc<dyn PayloadProtocol>,
    frame: Bytes,
) -> Answer {
    let close = Answer::Close {
        len: frame.len(),
        protocol_id: theader.as_ref().map(|h| h.protocol_id),
    };
    let mut rest = frame;
    // A panic before the envelope is read leaves nothing to answer, as an
    // unreadable envelope does.
    let header = match contain_sync(PROTOCOL, || p.decode_begin(&mut rest)) {
        Some(Ok((header, _))) => header,
        Some(Err(e)) => {
            tracing::debug!(peer = label(peer), error = %e, protocol = ?p, "unreadable envelope");
            return close;
        }
        None => return close,
    };
    let Some(form) = contain_sync(PROTOCOL, || p.body_form()) else {
        return close;
    };
    let (call_kind, seq_id) = (header.kind, header.seq_id);
    let (method, reply) = match contain_sync(PROTOCOL, || payload::decode_rest(&**p, rest)) {
        Some(Ok(args)) => dispatch::call(shared, peer, theader.as_ref(), header, form, args).await,
        Some(Err(e)) => {
            tracing::debug!(peer = label(peer), error = %e, protocol = ?p, "body not transcoded");
            let e = ApplicationException::new(ExceptionKind::ProtocolError, e.to_string());
            (FastStr::new(&header.name), ThriftReply::Exception(e))
        }
        None => (
            FastStr::new(&header.name),
            ThriftReply::Exception(panicked()),
        ),
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
        let e = match contain_sync(PROTOCOL, || payload::encode_message(&**p, &env, &body, out)) {
            Some(Ok(())) => return Ok(()),
            Some(Err(e)) => {
                tracing::debug!(error = %e, protocol = ?p, "reply body not transcoded");
                ApplicationException::new(ExceptionKind::InternalError, "reply not transcoded")
            }
            None => panicked(),
        };
        out.truncate(start);
        env.kind = MessageType::Exception;
        let body = exception_body(form, &e);
        // A protocol that panics writing the exception too sends no reply.
        contain_sync(PROTOCOL, || payload::encode_message(&**p, &env, &body, out))
            .ok_or(FrameError::Malformed("payload protocol panicked"))?
            .map_err(FrameError::Thrift)
    })
    .into()
}

/// What a call whose payload protocol panicked is answered.
fn panicked() -> ApplicationException {
    ApplicationException::new(ExceptionKind::InternalError, "payload protocol panicked")
}

/// `e` as a struct body in `form`.
fn exception_body(form: thrift::Protocol, e: &ApplicationException) -> Bytes {
    let mut out = BytesMut::new();
    // An exception (a string and an i32) always encodes.
    let _ = thrift::encode_body(form, e, &mut out);
    out.freeze()
}
