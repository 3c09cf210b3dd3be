//! A Thrift call's outcome → an HTTP response.
//!
//! | outcome | status | body |
//! |---|---|---|
//! | a struct | its `api.http_code` field, else 200 | its other fields as a JSON object |
//! | another value (`string`, a list, ...) | 200 | the value as JSON |
//! | `void` | 204 | none |
//! | `oneway` | 202 | none |
//! | a declared exception | its `api.http_code` field, else 500 | its fields, mapped as a struct's |
//!
//! Fields of a struct reply go to: `api.http_code` the status,
//! `api.header = "k"` header `k`, `api.cookie = "k"` a `Set-Cookie: k=...`,
//! `api.raw_body` the whole body (`application/octet-stream` for binary,
//! `text/plain` for string), `api.body = "k"` member `k` of the JSON body,
//! any other field the member named as the field. A header field that
//! sets `Content-Type` overrides the default type.

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::super::Outcome;
use super::super::descriptor::{HttpSource, StructId, Type};
use super::super::error::ValueError;
use super::super::json;
use super::super::value::{StructValue, Value};
use super::text;
use super::{HttpError, HttpMapper};

/// Bytes a cookie value may not hold as they are (RFC 6265 §4.1.1
/// cookie-octet excludes controls, space, `"`, `,`, `;` and `\`); `%`
/// too, so that the encoding can be undone.
const COOKIE_ESCAPE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

impl HttpMapper {
    /// Maps the outcome of `method` onto an HTTP response.
    ///
    /// # Errors
    ///
    /// [`HttpError::Reply`] when the outcome does not fit `method`'s result
    /// or cannot be written as HTTP: an `api.http_code` that is not a
    /// status, a header name or value HTTP does not allow.
    pub fn map_outcome(
        &self,
        method: &str,
        out: Outcome<Value>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let d = &*self.desc;
        let m = d
            .method(method)
            .ok_or_else(|| HttpError::Reply(ValueError::UnknownMethod(method.to_owned())))?;
        let res = d.struct_desc(m.result);
        match out {
            Outcome::Success(None) => {
                let status = if m.oneway {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::NO_CONTENT
                };
                let mut r = http::Response::new(Bytes::new());
                *r.status_mut() = status;
                Ok(r)
            }
            Outcome::Success(Some(v)) => {
                let ty = res
                    .field_by_id(0)
                    .map(|f| &f.ty)
                    .ok_or_else(|| reply_err("", "a void method returned a value"))?;
                match (ty, v) {
                    (Type::Struct(sid), Value::Struct(s)) => {
                        self.struct_response(*sid, &s, StatusCode::OK)
                    }
                    (ty, v) => Ok(json_response(
                        StatusCode::OK,
                        json::to_json(d, ty, &v).to_string(),
                    )),
                }
            }
            Outcome::Exception { name, value } => {
                let f = res
                    .field_by_name(&name)
                    .filter(|f| f.id != 0)
                    .ok_or_else(|| reply_err(&name, "not a declared exception"))?;
                match (&f.ty, value) {
                    (Type::Struct(sid), Value::Struct(s)) => {
                        self.struct_response(*sid, &s, StatusCode::INTERNAL_SERVER_ERROR)
                    }
                    (ty, v) => Ok(json_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        json::to_json(d, ty, &v).to_string(),
                    )),
                }
            }
        }
    }

    /// Writes struct `sid` as a response, `status` unless it has an
    /// `api.http_code` field set.
    fn struct_response(
        &self,
        sid: StructId,
        s: &StructValue,
        mut status: StatusCode,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let d = &*self.desc;
        let desc = d.struct_desc(sid);
        let mut headers = http::HeaderMap::new();
        let mut body = serde_json::Map::new();
        let mut raw: Option<(Bytes, &'static str)> = None;
        for f in &desc.fields {
            let Some(v) = s.get(f.id) else { continue };
            match d.http_source(sid, f.id) {
                Some(HttpSource::HttpCode) => {
                    let code = match v {
                        Value::I8(n) => i64::from(*n),
                        Value::I16(n) => i64::from(*n),
                        Value::I32(n) => i64::from(*n),
                        Value::I64(n) => *n,
                        _ => return Err(reply_err(&f.name, "api.http_code needs an integer")),
                    };
                    status = u16::try_from(code)
                        .ok()
                        .and_then(|c| StatusCode::from_u16(c).ok())
                        .ok_or_else(|| {
                            reply_err(&f.name, &format!("{code} is not an http status"))
                        })?;
                }
                Some(HttpSource::Header(k)) => {
                    let name = HeaderName::from_bytes(k.as_bytes())
                        .map_err(|_| reply_err(&f.name, &format!("{k:?} is not a header name")))?;
                    let value = text::to_text(d, &f.ty, v)
                        .and_then(|t| HeaderValue::from_bytes(&t).ok())
                        .ok_or_else(|| reply_err(&f.name, "not a valid header value"))?;
                    headers.append(name, value);
                }
                Some(HttpSource::Cookie(k)) => {
                    let value = text::to_text(d, &f.ty, v)
                        .ok_or_else(|| reply_err(&f.name, "a cookie needs a scalar value"))?;
                    let value = String::from_utf8_lossy(&value);
                    let cookie = format!("{k}={}", utf8_percent_encode(&value, COOKIE_ESCAPE));
                    let value = HeaderValue::from_str(&cookie)
                        .map_err(|_| reply_err(&f.name, &format!("{k:?} is not a cookie name")))?;
                    headers.append(header::SET_COOKIE, value);
                }
                Some(HttpSource::RawBody) => {
                    raw = Some(match v {
                        Value::Binary(b) => (b.clone(), "application/octet-stream"),
                        Value::String(s) => (
                            Bytes::copy_from_slice(s.as_bytes()),
                            "text/plain; charset=utf-8",
                        ),
                        _ => return Err(reply_err(&f.name, "api.raw_body needs binary or string")),
                    });
                }
                Some(HttpSource::Body(k)) => {
                    body.insert(k.clone(), json::to_json(d, &f.ty, v));
                }
                _ => {
                    body.insert(f.name.clone(), json::to_json(d, &f.ty, v));
                }
            }
        }
        let (bytes, content_type) = match raw {
            Some(r) => r,
            None => (
                Bytes::from(serde_json::Value::Object(body).to_string()),
                "application/json",
            ),
        };
        if !headers.contains_key(header::CONTENT_TYPE) {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        let mut r = http::Response::new(bytes);
        *r.status_mut() = status;
        *r.headers_mut() = headers;
        Ok(r)
    }
}

fn reply_err(field: &str, reason: &str) -> HttpError {
    HttpError::Reply(ValueError::Invalid {
        path: field.to_owned(),
        reason: reason.to_owned(),
    })
}

fn json_response(status: StatusCode, body: String) -> http::Response<Bytes> {
    let mut r = http::Response::new(Bytes::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
