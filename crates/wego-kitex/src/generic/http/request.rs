//! HTTP request → the argument struct of a Thrift call, field by field,
//! through the request struct's `api.*` annotations.
//!
//! The routed method takes one struct argument (checked when the route
//! table is built). Each of its fields is read from one place:
//!
//! | annotation | read from |
//! |---|---|
//! | `api.query = "k"` | query parameter `k` (repeated keys make a list) |
//! | `api.path = "k"` | route segment `:k` or `*k`, percent-decoded |
//! | `api.header = "k"` | header `k` (repeated headers make a list) |
//! | `api.cookie = "k"` | cookie `k` of the `Cookie` headers |
//! | `api.form = "k"` | member `k` of an `application/x-www-form-urlencoded` body |
//! | `api.body = "k"` | member `k` of the JSON object body |
//! | `api.raw_body` | the whole body (`binary`, or `string` if UTF-8) |
//! | none | member named as the field of the JSON object body |
//!
//! A field whose place holds nothing is absent (a `required` one is then
//! an error); there is no fallback from one place to another.

use bytes::Bytes;
use http::header::{self, HeaderName};

use super::super::descriptor::{HttpSource, Requiredness, StructDesc, Type};
use super::super::error::ValueError;
use super::super::json::{self, UnknownFields};
use super::super::value::{StructValue, Value};
use super::route::RouteMatch;
use super::text;
use super::{HttpCall, HttpError, HttpMapper};

/// What the body of a request is, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Form,
    Multipart,
    /// JSON, or any other type (a raw body), or none.
    Other,
}

fn body_kind(req: &http::Request<Bytes>) -> (BodyKind, String) {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let kind = match essence.as_str() {
        "application/x-www-form-urlencoded" => BodyKind::Form,
        "multipart/form-data" => BodyKind::Multipart,
        _ => BodyKind::Other,
    };
    (kind, essence)
}

impl HttpMapper {
    /// Maps an HTTP request onto the Thrift call its route names.
    ///
    /// # Errors
    ///
    /// [`HttpError::NotFound`] / [`HttpError::MethodNotAllowed`] when no
    /// route takes it; [`HttpError::BodyTooLarge`],
    /// [`HttpError::TooMany`], [`HttpError::Param`],
    /// [`HttpError::BodyNotJson`], [`HttpError::UnsupportedMediaType`] or
    /// [`HttpError::Request`] when it does not fit the request struct.
    pub fn map_request(&self, req: &http::Request<Bytes>) -> Result<HttpCall, HttpError> {
        let limits = self.limits;
        let body = req.body();
        if body.len() > limits.max_body {
            return Err(HttpError::BodyTooLarge {
                len: body.len(),
                limit: limits.max_body,
            });
        }
        let path = req.uri().path();
        let (mi, params) = match self.routes.find(req.method(), path) {
            RouteMatch::Found { method, params } => (method, params),
            RouteMatch::NotFound => {
                return Err(HttpError::NotFound {
                    path: path.to_owned(),
                });
            }
            RouteMatch::MethodNotAllowed { allow } => {
                return Err(HttpError::MethodNotAllowed {
                    method: req.method().clone(),
                    path: path.to_owned(),
                    allow,
                });
            }
        };
        let d = &*self.desc;
        let m = &d.methods()[mi];
        let args = d.struct_desc(m.args);
        // Checked by RouteTable::build: one struct argument.
        let (arg_id, sid) = match args.fields.as_slice() {
            [f] => match f.ty {
                Type::Struct(s) => (f.id, s),
                _ => return Err(self.shape_error(&m.name)),
            },
            _ => return Err(self.shape_error(&m.name)),
        };
        let desc = d.struct_desc(sid);
        let sources: Vec<Option<&HttpSource>> = desc
            .fields
            .iter()
            .map(|f| d.http_source(sid, f.id))
            .collect();
        let has = |pred: fn(&HttpSource) -> bool| sources.iter().flatten().any(|s| pred(s));
        let reads_json = sources
            .iter()
            .any(|s| matches!(s, None | Some(HttpSource::Body(_))));
        let reads_form = has(|s| matches!(s, HttpSource::Form(_)));
        let reads_raw = has(|s| matches!(s, HttpSource::RawBody));

        let query = match req.uri().query() {
            Some(q) => text::parse_pairs(q.as_bytes(), limits.max_params).map_err(|count| {
                HttpError::TooMany {
                    what: "query parameters",
                    count,
                    limit: limits.max_params,
                }
            })?,
            None => Vec::new(),
        };
        let cookies = if has(|s| matches!(s, HttpSource::Cookie(_))) {
            let values = req
                .headers()
                .get_all(header::COOKIE)
                .into_iter()
                .map(|v| v.as_bytes());
            text::parse_cookies(values, limits.max_params).map_err(|count| HttpError::TooMany {
                what: "cookies",
                count,
                limit: limits.max_params,
            })?
        } else {
            Vec::new()
        };

        let (kind, content_type) = body_kind(req);
        let mut form = Vec::new();
        let mut json_body: Option<serde_json::Map<String, serde_json::Value>> = None;
        if !body.is_empty() {
            match kind {
                BodyKind::Form if reads_form => {
                    form = text::parse_pairs(body, limits.max_params).map_err(|count| {
                        HttpError::TooMany {
                            what: "form members",
                            count,
                            limit: limits.max_params,
                        }
                    })?;
                }
                BodyKind::Form | BodyKind::Multipart if !reads_raw => {
                    return Err(HttpError::UnsupportedMediaType {
                        content_type,
                        reads: if reads_json {
                            "application/json"
                        } else {
                            "no body"
                        },
                    });
                }
                BodyKind::Other if !reads_raw && reads_json => {
                    json_body = Some(parse_object(body)?);
                }
                BodyKind::Other if !reads_raw && reads_form => {
                    return Err(HttpError::UnsupportedMediaType {
                        content_type,
                        reads: "application/x-www-form-urlencoded",
                    });
                }
                _ => {}
            }
        }

        let mut out = StructValue::new();
        let param = |field: &str, from: String, reason: String| HttpError::Param {
            field: field.to_owned(),
            from,
            reason,
        };
        for (f, src) in desc.fields.iter().zip(&sources) {
            let value = match src {
                Some(HttpSource::Query(k)) => {
                    let texts: Vec<&[u8]> = query
                        .iter()
                        .filter(|(qk, _)| qk == k.as_bytes())
                        .map(|(_, v)| v.as_slice())
                        .collect();
                    self.convert(f, &texts)
                        .map_err(|r| param(&f.name, format!("query {k:?}"), r))?
                }
                Some(HttpSource::Path(k)) => {
                    let raw = params.iter().find(|(pk, _)| pk == k).map(|(_, v)| v);
                    let decoded = raw.map(|v| text::path_decode(v));
                    let texts: Vec<&[u8]> = decoded.iter().map(Vec::as_slice).collect();
                    self.convert(f, &texts)
                        .map_err(|r| param(&f.name, format!("path {k:?}"), r))?
                }
                Some(HttpSource::Header(k)) => {
                    let texts: Vec<&[u8]> = match HeaderName::from_bytes(k.as_bytes()) {
                        Ok(name) => req
                            .headers()
                            .get_all(name)
                            .into_iter()
                            .map(|v| v.as_bytes())
                            .collect(),
                        Err(_) => Vec::new(),
                    };
                    self.convert(f, &texts)
                        .map_err(|r| param(&f.name, format!("header {k:?}"), r))?
                }
                Some(HttpSource::Cookie(k)) => {
                    let texts: Vec<&[u8]> = cookies
                        .iter()
                        .filter(|(ck, _)| *ck == k.as_bytes())
                        .map(|(_, v)| *v)
                        .collect();
                    self.convert(f, &texts)
                        .map_err(|r| param(&f.name, format!("cookie {k:?}"), r))?
                }
                Some(HttpSource::Form(k)) => {
                    let texts: Vec<&[u8]> = form
                        .iter()
                        .filter(|(fk, _)| fk == k.as_bytes())
                        .map(|(_, v)| v.as_slice())
                        .collect();
                    self.convert(f, &texts)
                        .map_err(|r| param(&f.name, format!("form {k:?}"), r))?
                }
                Some(HttpSource::RawBody) => {
                    if body.is_empty() {
                        None
                    } else {
                        Some(match f.ty {
                            Type::Binary => Value::Binary(body.clone()),
                            Type::String => match std::str::from_utf8(body) {
                                Ok(s) => Value::String(s.to_owned()),
                                Err(_) => {
                                    return Err(param(
                                        &f.name,
                                        "raw body".to_owned(),
                                        "not valid UTF-8".to_owned(),
                                    ));
                                }
                            },
                            _ => {
                                return Err(param(
                                    &f.name,
                                    "raw body".to_owned(),
                                    "api.raw_body needs a binary or string field".to_owned(),
                                ));
                            }
                        })
                    }
                }
                Some(HttpSource::Body(k)) => self.json_member(json_body.as_ref(), k, f)?,
                // The response-only `api.http_code`, and no annotation: the
                // JSON body by field name.
                _ => self.json_member(json_body.as_ref(), &f.name, f)?,
            };
            if let Some(v) = value {
                out.set(f.id, v);
            }
        }
        if let Some(obj) = &json_body {
            self.check_unknown(desc, &sources, obj)?;
        }
        for f in &desc.fields {
            if f.requiredness == Requiredness::Required && out.get(f.id).is_none() {
                return Err(HttpError::Request(ValueError::MissingField {
                    path: f.name.clone(),
                }));
            }
        }
        Ok(HttpCall {
            method: m.name.clone(),
            args: StructValue::new().with(arg_id, Value::Struct(out)),
        })
    }

    fn shape_error(&self, method: &str) -> HttpError {
        HttpError::Routes(Box::new(super::HttpRouteError::Shape {
            method: method.to_owned(),
        }))
    }

    /// Converts the texts found for field `f`; `None` when there are none.
    fn convert(
        &self,
        f: &super::super::descriptor::FieldDesc,
        texts: &[&[u8]],
    ) -> Result<Option<Value>, String> {
        if texts.is_empty() {
            return Ok(None);
        }
        text::convert(&self.desc, &f.ty, texts, self.unknown, &f.name).map(Some)
    }

    /// Reads field `f` from member `key` of the JSON body.
    fn json_member(
        &self,
        body: Option<&serde_json::Map<String, serde_json::Value>>,
        key: &str,
        f: &super::super::descriptor::FieldDesc,
    ) -> Result<Option<Value>, HttpError> {
        match body.and_then(|b| b.get(key)) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(j) => json::value_from_json(&self.desc, &f.ty, j, self.unknown, &f.name)
                .map(Some)
                .map_err(HttpError::Request),
        }
    }

    /// Refuses members of the JSON body no field reads (unless unknown
    /// fields are ignored).
    fn check_unknown(
        &self,
        desc: &StructDesc,
        sources: &[Option<&HttpSource>],
        obj: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), HttpError> {
        if self.unknown == UnknownFields::Ignore {
            return Ok(());
        }
        for k in obj.keys() {
            let read = desc.fields.iter().zip(sources).any(|(f, s)| match s {
                Some(HttpSource::Body(b)) => b == k,
                None | Some(HttpSource::HttpCode) => f.name == *k,
                _ => false,
            });
            if !read {
                return Err(HttpError::Request(ValueError::UnknownField {
                    path: k.clone(),
                }));
            }
        }
        Ok(())
    }
}

/// Parses a JSON object body.
fn parse_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, HttpError> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(HttpError::BodyNotJson { line: 0, column: 0 }),
        Err(e) => Err(HttpError::BodyNotJson {
            line: e.line(),
            column: e.column(),
        }),
    }
}
