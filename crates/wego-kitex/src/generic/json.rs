//! JSON to and from dynamic values, through a descriptor, as Kitex's JSON
//! generic call maps them:
//!
//! | Thrift | JSON |
//! |---|---|
//! | struct, union, exception | object keyed by field name |
//! | bool | `true` / `false` |
//! | i8, i16, i32 | number (range-checked) |
//! | i64 | number, or a string of digits (read; written as a number) |
//! | double | number; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings |
//! | string | string |
//! | binary | base64 string (standard alphabet, padded) |
//! | uuid | `"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"` |
//! | enum | number; its name is accepted when read |
//! | list, set | array |
//! | map with string, number, bool or enum keys | object, keys as strings |
//! | map with other keys | array of `[key, value]` pairs |
//!
//! A `null` member is an absent field. A member the struct does not
//! declare is refused ([`UnknownFields::Reject`], the default, so that a
//! misspelt field never goes unnoticed) or dropped
//! ([`UnknownFields::Ignore`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde_json::{Map, Number, Value as Json};

use super::codec::describe;
use super::descriptor::{Descriptor, Requiredness, StructId, StructKind, Type};
use super::error::{Path, Seg, ValueError};
use super::value::{StructValue, Value};

/// What to do with a JSON member the struct does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnknownFields {
    /// Fail with [`ValueError::UnknownField`] naming it (the default).
    #[default]
    Reject,
    /// Drop it.
    Ignore,
}

/// Deepest JSON nesting read (serde_json stops at 128 on its own).
const MAX_DEPTH: usize = 64;

/// Parses JSON text.
pub(crate) fn parse(text: &str) -> Result<Json, ValueError> {
    serde_json::from_str(text).map_err(|e| ValueError::Json {
        line: e.line(),
        column: e.column(),
    })
}

/// Reads struct `sid` from a JSON object.
pub(crate) fn struct_from_json(
    d: &Descriptor,
    sid: StructId,
    j: &Json,
    unknown: UnknownFields,
) -> Result<StructValue, ValueError> {
    let mut r = FromJson {
        d,
        unknown,
        path: Path::default(),
    };
    r.read_struct(sid, j)
}

/// Reads one value of type `ty` from JSON; errors name `field` at the
/// root of their path.
pub(crate) fn value_from_json<'a>(
    d: &'a Descriptor,
    ty: &'a Type,
    j: &Json,
    unknown: UnknownFields,
    field: &'a str,
) -> Result<Value, ValueError> {
    let mut r = FromJson {
        d,
        unknown,
        path: Path::default(),
    };
    r.path.push(Seg::Field(field));
    r.read(ty, j)
}

/// Writes struct `sid` as a JSON object.
pub(crate) fn struct_to_json(d: &Descriptor, sid: StructId, v: &StructValue) -> Json {
    let Some(desc) = d.get_struct(sid) else {
        return Json::Null;
    };
    let mut m = Map::new();
    for f in &desc.fields {
        if let Some(fv) = v.get(f.id) {
            m.insert(f.name.clone(), to_json(d, &f.ty, fv));
        }
    }
    Json::Object(m)
}

/// Writes `v` of type `ty` as JSON.
pub(crate) fn to_json(d: &Descriptor, ty: &Type, v: &Value) -> Json {
    match (ty, v) {
        (_, Value::Bool(b)) => Json::Bool(*b),
        (_, Value::I8(n)) => Json::from(*n),
        (_, Value::I16(n)) => Json::from(*n),
        (_, Value::I32(n)) => Json::from(*n),
        (_, Value::I64(n)) => Json::from(*n),
        (_, Value::Double(x)) => match Number::from_f64(*x) {
            Some(n) => Json::Number(n),
            None if x.is_nan() => Json::String("NaN".into()),
            None if *x > 0.0 => Json::String("Infinity".into()),
            None => Json::String("-Infinity".into()),
        },
        (_, Value::String(s)) => Json::String(s.clone()),
        (_, Value::Binary(b)) => Json::String(B64.encode(b)),
        (_, Value::Uuid(u)) => Json::String(uuid_text(u)),
        (Type::List(t) | Type::Set(t), Value::List(vs) | Value::Set(vs)) => {
            Json::Array(vs.iter().map(|e| to_json(d, t, e)).collect())
        }
        (Type::Map(kt, vt), Value::Map(kvs)) => {
            if keys_as_strings(kt) {
                let mut m = Map::new();
                for (k, x) in kvs {
                    let key = match to_json(d, kt, k) {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    m.insert(key, to_json(d, vt, x));
                }
                Json::Object(m)
            } else {
                Json::Array(
                    kvs.iter()
                        .map(|(k, x)| Json::Array(vec![to_json(d, kt, k), to_json(d, vt, x)]))
                        .collect(),
                )
            }
        }
        (Type::Struct(id), Value::Struct(s)) => struct_to_json(d, *id, s),
        _ => Json::Null,
    }
}

fn keys_as_strings(t: &Type) -> bool {
    matches!(
        t,
        Type::String
            | Type::Bool
            | Type::I8
            | Type::I16
            | Type::I32
            | Type::I64
            | Type::Double
            | Type::Enum(_)
            | Type::Binary
            | Type::Uuid
    )
}

pub(crate) fn uuid_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub(crate) fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|&c| c != b'-').collect();
    if hex.len() != 32 || s.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let t = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(t, 16).ok()?;
    }
    Some(out)
}

struct FromJson<'a> {
    d: &'a Descriptor,
    unknown: UnknownFields,
    path: Path<'a>,
}

impl<'a> FromJson<'a> {
    fn read_struct(&mut self, sid: StructId, j: &Json) -> Result<StructValue, ValueError> {
        if self.path.depth() > MAX_DEPTH {
            return Err(self.path.too_deep(MAX_DEPTH));
        }
        let d = self.d;
        let desc = d
            .get_struct(sid)
            .ok_or_else(|| self.path.invalid("struct id from another descriptor"))?;
        let Json::Object(m) = j else {
            return Err(self.path.wrong(format!("object ({})", desc.name)));
        };
        let mut out = StructValue::new();
        for (k, v) in m {
            let Some(f) = desc.field_by_name(k) else {
                if self.unknown == UnknownFields::Reject {
                    self.path.push(Seg::Key(k.clone()));
                    return Err(ValueError::UnknownField {
                        path: self.path.render(),
                    });
                }
                continue;
            };
            if v.is_null() {
                continue;
            }
            self.path.push(Seg::Field(&f.name));
            let fv = self.read(&f.ty, v)?;
            self.path.pop();
            out.set(f.id, fv);
        }
        for f in &desc.fields {
            if f.requiredness == Requiredness::Required && out.get(f.id).is_none() {
                self.path.push(Seg::Field(&f.name));
                return Err(ValueError::MissingField {
                    path: self.path.render(),
                });
            }
        }
        if desc.kind == StructKind::Union && out.len() > 1 {
            return Err(self.path.invalid(format!(
                "union {} has {} fields set, at most one allowed",
                desc.name,
                out.len()
            )));
        }
        Ok(out)
    }

    fn int(&self, ty: &Type, j: &Json, min: i64, max: i64) -> Result<i64, ValueError> {
        let n = match j {
            Json::Number(n) => n.as_i64(),
            Json::String(s) if matches!(ty, Type::I64) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            Some(n) => Err(self
                .path
                .invalid(format!("{n} out of range for {}", describe(self.d, ty)))),
            None => Err(self.path.wrong(describe(self.d, ty))),
        }
    }

    /// A map key given as an object member name: parsed as its type.
    fn key(&mut self, kt: &'a Type, k: &str) -> Result<Value, ValueError> {
        let j = match kt {
            Type::String | Type::Binary | Type::Uuid => Json::String(k.to_owned()),
            Type::Enum(_) if k.parse::<i64>().is_err() => Json::String(k.to_owned()),
            Type::Double if matches!(k, "NaN" | "Infinity" | "-Infinity") => {
                Json::String(k.to_owned())
            }
            _ => match serde_json::from_str::<Json>(k) {
                Ok(j @ (Json::Number(_) | Json::Bool(_))) => j,
                _ => return Err(self.path.wrong(describe(self.d, kt))),
            },
        };
        self.read(kt, &j)
    }

    fn read(&mut self, ty: &'a Type, j: &Json) -> Result<Value, ValueError> {
        if self.path.depth() > MAX_DEPTH {
            return Err(self.path.too_deep(MAX_DEPTH));
        }
        Ok(match ty {
            Type::Bool => match j {
                Json::Bool(b) => Value::Bool(*b),
                _ => return Err(self.path.wrong("bool")),
            },
            Type::I8 => Value::I8(self.int(ty, j, i8::MIN.into(), i8::MAX.into())? as i8),
            Type::I16 => Value::I16(self.int(ty, j, i16::MIN.into(), i16::MAX.into())? as i16),
            Type::I32 => Value::I32(self.int(ty, j, i32::MIN.into(), i32::MAX.into())? as i32),
            Type::I64 => Value::I64(self.int(ty, j, i64::MIN, i64::MAX)?),
            Type::Enum(id) => match j {
                Json::String(s) => {
                    let e = self.d.get_enum(*id);
                    match e.and_then(|e| e.value_of(s)) {
                        Some(v) => Value::I32(v),
                        None => {
                            return Err(self.path.invalid(format!(
                                "{s:?} is not a value of {}",
                                describe(self.d, ty)
                            )));
                        }
                    }
                }
                _ => Value::I32(self.int(ty, j, i32::MIN.into(), i32::MAX.into())? as i32),
            },
            Type::Double => match j {
                Json::Number(n) => match n.as_f64() {
                    Some(x) => Value::Double(x),
                    None => return Err(self.path.wrong("double")),
                },
                Json::String(s) => match s.as_str() {
                    "NaN" => Value::Double(f64::NAN),
                    "Infinity" => Value::Double(f64::INFINITY),
                    "-Infinity" => Value::Double(f64::NEG_INFINITY),
                    _ => return Err(self.path.wrong("double")),
                },
                _ => return Err(self.path.wrong("double")),
            },
            Type::String => match j {
                Json::String(s) => Value::String(s.clone()),
                _ => return Err(self.path.wrong("string")),
            },
            Type::Binary => match j {
                Json::String(s) => match B64.decode(s) {
                    Ok(b) => Value::Binary(Bytes::from(b)),
                    Err(_) => return Err(self.path.invalid("binary is not valid base64")),
                },
                _ => return Err(self.path.wrong("binary (a base64 string)")),
            },
            Type::Uuid => match j {
                Json::String(s) => match parse_uuid(s) {
                    Some(u) => Value::Uuid(u),
                    None => return Err(self.path.invalid("not a uuid")),
                },
                _ => return Err(self.path.wrong("uuid (a string)")),
            },
            Type::List(t) | Type::Set(t) => {
                let Json::Array(items) = j else {
                    return Err(self.path.wrong(describe(self.d, ty)));
                };
                let mut vs = Vec::with_capacity(items.len());
                for (i, e) in items.iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    vs.push(self.read(t, e)?);
                    self.path.pop();
                }
                if matches!(ty, Type::Set(_)) {
                    Value::Set(vs)
                } else {
                    Value::List(vs)
                }
            }
            Type::Map(kt, vt) => {
                let mut kvs = Vec::new();
                match j {
                    Json::Object(m) if keys_as_strings(kt) => {
                        for (k, v) in m {
                            self.path.push(Seg::Key(k.clone()));
                            let key = self.key(kt, k)?;
                            let val = self.read(vt, v)?;
                            self.path.pop();
                            kvs.push((key, val));
                        }
                    }
                    Json::Array(pairs) if !keys_as_strings(kt) => {
                        for (i, p) in pairs.iter().enumerate() {
                            self.path.push(Seg::Index(i));
                            let Json::Array(kv) = p else {
                                return Err(self.path.wrong("a [key, value] pair"));
                            };
                            let [k, v] = kv.as_slice() else {
                                return Err(self.path.wrong("a [key, value] pair"));
                            };
                            let key = self.read(kt, k)?;
                            let val = self.read(vt, v)?;
                            self.path.pop();
                            kvs.push((key, val));
                        }
                    }
                    _ => {
                        let shape = if keys_as_strings(kt) {
                            "an object"
                        } else {
                            "an array of [key, value] pairs"
                        };
                        return Err(self
                            .path
                            .wrong(format!("{} ({shape})", describe(self.d, ty))));
                    }
                }
                Value::Map(kvs)
            }
            Type::Struct(id) => Value::Struct(self.read_struct(*id, j)?),
        })
    }
}
