//! urlencoded forms: `Form<T>`.

use std::ops::{Deref, DerefMut};

use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use super::{FromRequest, Rejection, Request, has_content_type, read_request_body};

const FORM: &str = "application/x-www-form-urlencoded";

/// An `application/x-www-form-urlencoded` form deserialised into `T`.
///
/// For `GET` and `HEAD` the form is the query string; otherwise the body,
/// which must carry the form content type (else 415) and fit the body limit
/// (else 413). A form that does not fit `T` answers 422.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest for Form<T> {
    type Rejection = Rejection;

    async fn from_request(req: Request) -> Result<Self, Rejection> {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let query = req.uri().query().unwrap_or_default();
            return serde_urlencoded::from_str(query)
                .map(Form)
                .map_err(|e| Rejection::InvalidForm(e.to_string()));
        }
        check_form_head(req.method(), req.headers())?;
        let bytes = read_request_body(req).await?;
        serde_urlencoded::from_bytes(&bytes)
            .map(Form)
            .map_err(|e| Rejection::InvalidForm(e.to_string()))
    }
}

/// What [`Form`] checks before it reads the body: a form content type
/// (415), unless the form is the query string (`GET`, `HEAD`).
pub(crate) fn check_form_head(method: &Method, headers: &HeaderMap) -> Result<(), Rejection> {
    if method == Method::GET || method == Method::HEAD || has_content_type(headers, FORM, None) {
        Ok(())
    } else {
        Err(Rejection::UnsupportedMediaType { expected: FORM })
    }
}

impl<T> Deref for Form<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Form<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
