//! The query string: `Query<T>`.

use std::ops::{Deref, DerefMut};

use http::request::Parts;
use serde::de::DeserializeOwned;

use super::{FromRequestParts, Rejection};

/// The query string deserialised into `T` (urlencoded; a missing query is
/// the empty string). A query that does not fit `T` answers 400.
///
/// ```
/// # use wego_hertz::extract::Query;
/// #[derive(serde::Deserialize)]
/// struct Page { page: u32, #[serde(default)] q: String }
/// async fn search(Query(p): Query<Page>) -> String {
///     format!("page {} of {:?}", p.page, p.q)
/// }
/// # let _ = wego_hertz::Router::new().get("/search", search);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts for Query<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|e| Rejection::InvalidQuery(e.to_string()))
    }
}

impl<T> Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Query<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
