//! Checked input protocols: pilota's decoders behind length checks.
//!
//! pilota 0.13's `TBinaryProtocol<&mut Bytes>` and `TCompactInputProtocol`
//! call `Bytes::split_to` with a peer-supplied length (a panic when it
//! exceeds the buffer), build strings with `from_utf8_unchecked`, and hand
//! peer-supplied collection sizes to `Vec::with_capacity`. [`Checked`] wraps
//! either one and checks, before delegating, that every length fits in the
//! remaining bytes, that strings are UTF-8, and that a collection's size is
//! at most the remaining byte count (every element takes at least one byte).
//! Skipping uses wego's own walker, which understands compact booleans and
//! bounds depth.

use bytes::{Buf, Bytes};
use pilota::FastStr;
use pilota::thrift::binary::TBinaryProtocol;
use pilota::thrift::{
    Message, ProtocolExceptionKind, TFieldIdentifier, TInputProtocol, TLengthProtocol,
    TListIdentifier, TMapIdentifier, TMessageIdentifier, TMessageType, TSetIdentifier,
    TStructIdentifier, TType, ThriftException, new_protocol_exception,
};

use super::walk::{self, Cursor, Stop};
use super::{CodecError, Protocol};

pub(super) fn decode<M: Message>(proto: Protocol, buf: &mut Bytes) -> Result<M, CodecError> {
    // Structural pre-check of the whole struct: decoding can then only fail
    // on a type mismatch, which the per-read checks below catch.
    let mut cur = Cursor::new(buf, buf.len());
    walk::skip(&mut cur, proto, walk::ttype::STRUCT, walk::MAX_DEPTH)?;
    let r = match proto {
        Protocol::Binary => M::decode(&mut Checked::new(proto, TBinaryProtocol::new(buf, false))),
        Protocol::Compact => M::decode(&mut super::compact_in::CompactIn::new(buf)),
        Protocol::BinaryBase64 => {
            M::decode(&mut Checked::new(proto, TBinaryProtocol::new(buf, false)))
        }
    };
    Ok(r?)
}

/// A pilota input protocol with every peer-controlled length checked.
pub(crate) struct Checked<P> {
    proto: Protocol,
    inner: P,
}

impl<P> Checked<P> {
    fn new(proto: Protocol, inner: P) -> Self {
        Self { proto, inner }
    }
}

fn err(kind: ProtocolExceptionKind, msg: &'static str) -> ThriftException {
    new_protocol_exception(kind, msg)
}

fn stop_err(s: Stop) -> ThriftException {
    match s {
        Stop::NeedMore => err(ProtocolExceptionKind::InvalidData, "truncated"),
        Stop::TooLarge => err(
            ProtocolExceptionKind::SizeLimit,
            "length beyond the message",
        ),
        Stop::Invalid(why) => err(ProtocolExceptionKind::InvalidData, why),
    }
}

impl<P: TInputProtocol<Buf = Bytes>> Checked<P> {
    /// Checks the length-prefixed bytes at the read position; returns their length.
    fn check_binary(&mut self, utf8: bool) -> Result<(), ThriftException> {
        let proto = self.proto;
        let chunk: &[u8] = &self.inner.buf()[..];
        let mut cur = Cursor::new(chunk, chunk.len());
        let raw = cur.binary(proto).map_err(stop_err)?;
        if utf8 && simdutf8::basic::from_utf8(raw).is_err() {
            return Err(err(
                ProtocolExceptionKind::InvalidData,
                "string is not utf-8",
            ));
        }
        Ok(())
    }

    fn check_size(&mut self, size: usize) -> Result<(), ThriftException> {
        if size > self.inner.buf().remaining() {
            return Err(err(
                ProtocolExceptionKind::SizeLimit,
                "collection larger than the message",
            ));
        }
        Ok(())
    }
}

// Generated decoders call the length functions while decoding and drop the
// results. pilota's compact input asserts (panics) in `field_end_len` when a
// boolean field's value is pending, so for compact these answer 0 instead of
// delegating; the binary ones are pure arithmetic and delegate.
macro_rules! delegate_len {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $name(&mut self, $($arg: $ty),*) -> usize {
            match self.proto {
                Protocol::Binary | Protocol::BinaryBase64 => self.inner.$name($($arg),*),
                _ => { $(let _ = $arg;)* 0 }
            }
        })*
    };
}

impl<P: TLengthProtocol> TLengthProtocol for Checked<P> {
    delegate_len! {
        message_begin_len(identifier: &TMessageIdentifier);
        message_end_len();
        struct_begin_len(identifier: &TStructIdentifier);
        struct_end_len();
        field_begin_len(field_type: TType, id: Option<i16>);
        field_end_len();
        field_stop_len();
        bool_len(b: bool);
        bytes_len(b: &[u8]);
        bytes_vec_len(b: &[u8]);
        byte_len(b: u8);
        uuid_len(u: [u8; 16]);
        i8_len(i: i8);
        i16_len(i: i16);
        i32_len(i: i32);
        i64_len(i: i64);
        double_len(d: f64);
        string_len(s: &str);
        faststr_len(s: &FastStr);
        list_begin_len(identifier: TListIdentifier);
        list_end_len();
        set_begin_len(identifier: TSetIdentifier);
        set_end_len();
        map_begin_len(identifier: TMapIdentifier);
        map_end_len();
    }
}

macro_rules! delegate_read {
    ($($name:ident -> $ty:ty;)*) => {
        $(fn $name(&mut self) -> Result<$ty, ThriftException> { self.inner.$name() })*
    };
}

impl<P: TInputProtocol<Buf = Bytes>> TInputProtocol for Checked<P> {
    type Buf = Bytes;

    fn read_message_begin(&mut self) -> Result<TMessageIdentifier, ThriftException> {
        let (h, _) = super::decode_header(self.proto, self.inner.buf())
            .map_err(|_| err(ProtocolExceptionKind::InvalidData, "bad message header"))?;
        let kind = TMessageType::try_from(h.kind.code())?;
        Ok(TMessageIdentifier::new(h.name.into(), kind, h.seq_id))
    }

    delegate_read! {
        read_message_end -> ();
        read_struct_begin -> Option<TStructIdentifier>;
        read_struct_end -> ();
        read_field_begin -> TFieldIdentifier;
        read_field_end -> ();
        read_bool -> bool;
        read_uuid -> [u8; 16];
        read_i8 -> i8;
        read_i16 -> i16;
        read_i32 -> i32;
        read_i64 -> i64;
        read_double -> f64;
        read_list_end -> ();
        read_set_end -> ();
        read_map_end -> ();
        read_byte -> u8;
    }

    fn read_bytes(&mut self) -> Result<Bytes, ThriftException> {
        self.check_binary(false)?;
        let raw = self.inner.read_bytes()?;
        match self.proto {
            Protocol::BinaryBase64 => super::output::from_base64(&raw).map(Bytes::from),
            _ => Ok(raw),
        }
    }

    fn read_string(&mut self) -> Result<String, ThriftException> {
        self.check_binary(true)?;
        self.inner.read_string()
    }

    fn read_faststr(&mut self) -> Result<FastStr, ThriftException> {
        self.check_binary(true)?;
        self.inner.read_faststr()
    }

    fn read_bytes_vec(&mut self) -> Result<Vec<u8>, ThriftException> {
        self.check_binary(false)?;
        let raw = self.inner.read_bytes_vec()?;
        match self.proto {
            Protocol::BinaryBase64 => super::output::from_base64(&raw),
            _ => Ok(raw),
        }
    }

    fn read_list_begin(&mut self) -> Result<TListIdentifier, ThriftException> {
        let id = self.inner.read_list_begin()?;
        self.check_size(id.size)?;
        Ok(id)
    }

    fn read_set_begin(&mut self) -> Result<TSetIdentifier, ThriftException> {
        let id = self.inner.read_set_begin()?;
        self.check_size(id.size)?;
        Ok(id)
    }

    fn read_map_begin(&mut self) -> Result<TMapIdentifier, ThriftException> {
        let id = self.inner.read_map_begin()?;
        self.check_size(id.size)?;
        Ok(id)
    }

    fn skip_till_depth(&mut self, field_type: TType, depth: i8) -> Result<usize, ThriftException> {
        if field_type == TType::Bool {
            // Compact booleans may live in the field header the inner
            // protocol already consumed; let it answer.
            self.inner.read_bool()?;
            return Ok(1);
        }
        let proto = self.proto;
        let chunk: &[u8] = &self.inner.buf()[..];
        let mut cur = Cursor::new(chunk, chunk.len());
        let depth = u32::try_from(depth).unwrap_or(0).min(walk::MAX_DEPTH);
        walk::skip(&mut cur, proto, u8::from(field_type), depth).map_err(stop_err)?;
        let n = cur.pos();
        self.inner.buf().advance(n);
        Ok(n)
    }

    fn get_bytes(&mut self, ptr: Option<*const u8>, len: usize) -> Result<Bytes, ThriftException> {
        if ptr.is_some() || len > self.inner.buf().remaining() {
            // Raw pointers never come from the peer's bytes here: refuse.
            return Err(err(
                ProtocolExceptionKind::InvalidData,
                "unchecked byte access refused",
            ));
        }
        self.inner.get_bytes(None, len)
    }

    fn buf(&mut self) -> &mut Self::Buf {
        self.inner.buf()
    }
}
