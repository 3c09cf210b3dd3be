//! Reading and writing binary struct bodies value by value, for payload
//! protocols that transcode ([`PayloadProtocol`](super::PayloadProtocol)).
//!
//! [`BinaryReader`] walks a body in the binary form (also the
//! [`Protocol::BinaryBase64`](super::Protocol::BinaryBase64) form, which
//! differs only in what `binary` fields hold) as a pull parser, checking
//! every length against the bytes present, every collection size against
//! the bytes left and [`BodyLimits`], and nesting depth: a hostile body
//! yields a [`CodecError`], never a panic or an allocation of a size it
//! declared. [`BinaryWriter`] appends values in the binary form.
//!
//! A protocol's encoder reads the service's body with the reader and
//! writes its own form; its decoder parses its own form and writes the
//! body with the writer. The body a decoder writes is checked again when
//! the service decodes it, so a transcoder's mistake is a decode error.

use bytes::{BufMut, BytesMut};

use super::CodecError;
use super::walk::{self, Cursor, ttype};

/// A Thrift value type (TType), as the binary protocol codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldType {
    /// `bool`.
    Bool,
    /// `i8` (`byte`).
    I8,
    /// `double`.
    Double,
    /// `i16`.
    I16,
    /// `i32` (and enums).
    I32,
    /// `i64`.
    I64,
    /// `string` or `binary`: the wire does not tell them apart.
    String,
    /// A struct, union or exception.
    Struct,
    /// `map<K, V>`.
    Map,
    /// `set<T>`.
    Set,
    /// `list<T>`.
    List,
    /// `uuid`.
    Uuid,
}

impl FieldType {
    /// The binary protocol's type code.
    pub fn code(self) -> u8 {
        match self {
            FieldType::Bool => ttype::BOOL,
            FieldType::I8 => ttype::I8,
            FieldType::Double => ttype::DOUBLE,
            FieldType::I16 => ttype::I16,
            FieldType::I32 => ttype::I32,
            FieldType::I64 => ttype::I64,
            FieldType::String => ttype::STRING,
            FieldType::Struct => ttype::STRUCT,
            FieldType::Map => ttype::MAP,
            FieldType::Set => ttype::SET,
            FieldType::List => ttype::LIST,
            FieldType::Uuid => ttype::UUID,
        }
    }

    /// The type of binary type code `code`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Invalid`] for a code that is no value type (`STOP`
    /// included).
    pub fn from_code(code: u8) -> Result<Self, CodecError> {
        Ok(match code {
            ttype::BOOL => FieldType::Bool,
            ttype::I8 => FieldType::I8,
            ttype::DOUBLE => FieldType::Double,
            ttype::I16 => FieldType::I16,
            ttype::I32 => FieldType::I32,
            ttype::I64 => FieldType::I64,
            ttype::STRING => FieldType::String,
            ttype::STRUCT => FieldType::Struct,
            ttype::MAP => FieldType::Map,
            ttype::SET => FieldType::Set,
            ttype::LIST => FieldType::List,
            ttype::UUID => FieldType::Uuid,
            _ => return Err(CodecError::Invalid("unknown field type")),
        })
    }
}

/// Limits on what a transcoder reads; defaults: depth 64 (Apache Thrift's),
/// strings of 16 MiB, collections of 1 Mi elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyLimits {
    /// Deepest nesting of structs and collections.
    pub max_depth: u32,
    /// Longest string or binary, in bytes.
    pub max_len: usize,
    /// Most elements (map entries) in one collection.
    pub max_elements: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            max_depth: walk::MAX_DEPTH,
            max_len: 16 << 20,
            max_elements: 1 << 20,
        }
    }
}

impl BodyLimits {
    /// Sets the deepest nesting.
    pub fn with_max_depth(mut self, depth: u32) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets the longest string or binary.
    pub fn with_max_len(mut self, len: usize) -> Self {
        self.max_len = len;
        self
    }

    /// Sets the most elements in one collection.
    pub fn with_max_elements(mut self, n: usize) -> Self {
        self.max_elements = n;
        self
    }

    /// Checks a string length: [`CodecError::TooLarge`] past `max_len`.
    ///
    /// # Errors
    ///
    /// As above.
    pub fn check_len(&self, len: usize) -> Result<(), CodecError> {
        if len > self.max_len {
            return Err(CodecError::TooLarge { max: self.max_len });
        }
        Ok(())
    }

    /// Checks a collection size: [`CodecError::TooLarge`] past
    /// `max_elements`.
    ///
    /// # Errors
    ///
    /// As above.
    pub fn check_elements(&self, n: usize) -> Result<(), CodecError> {
        if n > self.max_elements {
            return Err(CodecError::TooLarge {
                max: self.max_elements,
            });
        }
        Ok(())
    }
}

/// A pull reader over one struct body in the binary form.
///
/// Call [`struct_begin`](Self::struct_begin), then
/// [`field_begin`](Self::field_begin) until it returns `None` (the STOP
/// that ends the struct); read each field's value with the method of its
/// type. A collection's `*_begin` gives its element types and size; read
/// that many elements, then call [`collection_end`](Self::collection_end).
/// Every `*_begin` counts one level of nesting against
/// [`BodyLimits::max_depth`].
#[derive(Debug)]
pub struct BinaryReader<'a> {
    cur: Cursor<'a>,
    limits: BodyLimits,
    depth: u32,
}

impl<'a> BinaryReader<'a> {
    /// A reader of `body` under `limits`.
    pub fn new(body: &'a [u8], limits: BodyLimits) -> Self {
        Self {
            // No limit beyond the body: running past it is truncation.
            cur: Cursor::new(body, usize::MAX),
            limits,
            depth: 0,
        }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.cur.pos()
    }

    fn enter(&mut self) -> Result<(), CodecError> {
        if self.depth >= self.limits.max_depth {
            return Err(CodecError::Invalid("nesting too deep"));
        }
        self.depth += 1;
        Ok(())
    }

    /// Begins a struct (the body itself, or a struct value).
    ///
    /// # Errors
    ///
    /// [`CodecError::Invalid`] past the depth limit.
    pub fn struct_begin(&mut self) -> Result<(), CodecError> {
        self.enter()
    }

    /// The next field's type and id, or `None` at the STOP that ends the
    /// struct (which ends its nesting level).
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] or [`CodecError::Invalid`].
    pub fn field_begin(&mut self) -> Result<Option<(FieldType, i16)>, CodecError> {
        let t = self.u8()?;
        if t == ttype::STOP {
            self.depth = self.depth.saturating_sub(1);
            return Ok(None);
        }
        let ty = FieldType::from_code(t)?;
        let id = self.i16()?;
        Ok(Some((ty, id)))
    }

    /// Begins a list: element type and count.
    ///
    /// # Errors
    ///
    /// [`CodecError::Invalid`] for a bad type or negative size or past the
    /// depth limit, [`CodecError::TooLarge`] for a size beyond the limit
    /// or the bytes left.
    pub fn list_begin(&mut self) -> Result<(FieldType, usize), CodecError> {
        self.enter()?;
        let elem = FieldType::from_code(self.u8()?)?;
        let n = self.size(1)?;
        Ok((elem, n))
    }

    /// Begins a set: element type and count.
    ///
    /// # Errors
    ///
    /// As [`list_begin`](Self::list_begin).
    pub fn set_begin(&mut self) -> Result<(FieldType, usize), CodecError> {
        self.list_begin()
    }

    /// Begins a map: key type, value type and entry count.
    ///
    /// # Errors
    ///
    /// As [`list_begin`](Self::list_begin).
    pub fn map_begin(&mut self) -> Result<(FieldType, FieldType, usize), CodecError> {
        self.enter()?;
        let k = FieldType::from_code(self.u8()?)?;
        let v = FieldType::from_code(self.u8()?)?;
        let n = self.size(2)?;
        Ok((k, v, n))
    }

    /// Ends a list, set or map.
    pub fn collection_end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// A collection size, each element taking at least `per` bytes.
    fn size(&mut self, per: usize) -> Result<usize, CodecError> {
        let n = usize::try_from(self.cur.i32_be()?)
            .map_err(|_| CodecError::Invalid("negative collection size"))?;
        self.limits.check_elements(n)?;
        let left = self.cur.remaining();
        if n.saturating_mul(per) > left {
            return Err(CodecError::Truncated);
        }
        Ok(n)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.cur.take(1)?[0])
    }

    /// A `bool` (any non-zero byte is true, as Apache's readers take it).
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn bool(&mut self) -> Result<bool, CodecError> {
        Ok(self.u8()? != 0)
    }

    /// An `i8`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn i8(&mut self) -> Result<i8, CodecError> {
        Ok(self.u8()? as i8)
    }

    /// An `i16`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn i16(&mut self) -> Result<i16, CodecError> {
        let b = self.cur.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    /// An `i32`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(self.cur.i32_be()?)
    }

    /// An `i64`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn i64(&mut self) -> Result<i64, CodecError> {
        let b = self.cur.take(8)?;
        Ok(i64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// A `double`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn double(&mut self) -> Result<f64, CodecError> {
        Ok(f64::from_bits(self.i64()? as u64))
    }

    /// A `string` or `binary`: its bytes, unchecked for UTF-8.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`], [`CodecError::Invalid`] for a negative
    /// length, [`CodecError::TooLarge`] past `max_len`.
    pub fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let n = usize::try_from(self.cur.i32_be()?)
            .map_err(|_| CodecError::Invalid("negative length"))?;
        self.limits.check_len(n)?;
        Ok(self.cur.take(n)?)
    }

    /// A `uuid`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`].
    pub fn uuid(&mut self) -> Result<[u8; 16], CodecError> {
        let b = self.cur.take(16)?;
        let mut u = [0u8; 16];
        u.copy_from_slice(b);
        Ok(u)
    }
}

/// Appends values in the binary form to a buffer; the counterpart of
/// [`BinaryReader`]. Lengths and sizes are `usize` and checked to fit the
/// wire's `i32`.
#[derive(Debug)]
pub struct BinaryWriter<'a> {
    dst: &'a mut BytesMut,
}

fn wire_len(n: usize) -> Result<i32, CodecError> {
    i32::try_from(n).map_err(|_| CodecError::TooLarge {
        max: i32::MAX as usize,
    })
}

impl<'a> BinaryWriter<'a> {
    /// A writer appending to `dst`.
    pub fn new(dst: &'a mut BytesMut) -> Self {
        Self { dst }
    }

    /// Begins a field of type `ty` and id `id`.
    pub fn field_begin(&mut self, ty: FieldType, id: i16) {
        self.dst.put_u8(ty.code());
        self.dst.put_i16(id);
    }

    /// Ends a struct (writes STOP).
    pub fn struct_end(&mut self) {
        self.dst.put_u8(ttype::STOP);
    }

    /// Begins a list or set of `n` elements of type `elem`.
    ///
    /// # Errors
    ///
    /// [`CodecError::TooLarge`] if `n` exceeds `i32::MAX`.
    pub fn list_begin(&mut self, elem: FieldType, n: usize) -> Result<(), CodecError> {
        self.dst.put_u8(elem.code());
        self.dst.put_i32(wire_len(n)?);
        Ok(())
    }

    /// Begins a map of `n` entries.
    ///
    /// # Errors
    ///
    /// [`CodecError::TooLarge`] if `n` exceeds `i32::MAX`.
    pub fn map_begin(
        &mut self,
        key: FieldType,
        value: FieldType,
        n: usize,
    ) -> Result<(), CodecError> {
        self.dst.put_u8(key.code());
        self.dst.put_u8(value.code());
        self.dst.put_i32(wire_len(n)?);
        Ok(())
    }

    /// A `bool`.
    pub fn bool(&mut self, v: bool) {
        self.dst.put_u8(u8::from(v));
    }

    /// An `i8`.
    pub fn i8(&mut self, v: i8) {
        self.dst.put_i8(v);
    }

    /// An `i16`.
    pub fn i16(&mut self, v: i16) {
        self.dst.put_i16(v);
    }

    /// An `i32`.
    pub fn i32(&mut self, v: i32) {
        self.dst.put_i32(v);
    }

    /// An `i64`.
    pub fn i64(&mut self, v: i64) {
        self.dst.put_i64(v);
    }

    /// A `double`.
    pub fn double(&mut self, v: f64) {
        self.dst.put_f64(v);
    }

    /// A `string` or `binary`.
    ///
    /// # Errors
    ///
    /// [`CodecError::TooLarge`] if longer than `i32::MAX`.
    pub fn bytes(&mut self, v: &[u8]) -> Result<(), CodecError> {
        self.dst.put_i32(wire_len(v.len())?);
        self.dst.put_slice(v);
        Ok(())
    }

    /// A `uuid`.
    pub fn uuid(&mut self, v: [u8; 16]) {
        self.dst.put_slice(&v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{1: i32 7, 2: list<string> ["ab"], 3: map<i8,bool> {1: true}, 4: struct {}}`
    fn sample() -> BytesMut {
        let mut b = BytesMut::new();
        let mut w = BinaryWriter::new(&mut b);
        w.field_begin(FieldType::I32, 1);
        w.i32(7);
        w.field_begin(FieldType::List, 2);
        w.list_begin(FieldType::String, 1).unwrap();
        w.bytes(b"ab").unwrap();
        w.field_begin(FieldType::Map, 3);
        w.map_begin(FieldType::I8, FieldType::Bool, 1).unwrap();
        w.i8(1);
        w.bool(true);
        w.field_begin(FieldType::Struct, 4);
        w.struct_end();
        w.struct_end();
        b
    }

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let b = sample();
        let mut r = BinaryReader::new(&b, BodyLimits::default());
        r.struct_begin().unwrap();
        assert_eq!(r.field_begin().unwrap(), Some((FieldType::I32, 1)));
        assert_eq!(r.i32().unwrap(), 7);
        assert_eq!(r.field_begin().unwrap(), Some((FieldType::List, 2)));
        assert_eq!(r.list_begin().unwrap(), (FieldType::String, 1));
        assert_eq!(r.bytes().unwrap(), b"ab");
        r.collection_end();
        assert_eq!(r.field_begin().unwrap(), Some((FieldType::Map, 3)));
        assert_eq!(r.map_begin().unwrap(), (FieldType::I8, FieldType::Bool, 1));
        assert_eq!(r.i8().unwrap(), 1);
        assert!(r.bool().unwrap());
        r.collection_end();
        assert_eq!(r.field_begin().unwrap(), Some((FieldType::Struct, 4)));
        r.struct_begin().unwrap();
        assert_eq!(r.field_begin().unwrap(), None);
        assert_eq!(r.field_begin().unwrap(), None);
        assert_eq!(r.position(), b.len());
        // The walker agrees on the length.
        let mut cur = Cursor::new(&b, b.len());
        walk::skip(
            &mut cur,
            super::super::Protocol::Binary,
            ttype::STRUCT,
            walk::MAX_DEPTH,
        )
        .unwrap();
        assert_eq!(cur.pos(), b.len());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let b = sample();
        for cut in 0..b.len() {
            let mut r = BinaryReader::new(&b[..cut], BodyLimits::default());
            let got = (|| -> Result<(), CodecError> {
                r.struct_begin()?;
                r.field_begin()?;
                r.i32()?;
                r.field_begin()?;
                r.list_begin()?;
                r.bytes()?;
                r.collection_end();
                r.field_begin()?;
                r.map_begin()?;
                r.i8()?;
                r.bool()?;
                r.field_begin()?;
                r.field_begin()?;
                r.field_begin()?;
                Ok(())
            })();
            assert!(got.is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn limits_hold() {
        // A list claiming 2^31-1 elements in 6 bytes.
        let b = [15, 8, 0x7f, 0xff, 0xff, 0xff];
        let mut r = BinaryReader::new(&b[1..], BodyLimits::default());
        assert!(matches!(r.list_begin(), Err(CodecError::TooLarge { .. })));
        let mut r = BinaryReader::new(&b[1..], BodyLimits::default().with_max_elements(usize::MAX));
        assert_eq!(r.list_begin(), Err(CodecError::Truncated));
        // A string longer than max_len.
        let b = [0, 0, 0, 5, b'a', b'b', b'c', b'd', b'e'];
        let mut r = BinaryReader::new(&b, BodyLimits::default().with_max_len(4));
        assert_eq!(r.bytes(), Err(CodecError::TooLarge { max: 4 }));
        let b = [0xff, 0xff, 0xff, 0xff];
        let mut r = BinaryReader::new(&b, BodyLimits::default());
        assert!(matches!(r.bytes(), Err(CodecError::Invalid(_))));
        // Depth.
        let mut r = BinaryReader::new(&[], BodyLimits::default().with_max_depth(2));
        r.struct_begin().unwrap();
        r.struct_begin().unwrap();
        assert!(matches!(r.struct_begin(), Err(CodecError::Invalid(_))));
        // Unknown type codes.
        assert!(FieldType::from_code(0).is_err());
        assert!(FieldType::from_code(1).is_err());
        for t in [2, 3, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16] {
            assert_eq!(FieldType::from_code(t).unwrap().code(), t);
        }
    }
}
