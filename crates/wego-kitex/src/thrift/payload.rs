//! [`PayloadProtocol`]: a Thrift payload protocol wego-kitex does not ship
//! (TJSON, say), carrying whole messages, bodies included.
//!
//! Generated code encodes and decodes struct bodies through pilota's
//! protocols, chosen by the [`Protocol`] enum; a protocol written in
//! another crate cannot join that enum. It transcodes instead: on the way
//! in, its body becomes the [`body_form`](PayloadProtocol::body_form)
//! (binary by default) that the service decodes; on the way out, the
//! service's body in that form becomes its own. [`transcode`](super::transcode)
//! gives it a checked reader and a writer of binary bodies. Binary and
//! Compact never pass through here.

use bytes::{Bytes, BytesMut};

use super::sniff::Match;
use super::{CodecError, MessageCodec, Protocol};

/// A payload protocol beyond Binary and Compact: its envelope and end
/// ([`MessageCodec`]), how to recognise it, and its struct bodies,
/// transcoded from and to a built-in body form.
///
/// A server takes it with `ServerBuilder::with_payload_protocol` (asked
/// after Binary and Compact, per frame, and for an unframed connection
/// after the built-in detection); a client with
/// `ClientBuilder::with_payload_protocol`. It works through every framing:
/// Buffered finds a message's end with [`MessageCodec::message_len`].
pub trait PayloadProtocol: MessageCodec {
    /// Whether a message starting with `first` is in this protocol. Asked
    /// only of bytes that are not a Binary or Compact message; an unframed
    /// connection gives up on [`Match::NeedMore`] after 64 bytes.
    fn detect(&self, first: &[u8]) -> Match;

    /// The TTHeader/THeader protocol id of this protocol (THeader numbers
    /// TJSON 1), or `None` when it is never carried in a header.
    fn header_protocol_id(&self) -> Option<u8> {
        None
    }

    /// The built-in body form [`decode_body`](Self::decode_body) produces
    /// and [`encode_body`](Self::encode_body) reads: [`Protocol::Binary`],
    /// or [`Protocol::BinaryBase64`] for a text protocol whose `binary`
    /// fields are base64 (the services' generated code then decodes and
    /// encodes them). Services and clients see this as the message's
    /// protocol.
    fn body_form(&self) -> Protocol {
        Protocol::Binary
    }

    /// Transcodes the struct body at the front of `src` (just after
    /// [`decode_begin`](MessageCodec::decode_begin)) into
    /// [`body_form`](Self::body_form), appending it to `dst`, and advances
    /// `src` past it.
    ///
    /// # Errors
    ///
    /// Any [`CodecError`] for a malformed or oversized body; the call is
    /// then answered with a `PROTOCOL_ERROR` exception in this protocol.
    fn decode_body(&self, src: &mut Bytes, dst: &mut BytesMut) -> Result<(), CodecError>;

    /// Transcodes `body`, a struct body in [`body_form`](Self::body_form),
    /// into this protocol, appending it to `dst`.
    ///
    /// # Errors
    ///
    /// Any [`CodecError`] when `body` is not a valid struct body.
    fn encode_body(&self, body: &[u8], dst: &mut BytesMut) -> Result<(), CodecError>;
}

impl<P: PayloadProtocol + ?Sized> PayloadProtocol for std::sync::Arc<P> {
    fn detect(&self, first: &[u8]) -> Match {
        (**self).detect(first)
    }

    fn header_protocol_id(&self) -> Option<u8> {
        (**self).header_protocol_id()
    }

    fn body_form(&self) -> Protocol {
        (**self).body_form()
    }

    fn decode_body(&self, src: &mut Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        (**self).decode_body(src, dst)
    }

    fn encode_body(&self, body: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        (**self).encode_body(body, dst)
    }
}

/// Appends a whole message in `p`: envelope, `body` (in `p`'s body form)
/// transcoded, end.
pub(crate) fn encode_message(
    p: &dyn PayloadProtocol,
    header: &super::MessageHeader,
    body: &[u8],
    dst: &mut BytesMut,
) -> Result<(), CodecError> {
    p.encode_begin(header, true, dst);
    p.encode_body(body, dst)?;
    p.encode_end(dst);
    Ok(())
}

/// Reads a whole message in `p`: its envelope and its body transcoded into
/// `p`'s body form. A decoded envelope comes back even when the body fails,
/// so that the failure can be answered.
pub(crate) fn decode_message(
    p: &dyn PayloadProtocol,
    mut payload: Bytes,
) -> Result<(super::MessageHeader, Result<Bytes, CodecError>), CodecError> {
    let (header, _) = p.decode_begin(&mut payload)?;
    Ok((header, decode_rest(p, payload)))
}

/// Reads the rest of a message in `p` once its envelope is read: its body
/// transcoded into `p`'s body form, its end, and nothing after it.
pub(crate) fn decode_rest(
    p: &dyn PayloadProtocol,
    mut payload: Bytes,
) -> Result<Bytes, CodecError> {
    let mut body = BytesMut::with_capacity(payload.len());
    p.decode_body(&mut payload, &mut body)?;
    p.decode_end(&mut payload)?;
    if payload.is_empty() {
        Ok(body.freeze())
    } else {
        Err(CodecError::Invalid("bytes after the message"))
    }
}
