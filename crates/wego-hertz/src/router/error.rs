//! Route registration errors.

/// Why a route could not be registered.
///
/// Raised at registration (startup), never while serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The route overlaps an existing one so that a request could match
    /// both with equal priority (for example `/users/:id` and
    /// `/users/:name`, or the same method and path twice).
    #[error("route `{route}` conflicts with the registered route `{existing}`")]
    Conflict {
        /// The route being registered.
        route: String,
        /// The route it conflicts with.
        existing: String,
    },
    /// The route pattern is malformed.
    #[error("invalid route `{route}`: {reason}")]
    Invalid {
        /// The route being registered.
        route: String,
        /// What is wrong with it.
        reason: String,
    },
}
