//! Declarative validation: `Valid<Json<T>>`, `Valid<Query<T>>`,
//! `Valid<Form<T>>`, `Valid<Path<T>>` with the `validator` crate's derive.
//!
//! Failures answer 400 with
//! `{"error":"validation failed","fields":[{"field":"<wire name>","reason":"..."}]}`.
//!
//! `validator` reports Rust field names. The wire name comes from `T`'s own
//! `Deserialize` implementation: a probe deserializer records the field
//! names serde expects (after `rename`/`rename_all`), and each failing Rust
//! name is mapped to the wire name that equals it or one of its case
//! conversions (camelCase, PascalCase, kebab-case, SCREAMING_SNAKE_CASE,
//! ...). A field renamed to something else (`#[serde(rename = "mail")]`
//! on `email_address`) is recognised by its value: the one declared wire
//! name, not claimed by another failing field, whose value as the client
//! sent it (JSON body, urlencoded body or query, path parameters) equals the
//! value validator reports. When that is ambiguous or the rule reports no
//! value, the Rust name is used. Nested structs and lists are reported as
//! `outer.inner` and `list[2].inner` paths (the mapping applies to the
//! outermost name). To compare values, `Valid` buffers the body (within the
//! body limit) before the inner extractor reads it, after the checks the
//! inner extractor makes on the head alone ([`Validated::check_head`]): a
//! `Valid<Json<T>>` with the wrong content type is 415 with its body unread,
//! as a bare `Json<T>` is.

use std::fmt;

use http::StatusCode;
use http::request::Parts;
use serde::Serialize;
use serde::de::{self, DeserializeOwned, Visitor};
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use super::form::check_form_head;
use super::json::check_json_head;
use super::private::ViaRequest;
use super::{
    Form, FromRequest, FromRequestParts, Json, Path, PathParams, Query, Rejection, Request,
    body_limit, read_body,
};
use crate::response::{IntoResponse, Response};

/// Runs the inner extractor, then `T::validate()`; answers 400 with a JSON
/// list of failing fields (see the module docs) when validation fails.
///
/// ```
/// # use wego_hertz::extract::{Json, Valid};
/// #[derive(serde::Deserialize, validator::Validate)]
/// #[serde(rename_all = "camelCase")]
/// struct Signup {
///     #[validate(length(min = 3))]
///     user_name: String,
///     #[validate(range(min = 18))]
///     age: u32,
/// }
/// async fn signup(Valid(Json(s)): Valid<Json<Signup>>) -> String {
///     format!("welcome {}", s.user_name)
/// }
/// # let _ = wego_hertz::Router::new().post("/signup", signup);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Valid<E>(pub E);

/// Extractors whose value can be validated; implemented for [`Json`],
/// [`Query`], [`Form`] and [`Path`].
pub trait Validated {
    /// The validated type.
    type Target: Validate + DeserializeOwned;

    /// The value to validate.
    fn target(&self) -> &Self::Target;

    /// Checks what the extractor checks on the request's head before it
    /// reads the body (the content type of [`Json`] and [`Form`]), so that
    /// [`Valid`] answers those rejections before it buffers the body. The
    /// default accepts every head.
    ///
    /// # Errors
    ///
    /// The extractor's rejection for the head.
    fn check_head(parts: &Parts) -> Result<(), Rejection> {
        let _ = parts;
        Ok(())
    }
}

macro_rules! validated {
    ($($ty:ident $(($parts:ident) => $check:expr)?),*) => {$(
        impl<T: Validate + DeserializeOwned> Validated for $ty<T> {
            type Target = T;

            fn target(&self) -> &T {
                &self.0
            }

            $(
                fn check_head($parts: &Parts) -> Result<(), Rejection> {
                    $check
                }
            )?
        }
    )*};
}

validated!(
    Json(parts) => check_json_head(&parts.headers),
    Query,
    Form(parts) => check_form_head(&parts.method, &parts.headers),
    Path
);

/// A failed [`Valid`] extraction: the inner extractor's rejection, or the
/// validation errors.
#[derive(Debug)]
#[non_exhaustive]
pub enum ValidationRejection {
    /// The inner extractor failed.
    Extract(Rejection),
    /// Validation failed; the failing fields by wire name.
    Invalid(Vec<FieldError>),
}

/// One failing field of a [`ValidationRejection::Invalid`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's wire (serde) name, or a dotted path for nested fields.
    pub field: String,
    /// Why it failed: the validator's message, or its code and parameters.
    pub reason: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'static str,
    fields: &'a [FieldError],
}

impl IntoResponse for ValidationRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Extract(r) => r.into_response(),
            Self::Invalid(fields) => {
                let body = Body {
                    error: "validation failed",
                    fields: &fields,
                };
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
        }
    }
}

fn check<E: Validated>(
    value: E,
    sent: impl FnOnce() -> Sent,
) -> Result<Valid<E>, ValidationRejection> {
    match value.target().validate() {
        Ok(()) => Ok(Valid(value)),
        Err(errors) => {
            let wire = wire_names::<E::Target>();
            Err(ValidationRejection::Invalid(field_errors(
                &errors,
                &wire,
                &sent(),
            )))
        }
    }
}

impl<E> FromRequest<ViaRequest> for Valid<E>
where
    E: FromRequest<ViaRequest, Rejection = Rejection> + Validated + Send,
{
    type Rejection = ValidationRejection;

    async fn from_request(req: Request) -> Result<Self, ValidationRejection> {
        // Buffer the body (within the limit) so that a failure can name
        // renamed fields by the values the client sent; not before the
        // checks that need no body.
        let (parts, body) = req.into_parts();
        E::check_head(&parts).map_err(ValidationRejection::Extract)?;
        let bytes = read_body(body, body_limit(&parts.extensions))
            .await
            .map_err(ValidationRejection::Extract)?;
        let uri = parts.uri.clone();
        let req = Request::from_parts(parts, crate::Body::from(bytes.clone()));
        let value = E::from_request(req)
            .await
            .map_err(ValidationRejection::Extract)?;
        check(value, || {
            let mut sent = Sent::from_body(&bytes);
            sent.extend_pairs(uri.query().unwrap_or_default().as_bytes());
            sent
        })
    }
}

impl<E> FromRequestParts for Valid<E>
where
    E: FromRequestParts<Rejection = Rejection> + Validated + Send,
{
    type Rejection = ValidationRejection;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, ValidationRejection> {
        let value = E::from_request_parts(parts)
            .await
            .map_err(ValidationRejection::Extract)?;
        check(value, || {
            let mut sent = Sent::default();
            sent.extend_pairs(parts.uri.query().unwrap_or_default().as_bytes());
            if let Some(params) = parts.extensions.get::<PathParams>() {
                for (k, v) in params.iter() {
                    sent.0.push((k.to_owned(), SentValue::Text(v.to_owned())));
                }
            }
            sent
        })
    }
}

/// What the client sent, by wire name: used to recognise a field renamed
/// to something that is no case conversion of its Rust name, by its value.
#[derive(Debug, Default)]
pub(crate) struct Sent(Vec<(String, SentValue)>);

#[derive(Debug)]
enum SentValue {
    Json(serde_json::Value),
    Text(String),
}

impl Sent {
    /// A JSON object body, or urlencoded pairs.
    fn from_body(bytes: &[u8]) -> Self {
        let mut sent = Self::default();
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes) {
            Ok(map) => {
                sent.0 = map
                    .into_iter()
                    .map(|(k, v)| (k, SentValue::Json(v)))
                    .collect();
            }
            Err(_) => sent.extend_pairs(bytes),
        }
        sent
    }

    fn extend_pairs(&mut self, data: &[u8]) {
        for (k, v) in form_urlencoded_pairs(data) {
            self.0.push((k, SentValue::Text(v)));
        }
    }

    /// Wire names whose sent value equals `value` (as validator reports it).
    fn keys_with(&self, value: &serde_json::Value) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(_, sent)| match (sent, value) {
                (SentValue::Json(j), v) => j == v,
                (SentValue::Text(t), serde_json::Value::String(s)) => t == s,
                (
                    SentValue::Text(t),
                    v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)),
                ) => serde_json::from_str::<serde_json::Value>(t).ok().as_ref() == Some(v),
                _ => false,
            })
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

fn form_urlencoded_pairs(data: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(data).unwrap_or_default()
}

/// Flattens validator's errors into sorted wire-named field errors.
pub(crate) fn field_errors(
    errors: &ValidationErrors,
    wire: &[&str],
    sent: &Sent,
) -> Vec<FieldError> {
    let names = top_level_names(errors, wire, sent);
    let mut out = Vec::new();
    for (name, kind) in errors.errors() {
        let field = names
            .iter()
            .find(|(rust, _)| rust == name)
            .map_or_else(|| name.to_string(), |(_, w)| w.clone());
        push_kind(kind, &field, &mut out);
    }
    out.sort_by(|a, b| a.field.cmp(&b.field).then(a.reason.cmp(&b.reason)));
    out
}

/// Maps each failing top-level Rust name to a wire name: exact or case
/// conversion first; then, for the rest, the one declared wire name not
/// claimed by another field whose sent value equals the reported value.
fn top_level_names(errors: &ValidationErrors, wire: &[&str], sent: &Sent) -> Vec<(String, String)> {
    let mut names: Vec<(String, Option<String>)> = errors
        .errors()
        .keys()
        .map(|rust| (rust.to_string(), case_match(rust, wire)))
        .collect();
    let mut claimed: Vec<String> = names.iter().filter_map(|(_, w)| w.clone()).collect();
    for (rust, resolved) in &mut names {
        if resolved.is_some() {
            continue;
        }
        let value = match errors.errors().get(rust.as_str()) {
            Some(ValidationErrorsKind::Field(list)) => {
                list.iter().find_map(|e| e.params.get("value").cloned())
            }
            _ => None,
        };
        let Some(value) = value else { continue };
        let candidates: Vec<&str> = sent
            .keys_with(&value)
            .into_iter()
            .filter(|k| wire.contains(k) && !claimed.iter().any(|c| c == k))
            .collect();
        if let [only] = candidates[..] {
            *resolved = Some(only.to_owned());
            claimed.push(only.to_owned());
        }
    }
    names
        .into_iter()
        .map(|(rust, w)| {
            let fallback = rust.strip_prefix("r#").unwrap_or(&rust).to_owned();
            (rust, w.unwrap_or(fallback))
        })
        .collect()
}

fn push_kind(kind: &ValidationErrorsKind, field: &str, out: &mut Vec<FieldError>) {
    match kind {
        ValidationErrorsKind::Field(list) => {
            for e in list {
                out.push(FieldError {
                    field: field.to_owned(),
                    reason: reason(e),
                });
            }
        }
        ValidationErrorsKind::Struct(inner) => {
            for (name, kind) in inner.errors() {
                push_kind(kind, &format!("{field}.{name}"), out);
            }
        }
        ValidationErrorsKind::List(items) => {
            for (i, inner) in items {
                for (name, kind) in inner.errors() {
                    push_kind(kind, &format!("{field}[{i}].{name}"), out);
                }
            }
        }
    }
}

fn reason(e: &validator::ValidationError) -> String {
    if let Some(msg) = &e.message {
        return msg.to_string();
    }
    let mut params: Vec<_> = e
        .params
        .iter()
        .filter(|(k, _)| *k != "value")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    params.sort();
    if params.is_empty() {
        format!("failed `{}`", e.code)
    } else {
        format!("failed `{}` ({})", e.code, params.join(", "))
    }
}

/// The declared wire name equal to the Rust name or one of its case
/// conversions.
fn case_match(rust: &str, wire: &[&str]) -> Option<String> {
    let rust = rust.strip_prefix("r#").unwrap_or(rust);
    if wire.is_empty() || wire.contains(&rust) {
        return Some(rust.to_owned());
    }
    case_variants(rust)
        .into_iter()
        .find(|c| wire.contains(&c.as_str()))
}

fn case_variants(snake: &str) -> Vec<String> {
    let words: Vec<&str> = snake.split('_').filter(|w| !w.is_empty()).collect();
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next().map_or_else(String::new, |f| {
            f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase()
        })
    };
    let pascal: String = words.iter().map(|w| cap(w)).collect();
    let camel = words.first().map_or_else(String::new, |f| {
        f.to_lowercase() + &words[1..].iter().map(|w| cap(w)).collect::<String>()
    });
    vec![
        camel,
        pascal,
        words.join("-"),
        snake.to_lowercase(),
        snake.to_uppercase(),
        words.join("-").to_uppercase(),
        words.iter().map(|w| cap(w)).collect::<Vec<_>>().join("-"),
        words.concat().to_lowercase(),
    ]
}

/// The field names `T`'s `Deserialize` expects, when `T` is a struct.
pub(crate) fn wire_names<T: DeserializeOwned>() -> Vec<&'static str> {
    let mut fields = None;
    let _ = T::deserialize(Probe {
        fields: &mut fields,
    });
    fields.map(<[_]>::to_vec).unwrap_or_default()
}

struct Probe<'a> {
    fields: &'a mut Option<&'static [&'static str]>,
}

#[derive(Debug)]
struct ProbeDone;

impl fmt::Display for ProbeDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for ProbeDone {}

impl de::Error for ProbeDone {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        ProbeDone
    }
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = ProbeDone;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ProbeDone> {
        Err(ProbeDone)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeDone> {
        *self.fields = Some(fields);
        Err(ProbeDone)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Camel {
        user_name: String,
        #[serde(rename = "years")]
        age: u32,
    }

    #[test]
    fn probe_reads_wire_names() {
        assert_eq!(wire_names::<Camel>(), vec!["userName", "years"]);
        assert!(wire_names::<u32>().is_empty());
    }

    #[test]
    fn sent_values_compare_as_validator_reports_them() {
        let mut sent = Sent::from_body(br#"{"n":18,"s":"x","o":{"a":1}}"#);
        sent.extend_pairs(b"q=18&t=true&u=x");
        let mut keys = sent.keys_with(&serde_json::json!(18));
        keys.sort_unstable();
        assert_eq!(keys, ["n", "q"]);
        assert_eq!(sent.keys_with(&serde_json::json!(true)), ["t"]);
        let mut keys = sent.keys_with(&serde_json::json!("x"));
        keys.sort_unstable();
        assert_eq!(keys, ["s", "u"]);
        assert_eq!(sent.keys_with(&serde_json::json!({"a": 1})), ["o"]);
        assert!(
            Sent::from_body(b"\xff\x00")
                .keys_with(&serde_json::json!(1))
                .is_empty()
        );
    }

    #[test]
    fn maps_rust_names_to_wire_names() {
        let wire = ["userName", "years", "X-Id"];
        assert_eq!(case_match("user_name", &wire).as_deref(), Some("userName"));
        assert_eq!(case_match("x_id", &wire).as_deref(), Some("X-Id"));
        // Arbitrary renames are no case conversion.
        assert_eq!(case_match("age", &wire), None);
        assert_eq!(case_match("r#type", &[]).as_deref(), Some("type"));
    }
}
