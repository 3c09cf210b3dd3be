//! Writing TJSON from a binary struct body, read with wego-kitex's checked
//! [`BinaryReader`] (which bounds depth, lengths and sizes).

use bytes::{BufMut, BytesMut};
use wego_kitex::thrift::transcode::{BinaryReader, BodyLimits, FieldType};

use super::TJsonError;

type Write = Result<(), TJsonError>;

/// Transcodes one binary struct (all of `body`) into TJSON.
pub(super) fn struct_body(body: &[u8], limits: BodyLimits, dst: &mut BytesMut) -> Write {
    let mut r = BinaryReader::new(body, limits);
    write_struct(&mut r, dst)?;
    if r.position() != body.len() {
        return Err(wego_kitex::thrift::CodecError::Invalid("bytes after the struct").into());
    }
    Ok(())
}

fn type_name(ty: FieldType) -> Result<&'static str, TJsonError> {
    Ok(match ty {
        FieldType::Bool => "tf",
        FieldType::I8 => "i8",
        FieldType::I16 => "i16",
        FieldType::I32 => "i32",
        FieldType::I64 => "i64",
        FieldType::Double => "dbl",
        FieldType::String => "str",
        FieldType::Struct => "rec",
        FieldType::Map => "map",
        FieldType::List => "lst",
        FieldType::Set => "set",
        FieldType::Uuid => "uid",
        _ => return Err(TJsonError::UnknownType { at: 0 }),
    })
}

fn write_struct(r: &mut BinaryReader<'_>, dst: &mut BytesMut) -> Write {
    r.struct_begin()?;
    dst.put_u8(b'{');
    let mut first = true;
    while let Some((ty, id)) = r.field_begin()? {
        if !first {
            dst.put_u8(b',');
        }
        first = false;
        dst.put_slice(format!("\"{id}\":{{\"{}\":", type_name(ty)?).as_bytes());
        write_value(r, ty, dst)?;
        dst.put_u8(b'}');
    }
    dst.put_u8(b'}');
    Ok(())
}

fn write_value(r: &mut BinaryReader<'_>, ty: FieldType, dst: &mut BytesMut) -> Write {
    match ty {
        FieldType::Bool => dst.put_u8(if r.bool()? { b'1' } else { b'0' }),
        FieldType::I8 => number(dst, i64::from(r.i8()?)),
        FieldType::I16 => number(dst, i64::from(r.i16()?)),
        FieldType::I32 => number(dst, i64::from(r.i32()?)),
        FieldType::I64 => number(dst, r.i64()?),
        FieldType::Double => double(dst, r.double()?, false),
        FieldType::String => utf8_string(dst, r.bytes()?)?,
        FieldType::Uuid => uuid(dst, r.uuid()?),
        FieldType::Struct => write_struct(r, dst)?,
        FieldType::List | FieldType::Set => {
            let (elem, n) = r.list_begin()?;
            dst.put_slice(format!("[\"{}\",{n}", type_name(elem)?).as_bytes());
            for _ in 0..n {
                dst.put_u8(b',');
                write_value(r, elem, dst)?;
            }
            dst.put_u8(b']');
            r.collection_end();
        }
        FieldType::Map => {
            let (k, v, n) = r.map_begin()?;
            dst.put_slice(
                format!("[\"{}\",\"{}\",{n},{{", type_name(k)?, type_name(v)?).as_bytes(),
            );
            for i in 0..n {
                if i > 0 {
                    dst.put_u8(b',');
                }
                write_key(r, k, dst)?;
                dst.put_u8(b':');
                write_value(r, v, dst)?;
            }
            dst.put_slice(b"}]");
            r.collection_end();
        }
        _ => return Err(TJsonError::UnknownType { at: 0 }),
    }
    Ok(())
}

/// A map key: always a JSON string (numbers quoted).
fn write_key(r: &mut BinaryReader<'_>, ty: FieldType, dst: &mut BytesMut) -> Write {
    dst.put_u8(b'"');
    match ty {
        FieldType::Bool => dst.put_u8(if r.bool()? { b'1' } else { b'0' }),
        FieldType::I8 => number(dst, i64::from(r.i8()?)),
        FieldType::I16 => number(dst, i64::from(r.i16()?)),
        FieldType::I32 => number(dst, i64::from(r.i32()?)),
        FieldType::I64 => number(dst, r.i64()?),
        FieldType::Double => double(dst, r.double()?, true),
        FieldType::String => {
            // Undo the opening quote: the string writes its own.
            dst.truncate(dst.len() - 1);
            return utf8_string(dst, r.bytes()?);
        }
        _ => return Err(TJsonError::UnsupportedKey),
    }
    dst.put_u8(b'"');
    Ok(())
}

fn number(dst: &mut BytesMut, v: i64) {
    dst.put_slice(v.to_string().as_bytes());
}

/// A finite double as the shortest text that reads back exactly; NaN and
/// the infinities quoted, as Apache writes them. `in_quotes`: a key,
/// already inside its quotes.
fn double(dst: &mut BytesMut, d: f64, in_quotes: bool) {
    let special = if d.is_nan() {
        Some("NaN")
    } else if d == f64::INFINITY {
        Some("Infinity")
    } else if d == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    };
    match (special, in_quotes) {
        (Some(s), true) => dst.put_slice(s.as_bytes()),
        (Some(s), false) => dst.put_slice(format!("\"{s}\"").as_bytes()),
        // `{:?}` keeps a fraction or exponent ("1.0", "1e300"): JSON numbers.
        (None, _) => dst.put_slice(format!("{d:?}").as_bytes()),
    }
}

fn uuid(dst: &mut BytesMut, u: [u8; 16]) {
    let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
    let s = format!(
        "\"{}-{}-{}-{}-{}\"",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    dst.put_slice(s.as_bytes());
}

/// A `str` value: the bytes must be UTF-8 (a `binary` field's are base64
/// text in the body form TJSON uses).
fn utf8_string(dst: &mut BytesMut, raw: &[u8]) -> Write {
    if std::str::from_utf8(raw).is_err() {
        return Err(wego_kitex::thrift::CodecError::InvalidUtf8.into());
    }
    string(dst, raw);
    Ok(())
}

/// A JSON string of UTF-8 `raw`: quotes, backslashes and control
/// characters escaped (RFC 8259 §7), everything else as is.
pub(super) fn string(dst: &mut BytesMut, raw: &[u8]) {
    dst.put_u8(b'"');
    for &b in raw {
        match b {
            b'"' => dst.put_slice(b"\\\""),
            b'\\' => dst.put_slice(b"\\\\"),
            b'\n' => dst.put_slice(b"\\n"),
            b'\r' => dst.put_slice(b"\\r"),
            b'\t' => dst.put_slice(b"\\t"),
            0x08 => dst.put_slice(b"\\b"),
            0x0c => dst.put_slice(b"\\f"),
            c if c < 0x20 => dst.put_slice(format!("\\u{c:04x}").as_bytes()),
            c => dst.put_u8(c),
        }
    }
    dst.put_u8(b'"');
}
