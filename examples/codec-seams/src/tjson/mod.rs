//! [`TJson`]: Apache Thrift's TJSONProtocol (version 1) as a wego-kitex
//! payload protocol, written against the public seam only
//! ([`PayloadProtocol`]).
//!
//! A message is one JSON array, `[1,"name",type,seqid,{...}]`; a struct is
//! an object keyed by field id whose values name their type,
//! `{"1":{"i32":5},"2":{"str":"x"}}`; the type names are `tf` (0 or 1),
//! `i8`, `i16`, `i32`, `i64`, `dbl` (a number, or `"NaN"`, `"Infinity"`,
//! `"-Infinity"`), `str` (text, or base64 for `binary`), `rec`, `lst` and
//! `set` (`["i32",3,1,2,3]`), `map` (`["i32","str",1,{"7":"x"}]`, keys
//! always quoted) and `uid`.
//!
//! Bodies are transcoded: decoding a message writes its struct in the
//! [`Protocol::BinaryBase64`] form (a `str` value's text stays text, so a
//! `binary` field's base64 reaches the generated decoder, which decodes it)
//! and encoding reads that form back. Every read is bounded by
//! [`BodyLimits`] (nesting depth, string length, collection size) and the
//! frame limit, and fails with a typed [`TJsonError`].
//!
//! On an unframed (Buffered) connection nothing but the text says where a
//! message ends: [`MessageCodec::message_len_resume`] matches its brackets
//! and keeps how far it got in the connection's
//! [`DecodeState`], so each read scans
//! only the bytes it brought.

mod read;
mod write;

#[cfg(test)]
mod tests;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use wego_kitex::thrift::transcode::BodyLimits;
use wego_kitex::thrift::{
    CodecError, DecodeState, MessageCodec, MessageHeader, MessageType, PayloadProtocol, Protocol,
};
use wego_kitex::transport::Match;

/// THeader's protocol id for TJSON.
pub const THEADER_PROTOCOL_ID: u8 = 1;
/// Longest method name read.
const MAX_NAME_LEN: usize = 64 * 1024;

/// Why TJSON could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TJsonError {
    /// The input ended inside the message.
    #[error("tjson message truncated")]
    Truncated,
    /// A byte that the grammar does not allow here.
    #[error("tjson syntax error at byte {at}: expected {expected}")]
    Syntax {
        /// The offset of the byte.
        at: usize,
        /// What the grammar wanted.
        expected: &'static str,
    },
    /// The message version is not 1.
    #[error("unsupported tjson version {0}")]
    BadVersion(i64),
    /// A type name that is not one of TJSON's.
    #[error("unknown tjson type name at byte {at}")]
    UnknownType {
        /// The offset of the name.
        at: usize,
    },
    /// A number that does not fit its type (or a message type, field id or
    /// seqid out of range).
    #[error("tjson number out of range at byte {at}")]
    OutOfRange {
        /// The offset of the number.
        at: usize,
    },
    /// A string escape that is malformed, or a string that is not UTF-8.
    #[error("tjson string malformed at byte {at}")]
    BadString {
        /// The offset of the string's problem.
        at: usize,
    },
    /// A collection whose elements differ in number from its count.
    #[error("tjson collection declares {declared} elements at byte {at}")]
    CountMismatch {
        /// The declared count.
        declared: usize,
        /// The offset where the difference showed.
        at: usize,
    },
    /// A map key type TJSON cannot write as an object key.
    #[error("tjson map keys must be scalars")]
    UnsupportedKey,
    /// Nesting deeper than the limit.
    #[error("tjson nesting deeper than {max}")]
    TooDeep {
        /// The limit.
        max: u32,
    },
    /// A string, collection or message beyond its limit.
    #[error("tjson value larger than the limit of {max}")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The struct body read from the service is malformed.
    #[error("struct body: {0}")]
    Body(#[from] CodecError),
}

impl TJsonError {
    /// A short static reason, for [`CodecError::Invalid`].
    pub fn reason(&self) -> &'static str {
        match self {
            TJsonError::Truncated => "tjson message truncated",
            TJsonError::Syntax { .. } => "tjson syntax error",
            TJsonError::BadVersion(_) => "unsupported tjson version",
            TJsonError::UnknownType { .. } => "unknown tjson type name",
            TJsonError::OutOfRange { .. } => "tjson number out of range",
            TJsonError::BadString { .. } => "tjson string malformed",
            TJsonError::CountMismatch { .. } => "tjson collection count mismatch",
            TJsonError::UnsupportedKey => "tjson map keys must be scalars",
            TJsonError::TooDeep { .. } => "tjson nesting too deep",
            TJsonError::TooLarge { .. } => "tjson value too large",
            TJsonError::Body(_) => "struct body malformed",
        }
    }
}

impl From<TJsonError> for CodecError {
    fn from(e: TJsonError) -> Self {
        match e {
            TJsonError::Truncated => CodecError::Truncated,
            TJsonError::TooLarge { max } => CodecError::TooLarge { max },
            TJsonError::Body(e) => e,
            e => CodecError::Invalid(e.reason()),
        }
    }
}

/// Apache Thrift's TJSONProtocol as a [`PayloadProtocol`]: give it to
/// `ServerBuilder::with_payload_protocol` and
/// `ClientBuilder::with_payload_protocol`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TJson {
    limits: BodyLimits,
}

impl TJson {
    /// TJSON with the default [`BodyLimits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Bounds what a message may hold.
    pub fn with_limits(mut self, limits: BodyLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Reads a message envelope, `[1,"name",type,seqid,`, from the front of
    /// `buf`; returns it and its length.
    ///
    /// # Errors
    ///
    /// Any [`TJsonError`]; [`TJsonError::Truncated`] for a prefix.
    pub fn read_envelope(&self, buf: &[u8]) -> Result<(MessageHeader, usize), TJsonError> {
        let mut r = read::Reader::new(buf, self.limits);
        r.expect(b'[', "[")?;
        let version = r.integer()?;
        if version != 1 {
            return Err(TJsonError::BadVersion(version));
        }
        r.expect(b',', ",")?;
        let name = r.string_within(MAX_NAME_LEN)?;
        let name = String::from_utf8(name).map_err(|_| TJsonError::BadString { at: r.pos() })?;
        r.expect(b',', ",")?;
        let at = r.pos();
        let kind = u8::try_from(r.integer()?)
            .ok()
            .and_then(|c| MessageType::from_code(c).ok())
            .ok_or(TJsonError::OutOfRange { at })?;
        r.expect(b',', ",")?;
        let at = r.pos();
        let seq_id = i32::try_from(r.integer()?).map_err(|_| TJsonError::OutOfRange { at })?;
        r.expect(b',', ",")?;
        Ok((MessageHeader { name, kind, seq_id }, r.pos()))
    }

    /// Transcodes the struct at the front of `json` into the binary form,
    /// appending it to `dst`; returns how many bytes of `json` it took.
    ///
    /// # Errors
    ///
    /// Any [`TJsonError`].
    pub fn json_to_binary(&self, json: &[u8], dst: &mut BytesMut) -> Result<usize, TJsonError> {
        let mut r = read::Reader::new(json, self.limits);
        r.struct_body(dst)?;
        Ok(r.pos())
    }

    /// Transcodes `body`, one struct in the binary form, into TJSON,
    /// appending it to `dst`.
    ///
    /// # Errors
    ///
    /// Any [`TJsonError`] (a malformed body is [`TJsonError::Body`]).
    pub fn binary_to_json(&self, body: &[u8], dst: &mut BytesMut) -> Result<(), TJsonError> {
        write::struct_body(body, self.limits, dst)
    }
}

/// A message's length as [`MessageCodec::message_len`] answers it.
fn found(r: Result<usize, TJsonError>) -> Result<Option<usize>, CodecError> {
    match r {
        Ok(n) => Ok(Some(n)),
        Err(TJsonError::Truncated) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl MessageCodec for TJson {
    fn message_len(&self, buf: &[u8], max: usize) -> Result<Option<usize>, CodecError> {
        found(read::message_len(buf, self.limits.max_depth, max))
    }

    /// Keeps the scan's progress (its position, nesting and whether it is
    /// inside a string) in the connection's `state`, so an unframed
    /// message is scanned once however many reads bring it: a scan from
    /// byte 0 after every read costs O(B²) for a message of B bytes.
    fn message_len_resume(
        &self,
        buf: &[u8],
        max: usize,
        state: &mut DecodeState,
    ) -> Result<Option<usize>, CodecError> {
        let scan = state.codec_state::<read::Scan>();
        let r = read::message_len_from(buf, self.limits.max_depth, max, scan);
        if !matches!(r, Err(TJsonError::Truncated)) {
            // Found, or failed: the next message starts over.
            *scan = read::Scan::default();
        }
        found(r)
    }

    fn decode_begin(&self, buf: &mut Bytes) -> Result<(MessageHeader, bool), CodecError> {
        let (h, n) = self.read_envelope(buf)?;
        buf.advance(n);
        Ok((h, true))
    }

    fn encode_begin(&self, header: &MessageHeader, _strict: bool, dst: &mut BytesMut) {
        dst.put_slice(b"[1,");
        write::string(dst, header.name.as_bytes());
        dst.put_slice(format!(",{},{},", header.kind.code(), header.seq_id).as_bytes());
    }

    fn encode_end(&self, dst: &mut BytesMut) {
        dst.put_u8(b']');
    }

    fn decode_end(&self, buf: &mut Bytes) -> Result<(), CodecError> {
        let mut r = read::Reader::new(buf, self.limits);
        r.expect(b']', "]")?;
        let n = r.pos();
        buf.advance(n);
        Ok(())
    }
}

impl PayloadProtocol for TJson {
    /// `[1,"`: the opening of every TJSON message Apache's writers send.
    fn detect(&self, first: &[u8]) -> Match {
        const OPENING: &[u8] = b"[1,\"";
        let n = first.len().min(OPENING.len());
        if first[..n] != OPENING[..n] {
            Match::No
        } else if n < OPENING.len() {
            Match::NeedMore
        } else {
            Match::Yes
        }
    }

    fn header_protocol_id(&self) -> Option<u8> {
        Some(THEADER_PROTOCOL_ID)
    }

    fn body_form(&self) -> Protocol {
        Protocol::BinaryBase64
    }

    fn decode_body(&self, src: &mut Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        let n = self.json_to_binary(src, dst)?;
        src.advance(n);
        Ok(())
    }

    fn encode_body(&self, body: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(self.binary_to_json(body, dst)?)
    }
}
