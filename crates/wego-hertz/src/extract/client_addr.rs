//! The client's address.

use http::request::Parts;
use wego_netpoll::Address;

use super::{FromRequestParts, Rejection};

/// The address of the connection's peer, as the server saw it.
///
/// The server inserts it into every request's extensions; as an extractor
/// it answers 500 when missing (a request that did not come through the
/// server, such as in a unit test, unless the test inserts one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub Address);

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
