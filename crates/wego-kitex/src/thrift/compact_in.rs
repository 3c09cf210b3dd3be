//! wego's compact input protocol for pilota-generated decoders.
//!
//! pilota 0.13.1's `TCompactInputProtocol` cannot decode Apache peers'
//! messages correctly: its `read_struct_end` does not restore the enclosing
//! struct's last field id (so the field after a nested struct gets a wrong
//! id), and its length functions panic on a pending boolean. This reader
//! follows the compact spec (`thrift-compact-protocol.md`) and checks every
//! length, size and string like the binary [`Checked`](super::input) wrapper.

use bytes::{Buf, Bytes};
use pilota::FastStr;
use pilota::thrift::{
    ProtocolExceptionKind, TFieldIdentifier, TInputProtocol, TLengthProtocol, TListIdentifier,
    TMapIdentifier, TMessageIdentifier, TMessageType, TSetIdentifier, TStructIdentifier, TType,
    ThriftException, new_protocol_exception,
};

use super::Protocol;
use super::walk::{self, Cursor, Stop};

pub(crate) struct CompactIn<'a> {
    buf: &'a mut Bytes,
    last_id: i16,
    stack: Vec<i16>,
    pending_bool: Option<bool>,
}

impl<'a> CompactIn<'a> {
    pub(crate) fn new(buf: &'a mut Bytes) -> Self {
        Self {
            buf,
            last_id: 0,
            stack: Vec::new(),
            pending_bool: None,
        }
    }

    fn varint(&mut self, max: usize) -> Result<u64, ThriftException> {
        let mut cur = Cursor::new(&self.buf[..], self.buf.len());
        let v = cur.varint(max).map_err(stop)?;
        let n = cur.pos();
        self.buf.advance(n);
        Ok(v)
    }

    fn zigzag(&mut self, max: usize) -> Result<i64, ThriftException> {
        let v = self.varint(max)?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn u8(&mut self) -> Result<u8, ThriftException> {
        if !self.buf.has_remaining() {
            return Err(stop(Stop::NeedMore));
        }
        Ok(self.buf.get_u8())
    }

    fn binary(&mut self, utf8: bool) -> Result<Bytes, ThriftException> {
        let len = usize::try_from(self.varint(5)?).map_err(|_| stop(Stop::TooLarge))?;
        if len > self.buf.len() {
            return Err(stop(Stop::TooLarge));
        }
        let b = self.buf.split_to(len);
        if utf8 && simdutf8::basic::from_utf8(&b).is_err() {
            return Err(new_protocol_exception(
                ProtocolExceptionKind::InvalidData,
                "string is not utf-8",
            ));
        }
        Ok(b)
    }

    fn ttype(nibble: u8) -> Result<TType, ThriftException> {
        Ok(match nibble {
            0 => TType::Stop,
            1 | 2 => TType::Bool,
            3 => TType::I8,
            4 => TType::I16,
            5 => TType::I32,
            6 => TType::I64,
            7 => TType::Double,
            8 => TType::Binary,
            9 => TType::List,
            10 => TType::Set,
            11 => TType::Map,
            12 => TType::Struct,
            13 => TType::Uuid,
            _ => {
                return Err(new_protocol_exception(
                    ProtocolExceptionKind::InvalidData,
                    "unknown compact type",
                ));
            }
        })
    }

    fn collection(&mut self) -> Result<(TType, usize), ThriftException> {
        let h = self.u8()?;
        let elem = Self::ttype(h & 0x0f)?;
        let n = match h >> 4 {
            15 => usize::try_from(self.varint(5)?).map_err(|_| stop(Stop::TooLarge))?,
            small => usize::from(small),
        };
        self.check_size(n)?;
        Ok((elem, n))
    }

    fn check_size(&self, n: usize) -> Result<(), ThriftException> {
        // Every element takes at least one byte.
        if n > self.buf.len() {
            return Err(stop(Stop::TooLarge));
        }
        Ok(())
    }
}

fn stop(s: Stop) -> ThriftException {
    match s {
        Stop::NeedMore => new_protocol_exception(ProtocolExceptionKind::InvalidData, "truncated"),
        Stop::TooLarge => new_protocol_exception(
            ProtocolExceptionKind::SizeLimit,
            "length beyond the message",
        ),
        Stop::Invalid(why) => new_protocol_exception(ProtocolExceptionKind::InvalidData, why),
    }
}

macro_rules! zero_len {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        // Decoders call these and drop the results; there is nothing to size.
        $(fn $name(&mut self, $($arg: $ty),*) -> usize { $(let _ = $arg;)* 0 })*
    };
}

impl TLengthProtocol for CompactIn<'_> {
    zero_len! {
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

impl TInputProtocol for CompactIn<'_> {
    type Buf = Bytes;

    fn read_message_begin(&mut self) -> Result<TMessageIdentifier, ThriftException> {
        let (h, _) = super::decode_header(Protocol::Compact, self.buf).map_err(|_| {
            new_protocol_exception(ProtocolExceptionKind::InvalidData, "bad message header")
        })?;
        Ok(TMessageIdentifier::new(
            h.name.into(),
            TMessageType::try_from(h.kind.code())?,
            h.seq_id,
        ))
    }

    fn read_message_end(&mut self) -> Result<(), ThriftException> {
        Ok(())
    }

    fn read_struct_begin(&mut self) -> Result<Option<TStructIdentifier>, ThriftException> {
        if self.stack.len() >= walk::MAX_DEPTH as usize {
            return Err(stop(Stop::Invalid("nesting too deep")));
        }
        self.stack.push(self.last_id);
        self.last_id = 0;
        Ok(None)
    }

    fn read_struct_end(&mut self) -> Result<(), ThriftException> {
        self.last_id = self
            .stack
            .pop()
            .ok_or_else(|| stop(Stop::Invalid("struct end without begin")))?;
        Ok(())
    }

    fn read_field_begin(&mut self) -> Result<TFieldIdentifier, ThriftException> {
        let h = self.u8()?;
        if h == 0 {
            return Ok(TFieldIdentifier::new::<Option<&'static str>, i16>(
                None,
                TType::Stop,
                0,
            ));
        }
        let ty = Self::ttype(h & 0x0f)?;
        let id = match h >> 4 {
            0 => i16::try_from(self.zigzag(3)?)
                .map_err(|_| stop(Stop::Invalid("field id out of range")))?,
            delta => self
                .last_id
                .checked_add(i16::from(delta))
                .ok_or_else(|| stop(Stop::Invalid("field id overflows")))?,
        };
        self.last_id = id;
        self.pending_bool = match h & 0x0f {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        };
        Ok(TFieldIdentifier::new::<Option<&'static str>, i16>(
            None, ty, id,
        ))
    }

    fn read_field_end(&mut self) -> Result<(), ThriftException> {
        self.pending_bool = None;
        Ok(())
    }

    fn read_bool(&mut self) -> Result<bool, ThriftException> {
        match self.pending_bool.take() {
            Some(b) => Ok(b),
            // Inside collections a bool is one byte: 1 is true (Apache writes 2 or 0 for false).
            None => Ok(self.u8()? == 1),
        }
    }

    fn read_bytes(&mut self) -> Result<Bytes, ThriftException> {
        self.binary(false)
    }

    fn read_uuid(&mut self) -> Result<[u8; 16], ThriftException> {
        if self.buf.len() < 16 {
            return Err(stop(Stop::NeedMore));
        }
        let mut u = [0u8; 16];
        self.buf.copy_to_slice(&mut u);
        Ok(u)
    }

    fn read_i8(&mut self) -> Result<i8, ThriftException> {
        Ok(self.u8()? as i8)
    }

    fn read_i16(&mut self) -> Result<i16, ThriftException> {
        i16::try_from(self.zigzag(3)?).map_err(|_| stop(Stop::Invalid("i16 out of range")))
    }

    fn read_i32(&mut self) -> Result<i32, ThriftException> {
        i32::try_from(self.zigzag(5)?).map_err(|_| stop(Stop::Invalid("i32 out of range")))
    }

    fn read_i64(&mut self) -> Result<i64, ThriftException> {
        self.zigzag(10)
    }

    fn read_double(&mut self) -> Result<f64, ThriftException> {
        if self.buf.len() < 8 {
            return Err(stop(Stop::NeedMore));
        }
        Ok(self.buf.get_f64_le())
    }

    fn read_string(&mut self) -> Result<String, ThriftException> {
        let b = self.binary(true)?;
        Ok(String::from_utf8(b.to_vec()).unwrap_or_default())
    }

    fn read_faststr(&mut self) -> Result<FastStr, ThriftException> {
        let b = self.binary(true)?;
        FastStr::from_bytes(b).map_err(|_| {
            new_protocol_exception(ProtocolExceptionKind::InvalidData, "string is not utf-8")
        })
    }

    fn read_list_begin(&mut self) -> Result<TListIdentifier, ThriftException> {
        let (t, n) = self.collection()?;
        Ok(TListIdentifier::new(t, n))
    }

    fn read_list_end(&mut self) -> Result<(), ThriftException> {
        Ok(())
    }

    fn read_set_begin(&mut self) -> Result<TSetIdentifier, ThriftException> {
        let (t, n) = self.collection()?;
        Ok(TSetIdentifier::new(t, n))
    }

    fn read_set_end(&mut self) -> Result<(), ThriftException> {
        Ok(())
    }

    fn read_map_begin(&mut self) -> Result<TMapIdentifier, ThriftException> {
        let n = usize::try_from(self.varint(5)?).map_err(|_| stop(Stop::TooLarge))?;
        if n == 0 {
            return Ok(TMapIdentifier::new(TType::Stop, TType::Stop, 0));
        }
        self.check_size(n)?;
        let kv = self.u8()?;
        Ok(TMapIdentifier::new(
            Self::ttype(kv >> 4)?,
            Self::ttype(kv & 0x0f)?,
            n,
        ))
    }

    fn read_map_end(&mut self) -> Result<(), ThriftException> {
        Ok(())
    }

    fn skip_till_depth(&mut self, field_type: TType, depth: i8) -> Result<usize, ThriftException> {
        if field_type == TType::Bool {
            self.read_bool()?;
            return Ok(1);
        }
        let mut cur = Cursor::new(&self.buf[..], self.buf.len());
        let depth = u32::try_from(depth).unwrap_or(0).min(walk::MAX_DEPTH);
        walk::skip(&mut cur, Protocol::Compact, u8::from(field_type), depth).map_err(stop)?;
        let n = cur.pos();
        self.buf.advance(n);
        Ok(n)
    }

    fn read_byte(&mut self) -> Result<u8, ThriftException> {
        self.u8()
    }

    fn read_bytes_vec(&mut self) -> Result<Vec<u8>, ThriftException> {
        Ok(self.binary(false)?.to_vec())
    }

    fn get_bytes(&mut self, ptr: Option<*const u8>, len: usize) -> Result<Bytes, ThriftException> {
        if ptr.is_some() || len > self.buf.len() {
            return Err(new_protocol_exception(
                ProtocolExceptionKind::InvalidData,
                "unchecked byte access refused",
            ));
        }
        Ok(self.buf.split_to(len))
    }

    fn buf(&mut self) -> &mut Self::Buf {
        self.buf
    }
}
