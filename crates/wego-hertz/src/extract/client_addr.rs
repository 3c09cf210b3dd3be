//! The client's address: the server's [`ClientAddr`] as an extractor.

use http::request::Parts;

pub use crate::server::ClientAddr;

use super::{FromRequestParts, Rejection};

/// The server inserts [`ClientAddr`] into every request's extensions; as an
/// extractor it answers 500 when missing (a request that did not come
/// through the server, such as in a unit test, unless the test inserts one).
impl FromRequestParts for ClientAddr {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Rejection> {
        parts
            .extensions
            .get::<ClientAddr>()
            .cloned()
            .ok_or(Rejection::MissingExtension("ClientAddr"))
    }
}
