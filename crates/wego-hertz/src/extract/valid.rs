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
//! ...). An arbitrary `#[serde(rename = "x")]` that is no case conversion of
//! the Rust name is reported under the Rust name. Nested structs and lists
//! are reported as `outer.inner` and `list[2].inner` paths (the mapping
//! applies to the outermost name).

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;
use http::request::Parts;
use serde::Serialize;
use serde::de::{self, DeserializeOwned, Visitor};
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use super::private::ViaRequest;
use super::{Form, FromRequest, FromRequestParts, Json, Path, Query, Rejection, Request};
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
}

macro_rules! validated {
    ($($ty:ident),*) => {$(
        impl<T: Validate + DeserializeOwned> Validated for $ty<T> {
            type Target = T;

            fn target(&self) -> &T {
                &self.0
            }
        }
    )*};
}

validated!(Json, Query, Form, Path);

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

fn check<E: Validated>(value: E) -> Result<Valid<E>, ValidationRejection> {
    match value.target().validate() {
        Ok(()) => Ok(Valid(value)),
        Err(errors) => {
            let wire = wire_names::<E::Target>();
            Err(ValidationRejection::Invalid(field_errors(&errors, &wire)))
        }
    }
}

impl<E> FromRequest<ViaRequest> for Valid<E>
where
    E: FromRequest<ViaRequest, Rejection = Rejection> + Validated + Send,
{
    type Rejection = ValidationRejection;

    async fn from_request(req: Request) -> Result<Self, ValidationRejection> {
        let value = E::from_request(req)
            .await
            .map_err(ValidationRejection::Extract)?;
        check(value)
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
        check(value)
    }
}

/// Flattens validator's errors into sorted wire-named field errors.
pub(crate) fn field_errors(errors: &ValidationErrors, wire: &[&str]) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", wire, &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field).then(a.reason.cmp(&b.reason)));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, wire: &[&str], out: &mut Vec<FieldError>) {
    for (name, kind) in errors.errors() {
        let field = if prefix.is_empty() {
            wire_name(name, wire).into_owned()
        } else {
            format!("{prefix}.{name}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    out.push(FieldError {
                        field: field.clone(),
                        reason: reason(e),
                    });
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &field, &[], out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect(inner, &format!("{field}[{i}]"), &[], out);
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

/// Maps a Rust field name to the wire name it most likely has.
fn wire_name<'a>(rust: &'a str, wire: &[&str]) -> Cow<'a, str> {
    let rust = rust.strip_prefix("r#").unwrap_or(rust);
    if wire.is_empty() || wire.contains(&rust) {
        return Cow::Borrowed(rust);
    }
    for candidate in case_variants(rust) {
        if wire.contains(&candidate.as_str()) {
            return Cow::Owned(candidate);
        }
    }
    Cow::Borrowed(rust)
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
    fn maps_rust_names_to_wire_names() {
        let wire = ["userName", "years", "X-Id"];
        assert_eq!(wire_name("user_name", &wire), "userName");
        assert_eq!(wire_name("x_id", &wire), "X-Id");
        // Arbitrary renames fall back to the Rust name.
        assert_eq!(wire_name("age", &wire), "age");
        assert_eq!(wire_name("r#type", &[]), "type");
    }
}
