//! `MatchedPath`: the route pattern a request matched.

use std::sync::Arc;

use http::request::Parts;

use crate::extract::{FromRequestParts, Rejection};

/// The pattern of the matched route, as registered (`/users/:id`); useful
/// for metrics and logs. The router inserts it into request extensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MatchedPath(pub(crate) Arc<str>);

impl MatchedPath {
    /// The pattern.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromRequestParts for MatchedPath {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Rejection> {
        parts
            .extensions
            .get::<MatchedPath>()
            .cloned()
            .ok_or(Rejection::MissingExtension("MatchedPath"))
    }
}
