//! Replies in a payload protocol ([`PayloadProtocol`]): the envelope read
//! and the body transcoded into the protocol's body form.

use bytes::Bytes;

use super::Config;
use crate::thrift::{MessageHeader, PayloadProtocol, payload};
use crate::ttheader::Header;
use crate::{Error, Result};

/// The reply's envelope and its body in `p`'s body form.
pub(super) fn decode_reply(
    p: &dyn PayloadProtocol,
    cfg: &Config,
    h: Option<&Header>,
    frame: Bytes,
) -> Result<(MessageHeader, Bytes)> {
    if let Some(h) = h
        && h.protocol_id != cfg.header_protocol_id
    {
        return Err(Error::protocol("reply with an unknown protocol id"));
    }
    let (env, body) = payload::decode_message(p, frame).map_err(Error::protocol)?;
    Ok((env, body.map_err(Error::protocol)?))
}
