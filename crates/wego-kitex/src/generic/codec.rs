//! Dynamic values to and from Thrift binary and compact, through a
//! descriptor.
//!
//! Encoding checks the value against the descriptor first (types, required
//! fields, unions, depth), then writes it with the same pilota output
//! protocols generated code uses, field by field in declaration order, so
//! a dynamic value and the equivalent generated struct encode to the same
//! bytes.
//!
//! Decoding reads the peer's bytes directly, never trusting them: every
//! length is checked against the bytes left, a collection may not claim
//! more elements than bytes remain (each element takes at least one), and
//! nesting is bounded by [`DecodeLimits::max_depth`]. Fields the descriptor
//! does not know, or that arrive with another wire type, are skipped, as
//! generated code does.

use bytes::{Bytes, BytesMut};
use pilota::thrift::{
    Message, ProtocolExceptionKind, TAsyncInputProtocol, TInputProtocol, TLengthProtocol,
    TListIdentifier, TMapIdentifier, TOutputProtocol, TSetIdentifier, TStructIdentifier, TType,
    ThriftException, new_protocol_exception,
};

use super::descriptor::{Descriptor, Requiredness, StructId, StructKind, Type};
use super::error::{Path, Seg, ValueError};
use super::value::{StructValue, Value};
use crate::thrift::walk::{self, Cursor, Stop};
use crate::thrift::{self, Protocol};

/// Limits on decoding untrusted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeLimits {
    /// Deepest nesting of structs and containers (64 by default, as Apache
    /// Thrift's).
    pub max_depth: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_depth: 64 }
    }
}

impl DecodeLimits {
    /// Sets the deepest nesting.
    pub fn with_max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }
}

/// The deepest nesting a value may have when encoded.
pub(crate) const MAX_ENCODE_DEPTH: usize = 64;

fn type_name(d: &Descriptor, ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::I8 => "i8".into(),
        Type::I16 => "i16".into(),
        Type::I32 => "i32".into(),
        Type::I64 => "i64".into(),
        Type::Double => "double".into(),
        Type::String => "string".into(),
        Type::Binary => "binary".into(),
        Type::Uuid => "uuid".into(),
        Type::List(t) => format!("list<{}>", type_name(d, t)),
        Type::Set(t) => format!("set<{}>", type_name(d, t)),
        Type::Map(k, v) => format!("map<{},{}>", type_name(d, k), type_name(d, v)),
        Type::Struct(id) => d
            .get_struct(*id)
            .map_or("struct".into(), |s| s.name.clone()),
        Type::Enum(id) => d
            .get_enum(*id)
            .map_or("enum".into(), |e| format!("enum {}", e.name)),
    }
}

pub(crate) fn describe(d: &Descriptor, ty: &Type) -> String {
    type_name(d, ty)
}

/// Checks `v` against struct `sid`: every field declared with its type,
/// required fields present, unions with at most one field.
///
/// # Errors
///
/// The first mismatch, with its path.
pub fn validate(d: &Descriptor, sid: StructId, v: &StructValue) -> Result<(), ValueError> {
    let mut path = Path::default();
    check_struct(d, sid, v, &mut path)
}

fn check_struct<'a>(
    d: &'a Descriptor,
    sid: StructId,
    v: &StructValue,
    path: &mut Path<'a>,
) -> Result<(), ValueError> {
    if path.depth() > MAX_ENCODE_DEPTH {
        return Err(path.too_deep(MAX_ENCODE_DEPTH));
    }
    let Some(desc) = d.get_struct(sid) else {
        return Err(path.invalid("struct id from another descriptor"));
    };
    for (id, _) in v.fields() {
        if desc.field_by_id(id).is_none() {
            path.push(Seg::Key(id.to_string()));
            let e = ValueError::UnknownField {
                path: path.render(),
            };
            return Err(e);
        }
    }
    for f in &desc.fields {
        path.push(Seg::Field(&f.name));
        match v.get(f.id) {
            Some(fv) => check(d, &f.ty, fv, path)?,
            None if f.requiredness == Requiredness::Required => {
                return Err(ValueError::MissingField {
                    path: path.render(),
                });
            }
            None => {}
        }
        path.pop();
    }
    if desc.kind == StructKind::Union && v.len() > 1 {
        return Err(path.invalid(format!(
            "union {} has {} fields set, at most one allowed",
            desc.name,
            v.len()
        )));
    }
    Ok(())
}

fn check<'a>(
    d: &'a Descriptor,
    ty: &'a Type,
    v: &Value,
    path: &mut Path<'a>,
) -> Result<(), ValueError> {
    if path.depth() > MAX_ENCODE_DEPTH {
        return Err(path.too_deep(MAX_ENCODE_DEPTH));
    }
    match (ty, v) {
        (Type::Bool, Value::Bool(_))
        | (Type::I8, Value::I8(_))
        | (Type::I16, Value::I16(_))
        | (Type::I32 | Type::Enum(_), Value::I32(_))
        | (Type::I64, Value::I64(_))
        | (Type::Double, Value::Double(_))
        | (Type::String, Value::String(_))
        | (Type::Binary, Value::Binary(_))
        | (Type::Uuid, Value::Uuid(_)) => Ok(()),
        (Type::List(t), Value::List(vs)) | (Type::Set(t), Value::Set(vs)) => {
            for (i, e) in vs.iter().enumerate() {
                path.push(Seg::Index(i));
                check(d, t, e, path)?;
                path.pop();
            }
            Ok(())
        }
        (Type::Map(kt, vt), Value::Map(kvs)) => {
            for (i, (k, val)) in kvs.iter().enumerate() {
                path.push(Seg::Index(i));
                check(d, kt, k, path)?;
                check(d, vt, val, path)?;
                path.pop();
            }
            Ok(())
        }
        (Type::Struct(id), Value::Struct(s)) => check_struct(d, *id, s, path),
        _ => Err(path.wrong(type_name(d, ty))),
    }
}

/// Encodes struct `sid` from `v` in `proto`.
///
/// # Errors
///
/// [`ValueError`] if `v` does not match the descriptor (see [`validate`]);
/// nothing is written then.
pub fn encode_struct(
    d: &Descriptor,
    sid: StructId,
    v: &StructValue,
    proto: Protocol,
) -> Result<Bytes, ValueError> {
    validate(d, sid, v)?;
    let mut out = BytesMut::new();
    thrift::encode_body(proto, &Enc { d, sid, v }, &mut out).map_err(|e| {
        // Unreachable after validation; reported rather than assumed.
        ValueError::Invalid {
            path: String::new(),
            reason: e.to_string(),
        }
    })?;
    Ok(out.freeze())
}

/// A validated struct value seen as a pilota message, so that it goes
/// through the same output protocols as generated structs.
struct Enc<'a> {
    d: &'a Descriptor,
    sid: StructId,
    v: &'a StructValue,
}

fn bad(msg: &'static str) -> ThriftException {
    new_protocol_exception(ProtocolExceptionKind::InvalidData, msg)
}

fn ttype(ty: &Type) -> TType {
    match ty {
        Type::Bool => TType::Bool,
        Type::I8 => TType::I8,
        Type::I16 => TType::I16,
        Type::I32 | Type::Enum(_) => TType::I32,
        Type::I64 => TType::I64,
        Type::Double => TType::Double,
        Type::String | Type::Binary => TType::Binary,
        Type::Uuid => TType::Uuid,
        Type::List(_) => TType::List,
        Type::Set(_) => TType::Set,
        Type::Map(..) => TType::Map,
        Type::Struct(_) => TType::Struct,
    }
}

fn write_struct<P: TOutputProtocol>(
    p: &mut P,
    d: &Descriptor,
    sid: StructId,
    v: &StructValue,
) -> Result<(), ThriftException> {
    let desc = d.get_struct(sid).ok_or_else(|| bad("unknown struct"))?;
    p.write_struct_begin(&TStructIdentifier { name: "generic" })?;
    for f in &desc.fields {
        if let Some(fv) = v.get(f.id) {
            p.write_field_begin(ttype(&f.ty), f.id)?;
            write_value(p, d, &f.ty, fv)?;
            p.write_field_end()?;
        }
    }
    p.write_field_stop()?;
    p.write_struct_end()
}

fn write_value<P: TOutputProtocol>(
    p: &mut P,
    d: &Descriptor,
    ty: &Type,
    v: &Value,
) -> Result<(), ThriftException> {
    match (ty, v) {
        (Type::Bool, Value::Bool(b)) => p.write_bool(*b),
        (Type::I8, Value::I8(n)) => p.write_i8(*n),
        (Type::I16, Value::I16(n)) => p.write_i16(*n),
        (Type::I32 | Type::Enum(_), Value::I32(n)) => p.write_i32(*n),
        (Type::I64, Value::I64(n)) => p.write_i64(*n),
        (Type::Double, Value::Double(n)) => p.write_double(*n),
        (Type::String, Value::String(s)) => p.write_string(s),
        (Type::Binary, Value::Binary(b)) => p.write_bytes(b.clone()),
        (Type::Uuid, Value::Uuid(u)) => p.write_uuid(*u),
        (Type::List(t), Value::List(vs)) => {
            p.write_list_begin(TListIdentifier::new(ttype(t), vs.len()))?;
            for e in vs {
                write_value(p, d, t, e)?;
            }
            p.write_list_end()
        }
        (Type::Set(t), Value::Set(vs)) => {
            p.write_set_begin(TSetIdentifier::new(ttype(t), vs.len()))?;
            for e in vs {
                write_value(p, d, t, e)?;
            }
            p.write_set_end()
        }
        (Type::Map(kt, vt), Value::Map(kvs)) => {
            p.write_map_begin(TMapIdentifier::new(ttype(kt), ttype(vt), kvs.len()))?;
            for (k, val) in kvs {
                write_value(p, d, kt, k)?;
                write_value(p, d, vt, val)?;
            }
            p.write_map_end()
        }
        (Type::Struct(id), Value::Struct(s)) => write_struct(p, d, *id, s),
        _ => Err(bad("value does not match its type")),
    }
}

impl Message for Enc<'_> {
    fn encode<T: TOutputProtocol>(&self, p: &mut T) -> Result<(), ThriftException> {
        write_struct(p, self.d, self.sid, self.v)
    }

    fn decode<T: TInputProtocol>(_p: &mut T) -> Result<Self, ThriftException> {
        Err(bad("a dynamic value decodes through its descriptor"))
    }

    async fn decode_async<T: TAsyncInputProtocol>(_p: &mut T) -> Result<Self, ThriftException> {
        Err(bad("a dynamic value decodes through its descriptor"))
    }

    fn size<T: TLengthProtocol>(&self, p: &mut T) -> usize {
        struct_len(p, self.d, self.sid, self.v)
    }
}

fn struct_len<P: TLengthProtocol>(
    p: &mut P,
    d: &Descriptor,
    sid: StructId,
    v: &StructValue,
) -> usize {
    let Some(desc) = d.get_struct(sid) else {
        return 0;
    };
    let mut n = p.struct_begin_len(&TStructIdentifier { name: "generic" });
    for f in &desc.fields {
        if let Some(fv) = v.get(f.id) {
            n += p.field_begin_len(ttype(&f.ty), Some(f.id))
                + value_len(p, d, &f.ty, fv)
                + p.field_end_len();
        }
    }
    n + p.field_stop_len() + p.struct_end_len()
}

fn value_len<P: TLengthProtocol>(p: &mut P, d: &Descriptor, ty: &Type, v: &Value) -> usize {
    match (ty, v) {
        (_, Value::Bool(b)) => p.bool_len(*b),
        (_, Value::I8(n)) => p.i8_len(*n),
        (_, Value::I16(n)) => p.i16_len(*n),
        (_, Value::I32(n)) => p.i32_len(*n),
        (_, Value::I64(n)) => p.i64_len(*n),
        (_, Value::Double(n)) => p.double_len(*n),
        (_, Value::String(s)) => p.string_len(s),
        (_, Value::Binary(b)) => p.bytes_len(b),
        (_, Value::Uuid(u)) => p.uuid_len(*u),
        (Type::List(t), Value::List(vs)) => {
            p.list_begin_len(TListIdentifier::new(ttype(t), vs.len()))
                + vs.iter().map(|e| value_len(p, d, t, e)).sum::<usize>()
                + p.list_end_len()
        }
        (Type::Set(t), Value::Set(vs)) => {
            p.set_begin_len(TSetIdentifier::new(ttype(t), vs.len()))
                + vs.iter().map(|e| value_len(p, d, t, e)).sum::<usize>()
                + p.set_end_len()
        }
        (Type::Map(kt, vt), Value::Map(kvs)) => {
            p.map_begin_len(TMapIdentifier::new(ttype(kt), ttype(vt), kvs.len()))
                + kvs
                    .iter()
                    .map(|(k, x)| value_len(p, d, kt, k) + value_len(p, d, vt, x))
                    .sum::<usize>()
                + p.map_end_len()
        }
        (Type::Struct(id), Value::Struct(s)) => struct_len(p, d, *id, s),
        _ => 0,
    }
}

/// Decodes struct `sid` from `buf` in `proto`, returning it and the bytes
/// it took. Trailing bytes are left alone.
///
/// # Errors
///
/// [`ValueError::Malformed`] for bytes that are not Thrift,
/// [`ValueError::TooDeep`] past the depth limit,
/// [`ValueError::MissingField`] for an absent required field,
/// [`ValueError::Invalid`] for a string that is not UTF-8.
pub fn decode_struct(
    d: &Descriptor,
    sid: StructId,
    buf: &[u8],
    proto: Protocol,
    limits: DecodeLimits,
) -> Result<(StructValue, usize), ValueError> {
    let mut r = Reader {
        d,
        buf,
        pos: 0,
        proto,
        limits,
        last_ids: Vec::new(),
        path: Path::default(),
        depth: 0,
    };
    let v = r.read_struct(sid)?;
    Ok((v, r.pos))
}

/// Compact type codes (the compact spec's `TCompactType`).
mod ctype {
    pub(super) const TRUE: u8 = 1;
    pub(super) const FALSE: u8 = 2;
    pub(super) const BYTE: u8 = 3;
    pub(super) const I16: u8 = 4;
    pub(super) const I32: u8 = 5;
    pub(super) const I64: u8 = 6;
    pub(super) const DOUBLE: u8 = 7;
    pub(super) const BINARY: u8 = 8;
    pub(super) const LIST: u8 = 9;
    pub(super) const SET: u8 = 10;
    pub(super) const MAP: u8 = 11;
    pub(super) const STRUCT: u8 = 12;
    pub(super) const UUID: u8 = 13;
}

/// The `TType` code of a compact type code.
fn from_compact(c: u8) -> Option<u8> {
    Some(match c {
        ctype::TRUE | ctype::FALSE => 2,
        ctype::BYTE => 3,
        ctype::I16 => 6,
        ctype::I32 => 8,
        ctype::I64 => 10,
        ctype::DOUBLE => 4,
        ctype::BINARY => 11,
        ctype::LIST => 15,
        ctype::SET => 14,
        ctype::MAP => 13,
        ctype::STRUCT => 12,
        ctype::UUID => 16,
        _ => return None,
    })
}

struct Reader<'a, 'b> {
    d: &'a Descriptor,
    buf: &'b [u8],
    pos: usize,
    proto: Protocol,
    limits: DecodeLimits,
    /// Compact: the last field id of each struct being read.
    last_ids: Vec<i16>,
    path: Path<'a>,
    depth: usize,
}

type R<T> = Result<T, ValueError>;

impl<'a> Reader<'a, '_> {
    fn take(&mut self, n: usize) -> R<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.path.malformed("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    fn arr<const N: usize>(&mut self) -> R<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn varint(&mut self, max_bytes: usize) -> R<u64> {
        let mut v: u64 = 0;
        for i in 0..max_bytes {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.path.malformed("varint too long"))
    }

    fn zigzag(n: u64) -> i64 {
        ((n >> 1) as i64) ^ -((n & 1) as i64)
    }

    fn i16(&mut self) -> R<i16> {
        match self.proto {
            Protocol::Compact => {
                let n = Self::zigzag(self.varint(3)?);
                i16::try_from(n).map_err(|_| self.path.malformed("i16 out of range"))
            }
            _ => Ok(i16::from_be_bytes(self.arr()?)),
        }
    }

    fn i32(&mut self) -> R<i32> {
        match self.proto {
            Protocol::Compact => {
                let n = Self::zigzag(self.varint(5)?);
                i32::try_from(n).map_err(|_| self.path.malformed("i32 out of range"))
            }
            _ => Ok(i32::from_be_bytes(self.arr()?)),
        }
    }

    fn i64(&mut self) -> R<i64> {
        match self.proto {
            Protocol::Compact => Ok(Self::zigzag(self.varint(10)?)),
            _ => Ok(i64::from_be_bytes(self.arr()?)),
        }
    }

    fn double(&mut self) -> R<f64> {
        match self.proto {
            Protocol::Compact => Ok(f64::from_le_bytes(self.arr()?)),
            _ => Ok(f64::from_be_bytes(self.arr()?)),
        }
    }

    fn binary(&mut self) -> R<&[u8]> {
        let len = match self.proto {
            Protocol::Compact => {
                usize::try_from(self.varint(5)?).map_err(|_| self.path.malformed("length"))?
            }
            _ => {
                let n = i32::from_be_bytes(self.arr()?);
                usize::try_from(n).map_err(|_| self.path.malformed("negative length"))?
            }
        };
        self.take(len)
    }

    /// A collection's size, refused when more than the bytes left could
    /// hold (every element takes at least one byte).
    fn size(&mut self, n: u64) -> R<usize> {
        let left = self.buf.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => Err(self.path.malformed("collection larger than the message")),
        }
    }

    fn list_header(&mut self) -> R<(u8, usize)> {
        match self.proto {
            Protocol::Compact => {
                let b = self.u8()?;
                let short = u64::from(b >> 4);
                let n = if short == 15 { self.varint(5)? } else { short };
                let t =
                    from_compact(b & 0x0f).ok_or_else(|| self.path.malformed("element type"))?;
                Ok((t, self.size(n)?))
            }
            _ => {
                let t = self.u8()?;
                let n = i32::from_be_bytes(self.arr()?);
                let n = u64::try_from(n).map_err(|_| self.path.malformed("negative size"))?;
                Ok((t, self.size(n)?))
            }
        }
    }

    fn map_header(&mut self) -> R<(u8, u8, usize)> {
        match self.proto {
            Protocol::Compact => {
                let n = self.varint(5)?;
                if n == 0 {
                    return Ok((0, 0, 0));
                }
                let n = self.size(n)?;
                let b = self.u8()?;
                let k = from_compact(b >> 4).ok_or_else(|| self.path.malformed("key type"))?;
                let v = from_compact(b & 0x0f).ok_or_else(|| self.path.malformed("value type"))?;
                Ok((k, v, n))
            }
            _ => {
                let k = self.u8()?;
                let v = self.u8()?;
                let n = i32::from_be_bytes(self.arr()?);
                let n = u64::try_from(n).map_err(|_| self.path.malformed("negative size"))?;
                Ok((k, v, self.size(n)?))
            }
        }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.path.too_deep(self.limits.max_depth));
        }
        Ok(())
    }

    /// Skips a value of wire type `t` with wego's checked walker.
    fn skip(&mut self, t: u8) -> R<()> {
        let mut cur = Cursor::new(&self.buf[self.pos..], self.buf.len() - self.pos);
        let depth = u32::try_from(self.limits.max_depth.saturating_sub(self.depth))
            .unwrap_or(walk::MAX_DEPTH)
            .min(walk::MAX_DEPTH);
        walk::skip(&mut cur, self.proto, t, depth).map_err(|s| {
            self.path.malformed(match s {
                Stop::NeedMore => "truncated",
                Stop::TooLarge => "length beyond the message",
                Stop::Invalid(why) => why,
            })
        })?;
        self.pos += cur.pos();
        Ok(())
    }

    fn read_struct(&mut self, sid: StructId) -> R<StructValue> {
        self.enter()?;
        let d = self.d;
        let desc = d
            .get_struct(sid)
            .ok_or_else(|| self.path.invalid("struct id from another descriptor"))?;
        let mut out = StructValue::new();
        self.last_ids.push(0);
        loop {
            // Field header: (wire type, id, compact bool carried in it).
            let (t, id, inline_bool) = match self.proto {
                Protocol::Compact => {
                    let b = self.u8()?;
                    if b == 0 {
                        break;
                    }
                    let c = b & 0x0f;
                    let delta = i16::from(b >> 4);
                    let last = self.last_ids.last().copied().unwrap_or(0);
                    let id = if delta != 0 {
                        last.checked_add(delta)
                            .ok_or_else(|| self.path.malformed("field id"))?
                    } else {
                        self.i16()?
                    };
                    if let Some(l) = self.last_ids.last_mut() {
                        *l = id;
                    }
                    let t = from_compact(c).ok_or_else(|| self.path.malformed("field type"))?;
                    let inline = match c {
                        ctype::TRUE => Some(true),
                        ctype::FALSE => Some(false),
                        _ => None,
                    };
                    (t, id, inline)
                }
                _ => {
                    let t = self.u8()?;
                    if t == 0 {
                        break;
                    }
                    (t, i16::from_be_bytes(self.arr()?), None)
                }
            };
            match desc.field_by_id(id) {
                Some(f) if f.ty.ttype() == t => {
                    self.path.push(Seg::Field(&f.name));
                    let v = match inline_bool {
                        Some(b) => Value::Bool(b),
                        None => self.read_value(&f.ty)?,
                    };
                    self.path.pop();
                    out.set(id, v);
                }
                _ => {
                    if inline_bool.is_none() {
                        self.skip(t)?;
                    }
                }
            }
        }
        self.last_ids.pop();
        for f in &desc.fields {
            if f.requiredness == Requiredness::Required && out.get(f.id).is_none() {
                self.path.push(Seg::Field(&f.name));
                let e = ValueError::MissingField {
                    path: self.path.render(),
                };
                return Err(e);
            }
        }
        self.depth -= 1;
        Ok(out)
    }

    fn elem_check(&self, want: &Type, got: u8) -> R<()> {
        if want.ttype() == got {
            Ok(())
        } else {
            Err(self.path.wrong(describe(self.d, want)))
        }
    }

    fn read_value(&mut self, ty: &'a Type) -> R<Value> {
        Ok(match ty {
            Type::Bool => {
                // Binary: one byte; compact outside a field header: 1 is
                // true (Apache writes 1/2, some writers 1/0).
                let b = self.u8()?;
                Value::Bool(b == 1 || (self.proto == Protocol::Binary && b != 0))
            }
            Type::I8 => Value::I8(i8::from_be_bytes(self.arr()?)),
            Type::I16 => Value::I16(self.i16()?),
            Type::I32 | Type::Enum(_) => Value::I32(self.i32()?),
            Type::I64 => Value::I64(self.i64()?),
            Type::Double => Value::Double(self.double()?),
            Type::String => {
                let s = self.binary()?;
                match std::str::from_utf8(s) {
                    Ok(s) => Value::String(s.to_owned()),
                    Err(_) => return Err(self.path.invalid("string is not utf-8")),
                }
            }
            Type::Binary => Value::Binary(Bytes::copy_from_slice(self.binary()?)),
            Type::Uuid => Value::Uuid(self.arr()?),
            Type::List(t) | Type::Set(t) => {
                self.enter()?;
                let (et, n) = self.list_header()?;
                if n > 0 {
                    self.elem_check(t, et)?;
                }
                let mut vs = Vec::with_capacity(n.min(1024));
                for i in 0..n {
                    self.path.push(Seg::Index(i));
                    vs.push(self.read_value(t)?);
                    self.path.pop();
                }
                self.depth -= 1;
                if matches!(ty, Type::Set(_)) {
                    Value::Set(vs)
                } else {
                    Value::List(vs)
                }
            }
            Type::Map(kt, vt) => {
                self.enter()?;
                let (k, v, n) = self.map_header()?;
                if n > 0 {
                    self.elem_check(kt, k)?;
                    self.elem_check(vt, v)?;
                }
                let mut kvs = Vec::with_capacity(n.min(1024));
                for i in 0..n {
                    self.path.push(Seg::Index(i));
                    let key = self.read_value(kt)?;
                    let val = self.read_value(vt)?;
                    self.path.pop();
                    kvs.push((key, val));
                }
                self.depth -= 1;
                Value::Map(kvs)
            }
            Type::Struct(id) => Value::Struct(self.read_struct(*id)?),
        })
    }
}
