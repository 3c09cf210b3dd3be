//! Path parameters: `Path<T>` and the raw [`PathParams`].

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use http::request::Parts;
use serde::de::DeserializeOwned;

use super::{FromRequestParts, Rejection};
use crate::router::MatchedPath;

mod de;

/// The parameters the router matched, percent-decoded, in route order.
///
/// The router inserts it into the request's extensions when the matched
/// route has parameters (a route without any adds none); Hertz's
/// `c.Param("id")` is [`PathParams::get`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(pub(crate) Vec<(Arc<str>, String)>);

impl PathParams {
    /// The value of parameter `name`, if the route has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `(name, value)` pairs in route order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, v.as_str()))
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the route had no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Path parameters deserialised into `T`.
///
/// `T` may be a single value when the route has one parameter
/// (`Path<u64>`), a tuple in route order (`Path<(String, u32)>`), or a
/// struct or map keyed by parameter name. Values are parsed from their
/// percent-decoded text; a value that does not parse answers 400.
///
/// ```
/// # use wego_hertz::extract::Path;
/// #[derive(serde::Deserialize)]
/// struct Params { user: String, id: u64 }
/// async fn show(Path(p): Path<Params>) -> String {
///     format!("{} #{}", p.user, p.id)
/// }
/// # let _ = wego_hertz::Router::new().get("/u/:user/:id", show);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts for Path<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Rejection> {
        let params = match parts.extensions.get::<PathParams>() {
            Some(params) => &params.0[..],
            // Routed to a route without parameters.
            None if parts.extensions.get::<MatchedPath>().is_some() => &[],
            None => return Err(Rejection::MissingPathParams),
        };
        T::deserialize(de::ParamsDeserializer::new(params))
            .map(Path)
            .map_err(|e| Rejection::InvalidPathParam(e.to_string()))
    }
}

impl<T> Deref for Path<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Path<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
