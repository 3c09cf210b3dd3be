//! JSON request bodies: the extractor side of [`Json`].

use serde::de::DeserializeOwned;

use http::HeaderMap;

use super::{FromRequest, Rejection, Request, has_content_type, read_request_body};
use crate::response::Json;

const JSON: &str = "application/json";

impl<T: DeserializeOwned + Send> FromRequest for Json<T> {
    type Rejection = Rejection;

    async fn from_request(req: Request) -> Result<Self, Rejection> {
        check_json_head(req.headers())?;
        let bytes = read_request_body(req).await?;
        parse_json(&bytes).map(Json)
    }
}

/// What [`Json`] checks before it reads the body: a JSON content type
/// (415).
pub(crate) fn check_json_head(headers: &HeaderMap) -> Result<(), Rejection> {
    if has_content_type(headers, JSON, Some("json")) {
        Ok(())
    } else {
        Err(Rejection::UnsupportedMediaType { expected: JSON })
    }
}

/// Parses JSON: syntax errors are 400, shape errors 422.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Rejection::JsonData(e.to_string()),
        _ => Rejection::JsonSyntax(e.to_string()),
    })
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
