//! The runtime error of the server.

use std::fmt;

use crate::BoxError;

/// Why starting or running a server failed. Ask with the `is_*` methods; the
/// cause is in [`source`](std::error::Error::source).
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    cause: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config(&'static str),
    Bind,
    Upgrade(&'static str),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The server configuration is invalid (a zero limit, say).
    pub fn is_config(&self) -> bool {
        matches!(self.inner.kind, Kind::Config(_))
    }

    /// Binding the listening socket failed.
    pub fn is_bind(&self) -> bool {
        self.inner.kind == Kind::Bind
    }

    /// A connection could not be taken as an upgrade: the message did not
    /// switch protocols, or its connection was taken already.
    pub fn is_upgrade(&self) -> bool {
        matches!(self.inner.kind, Kind::Upgrade(_))
    }

    pub(crate) fn upgrade(what: &'static str) -> Self {
        Self::new(Kind::Upgrade(what), None)
    }

    pub(crate) fn config(what: &'static str) -> Self {
        Self::new(Kind::Config(what), None)
    }

    pub(crate) fn bind(cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Bind, Some(cause.into()))
    }

    fn new(kind: Kind, cause: Option<BoxError>) -> Self {
        Self {
            inner: Box::new(Inner { kind, cause }),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("cause", &self.inner.cause)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.kind {
            Kind::Config(what) => write!(f, "invalid server configuration: {what}"),
            Kind::Bind => f.write_str("cannot bind the listening socket"),
            Kind::Upgrade(what) => write!(f, "upgrade failed: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_display() {
        let e = Error::config("max_headers must be at least 1");
        assert!(e.is_config() && !e.is_bind());
        assert_eq!(
            e.to_string(),
            "invalid server configuration: max_headers must be at least 1"
        );
        let e = Error::bind(std::io::Error::other("in use"));
        assert!(e.is_bind());
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(size_of::<Error>(), size_of::<usize>());
    }
}
