//! Output protocols wrapping pilota's.
//!
//! pilota 0.13.1's `TCompactOutputProtocol` writes doubles big-endian while
//! the compact spec (and pilota's own reader) uses little-endian, so Apache
//! peers read garbage. [`CompactOut`] delegates everything to pilota except
//! `write_double`, which it writes little-endian.
//!
//! [`Base64Out`] is the binary protocol writing `binary` fields as base64
//! text ([`Protocol::BinaryBase64`](super::Protocol::BinaryBase64)).

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::{BufMut, Bytes, BytesMut};
use pilota::FastStr;
use pilota::thrift::binary::TBinaryProtocol;
use pilota::thrift::compact::TCompactOutputProtocol;
use pilota::thrift::{
    ProtocolExceptionKind, TLengthProtocol, TListIdentifier, TMapIdentifier, TMessageIdentifier,
    TOutputProtocol, TSetIdentifier, TStructIdentifier, TType, ThriftException,
    new_protocol_exception,
};

/// Standard base64: padded when written, padding optional when read
/// (Apache's Java and C++ TJSON writers leave it out, Python's writes it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a `binary` field of [`Base64Out`]'s form.
pub(crate) fn from_base64(text: &[u8]) -> Result<Vec<u8>, ThriftException> {
    BASE64.decode(text).map_err(|_| {
        new_protocol_exception(
            ProtocolExceptionKind::InvalidData,
            "binary field is not base64",
        )
    })
}

/// Encodes bytes as [`Base64Out`] writes a `binary` field.
pub(crate) fn to_base64(raw: &[u8]) -> String {
    BASE64.encode(raw)
}

pub(crate) struct CompactOut<'a> {
    inner: TCompactOutputProtocol<&'a mut BytesMut>,
}

impl<'a> CompactOut<'a> {
    pub(crate) fn new(dst: &'a mut BytesMut) -> Self {
        Self {
            inner: TCompactOutputProtocol::new(dst, false),
        }
    }
}

macro_rules! delegate_len {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $name(&mut self, $($arg: $ty),*) -> usize { self.inner.$name($($arg),*) })*
    };
}

impl TLengthProtocol for CompactOut<'_> {
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

macro_rules! delegate_write {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $name(&mut self, $($arg: $ty),*) -> Result<(), ThriftException> { self.inner.$name($($arg),*) })*
    };
}

impl TOutputProtocol for CompactOut<'_> {
    type BufMut = BytesMut;

    delegate_write! {
        write_message_begin(identifier: &TMessageIdentifier);
        write_message_end();
        write_struct_begin(identifier: &TStructIdentifier);
        write_struct_end();
        write_field_begin(field_type: TType, id: i16);
        write_field_end();
        write_field_stop();
        write_bool(b: bool);
        write_bytes(b: Bytes);
        write_bytes_without_len(b: Bytes);
        write_uuid(u: [u8; 16]);
        write_bytes_vec(b: &[u8]);
        write_byte(b: u8);
        write_i8(i: i8);
        write_i16(i: i16);
        write_i32(i: i32);
        write_i64(i: i64);
        write_string(s: &str);
        write_faststr(s: FastStr);
        write_list_begin(identifier: TListIdentifier);
        write_list_end();
        write_set_begin(identifier: TSetIdentifier);
        write_set_end();
        write_map_begin(identifier: TMapIdentifier);
        write_map_end();
        flush();
    }

    fn write_double(&mut self, d: f64) -> Result<(), ThriftException> {
        // Compact spec: doubles are 8 bytes little-endian.
        self.inner.buf_mut().put_f64_le(d);
        Ok(())
    }

    fn buf_mut(&mut self) -> &mut Self::BufMut {
        self.inner.buf_mut()
    }
}

/// The binary output protocol with `binary` fields written as base64 text.
pub(crate) struct Base64Out<'a> {
    inner: TBinaryProtocol<&'a mut BytesMut>,
}

impl<'a> Base64Out<'a> {
    pub(crate) fn new(dst: &'a mut BytesMut) -> Self {
        Self {
            inner: TBinaryProtocol::new(dst, false),
        }
    }
}

impl TLengthProtocol for Base64Out<'_> {
    delegate_len! {
        message_begin_len(identifier: &TMessageIdentifier);
        message_end_len();
        struct_begin_len(identifier: &TStructIdentifier);
        struct_end_len();
        field_begin_len(field_type: TType, id: Option<i16>);
        field_end_len();
        field_stop_len();
        bool_len(b: bool);
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

    fn bytes_len(&mut self, b: &[u8]) -> usize {
        4 + b.len().div_ceil(3) * 4
    }

    fn bytes_vec_len(&mut self, b: &[u8]) -> usize {
        4 + b.len().div_ceil(3) * 4
    }
}

impl TOutputProtocol for Base64Out<'_> {
    type BufMut = BytesMut;

    delegate_write! {
        write_message_begin(identifier: &TMessageIdentifier);
        write_message_end();
        write_struct_begin(identifier: &TStructIdentifier);
        write_struct_end();
        write_field_begin(field_type: TType, id: i16);
        write_field_end();
        write_field_stop();
        write_bool(b: bool);
        write_bytes_without_len(b: Bytes);
        write_uuid(u: [u8; 16]);
        write_byte(b: u8);
        write_i8(i: i8);
        write_i16(i: i16);
        write_i32(i: i32);
        write_i64(i: i64);
        write_double(d: f64);
        write_string(s: &str);
        write_faststr(s: FastStr);
        write_list_begin(identifier: TListIdentifier);
        write_list_end();
        write_set_begin(identifier: TSetIdentifier);
        write_set_end();
        write_map_begin(identifier: TMapIdentifier);
        write_map_end();
        flush();
    }

    fn write_bytes(&mut self, b: Bytes) -> Result<(), ThriftException> {
        self.inner.write_string(&to_base64(&b))
    }

    fn write_bytes_vec(&mut self, b: &[u8]) -> Result<(), ThriftException> {
        self.inner.write_string(&to_base64(b))
    }

    fn buf_mut(&mut self) -> &mut Self::BufMut {
        self.inner.buf_mut()
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use crate::thrift::{Protocol, decode_body, encode_body};

    /// `struct { 1: double }` as the compact spec writes it.
    struct D(f64);

    impl pilota::thrift::Message for D {
        fn encode<T: pilota::thrift::TOutputProtocol>(
            &self,
            p: &mut T,
        ) -> Result<(), pilota::thrift::ThriftException> {
            p.write_struct_begin(&pilota::thrift::TStructIdentifier::new("D"))?;
            p.write_field_begin(pilota::thrift::TType::Double, 1)?;
            p.write_double(self.0)?;
            p.write_field_end()?;
            p.write_field_stop()?;
            p.write_struct_end()
        }
        fn decode<T: pilota::thrift::TInputProtocol>(
            p: &mut T,
        ) -> Result<Self, pilota::thrift::ThriftException> {
            p.read_struct_begin()?;
            let f = p.read_field_begin()?;
            assert_eq!(f.field_type, pilota::thrift::TType::Double);
            let d = p.read_double()?;
            p.read_field_end()?;
            let _stop = p.read_field_begin()?;
            p.read_struct_end()?;
            Ok(D(d))
        }
        async fn decode_async<T: pilota::thrift::TAsyncInputProtocol>(
            _p: &mut T,
        ) -> Result<Self, pilota::thrift::ThriftException> {
            unreachable!("not used")
        }
        fn size<T: pilota::thrift::TLengthProtocol>(&self, _p: &mut T) -> usize {
            0
        }
    }

    #[test]
    fn compact_doubles_are_little_endian() {
        let mut dst = BytesMut::new();
        encode_body(Protocol::Compact, &D(-5.2098523), &mut dst).unwrap();
        let mut want = BytesMut::new();
        want.put_u8(0x17);
        want.put_f64_le(-5.2098523);
        want.put_u8(0);
        assert_eq!(dst, want);
        let got: D = decode_body(Protocol::Compact, &mut dst.freeze()).unwrap();
        assert_eq!(got.0, -5.2098523);
    }
}
