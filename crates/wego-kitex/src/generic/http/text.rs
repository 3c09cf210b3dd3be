//! Text from an HTTP request (query strings, urlencoded forms, cookies,
//! header values, path parameters) and its conversion into Thrift values
//! by the field's type.
//!
//! | Thrift | text |
//! |---|---|
//! | bool | `true` / `false` / `1` / `0` (letters in any case) |
//! | i8, i16, i32, i64 | decimal, range-checked |
//! | double | decimal or exponent form, `NaN`, `inf` |
//! | string | UTF-8 as is |
//! | binary | the bytes as is |
//! | uuid | `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` |
//! | enum | a value's name, or a number |
//! | list, set of the above | repeated keys, each split at commas |
//! | struct, map, other lists | JSON text |

use bytes::Bytes;
use percent_encoding::percent_decode;

use super::super::codec::describe;
use super::super::descriptor::{Descriptor, Type};
use super::super::json::{self, UnknownFields};
use super::super::value::Value;

/// Why a piece of text does not convert: the reason, to be joined with
/// the field and where the text came from.
pub(crate) type Reason = String;

/// Decoded key-value pairs of a query string or a form.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Cookie names and values, borrowed from the headers.
pub(crate) type CookiePairs<'a> = Vec<(&'a [u8], &'a [u8])>;

/// Splits `a=1&b=2` (a query string or an urlencoded form) into decoded
/// pairs, `+` as space; at most `limit` pairs (`Err(count)` beyond).
pub(crate) fn parse_pairs(text: &[u8], limit: usize) -> Result<Pairs, usize> {
    let mut out = Vec::new();
    for (n, pair) in text
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        if n >= limit {
            return Err(n + 1);
        }
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        out.push((form_decode(k), form_decode(v)));
    }
    Ok(out)
}

/// Percent-decodes urlencoded text, `+` as space.
fn form_decode(s: &[u8]) -> Vec<u8> {
    let plus: Vec<u8> = s
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus).collect()
}

/// Percent-decodes a path parameter (`+` stays `+`).
pub(crate) fn path_decode(s: &str) -> Vec<u8> {
    percent_decode(s.as_bytes()).collect()
}

/// Splits `Cookie` header values into (name, value) pairs, at most `limit`
/// (`Err(count)` beyond). RFC 6265 §5.4: pairs separated by `; `; a value
/// may be wrapped in double quotes.
pub(crate) fn parse_cookies<'a>(
    headers: impl Iterator<Item = &'a [u8]>,
    limit: usize,
) -> Result<CookiePairs<'a>, usize> {
    let mut out = Vec::new();
    for h in headers {
        for pair in h.split(|&b| b == b';') {
            let pair = pair.trim_ascii();
            if pair.is_empty() {
                continue;
            }
            if out.len() >= limit {
                return Err(out.len() + 1);
            }
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (pair[..i].trim_ascii(), pair[i + 1..].trim_ascii()),
                None => (&[][..], pair),
            };
            let v = v
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(v);
            out.push((k, v));
        }
    }
    Ok(out)
}

/// Whether values of `ty` are written as plain text (not JSON text).
pub(crate) fn is_scalar(ty: &Type) -> bool {
    matches!(
        ty,
        Type::Bool
            | Type::I8
            | Type::I16
            | Type::I32
            | Type::I64
            | Type::Double
            | Type::String
            | Type::Binary
            | Type::Uuid
            | Type::Enum(_)
    )
}

/// Converts the texts given for one field (one per occurrence of the
/// key) into a value of `ty`. A scalar takes the first occurrence.
pub(crate) fn convert(
    d: &Descriptor,
    ty: &Type,
    texts: &[&[u8]],
    unknown: UnknownFields,
    field: &str,
) -> Result<Value, Reason> {
    let Some(first) = texts.first() else {
        return Err("no value".to_owned());
    };
    match ty {
        Type::List(t) | Type::Set(t) if is_scalar(t) => {
            // Every occurrence is split at commas; an empty one adds
            // nothing (`?ids=` is an empty list).
            let mut items = Vec::new();
            for p in texts
                .iter()
                .filter(|t| !t.is_empty())
                .flat_map(|t| t.split(|&b| b == b','))
            {
                let i = items.len();
                items.push(scalar(d, t, p).map_err(|r| format!("element {i}: {r}"))?);
            }
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            })
        }
        t if is_scalar(t) => scalar(d, t, first),
        _ => {
            let text = std::str::from_utf8(first).map_err(|_| "not valid UTF-8".to_owned())?;
            let j = json::parse(text)
                .map_err(|e| format!("{e} (a {} is given as JSON)", describe(d, ty)))?;
            json::value_from_json(d, ty, &j, unknown, field).map_err(|e| e.to_string())
        }
    }
}

/// Converts one piece of text into a scalar of type `ty`.
pub(crate) fn scalar(d: &Descriptor, ty: &Type, raw: &[u8]) -> Result<Value, Reason> {
    if let Type::Binary = ty {
        return Ok(Value::Binary(Bytes::copy_from_slice(raw)));
    }
    let s = std::str::from_utf8(raw).map_err(|_| "not valid UTF-8".to_owned())?;
    let int = |min: i64, max: i64| -> Result<i64, Reason> {
        match s.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(n) => Err(format!("{n} out of range for {}", describe(d, ty))),
            Err(_) => Err(format!("{s:?} is not an integer ({})", describe(d, ty))),
        }
    };
    Ok(match ty {
        Type::Bool => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(format!("{s:?} is not a bool (true, false, 1 or 0)")),
        },
        Type::I8 => Value::I8(int(i8::MIN.into(), i8::MAX.into())? as i8),
        Type::I16 => Value::I16(int(i16::MIN.into(), i16::MAX.into())? as i16),
        Type::I32 => Value::I32(int(i32::MIN.into(), i32::MAX.into())? as i32),
        Type::I64 => Value::I64(int(i64::MIN, i64::MAX)?),
        Type::Double => match s.parse::<f64>() {
            Ok(x) => Value::Double(x),
            Err(_) => return Err(format!("{s:?} is not a number")),
        },
        Type::String => Value::String(s.to_owned()),
        Type::Uuid => match json::parse_uuid(s) {
            Some(u) => Value::Uuid(u),
            None => return Err(format!("{s:?} is not a uuid")),
        },
        Type::Enum(id) => {
            let e = d.get_enum(*id);
            match e.and_then(|e| e.value_of(s)) {
                Some(v) => Value::I32(v),
                None if s.parse::<i32>().is_ok() => {
                    Value::I32(int(i32::MIN.into(), i32::MAX.into())? as i32)
                }
                None => {
                    return Err(format!("{s:?} is not a value of {}", describe(d, ty)));
                }
            }
        }
        _ => return Err(format!("a {} cannot be given as text", describe(d, ty))),
    })
}

/// Writes a scalar as text (for response headers and cookies); `None` for
/// values that have no text form (containers, structs).
pub(crate) fn to_text(d: &Descriptor, ty: &Type, v: &Value) -> Option<Vec<u8>> {
    Some(match v {
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::I8(n) => n.to_string().into_bytes(),
        Value::I16(n) => n.to_string().into_bytes(),
        Value::I32(n) => match ty {
            Type::Enum(id) => match d.get_enum(*id).and_then(|e| e.name_of(*n)) {
                Some(name) => name.as_bytes().to_vec(),
                None => n.to_string().into_bytes(),
            },
            _ => n.to_string().into_bytes(),
        },
        Value::I64(n) => n.to_string().into_bytes(),
        Value::Double(x) => x.to_string().into_bytes(),
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Binary(b) => b.to_vec(),
        Value::Uuid(u) => json::uuid_text(u).into_bytes(),
        Value::List(_) | Value::Set(_) | Value::Map(_) | Value::Struct(_) => return None,
    })
}
