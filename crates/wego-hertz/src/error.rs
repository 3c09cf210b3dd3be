//! The runtime error of the server and the client.

use std::fmt;

use crate::BoxError;

/// Why starting or running a server, or a client's request, failed. Ask with the `is_*` methods; the
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
    // The client's kinds.
    ClientConfig(&'static str),
    Request(&'static str),
    Connect,
    Timeout,
    Protocol,
    Closed,
    Body,
    Upgrade(&'static str),
    #[cfg_attr(not(feature = "governance"), allow(dead_code))]
    Refused,
    TooManyRedirects(usize),
    RedirectDowngrade,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The server or client configuration is invalid (a zero limit, say).
    pub fn is_config(&self) -> bool {
        matches!(self.inner.kind, Kind::Config(_) | Kind::ClientConfig(_))
    }

    /// Binding the listening socket failed.
    pub fn is_bind(&self) -> bool {
        self.inner.kind == Kind::Bind
    }

    /// The client could not send the request as given (a URI without a
    /// host, an unsupported scheme).
    pub fn is_request(&self) -> bool {
        matches!(self.inner.kind, Kind::Request(_))
    }

    /// The client could not open a connection (resolving the host or
    /// connecting failed).
    pub fn is_connect(&self) -> bool {
        self.inner.kind == Kind::Connect
    }

    /// A client timeout passed: the whole-request deadline or the read-idle
    /// timeout.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::Timeout
    }

    /// The server's response was malformed or over a limit; the cause is a
    /// [`ResponseParseError`](crate::codec::ResponseParseError).
    pub fn is_protocol(&self) -> bool {
        self.inner.kind == Kind::Protocol
    }

    /// The connection closed or failed before the response head arrived.
    pub fn is_closed(&self) -> bool {
        self.inner.kind == Kind::Closed
    }

    /// Reading the request body to send it failed; the cause is the body's
    /// error.
    pub fn is_body(&self) -> bool {
        self.inner.kind == Kind::Body
    }

    /// A connection could not be taken as an upgrade: the response did
    /// not switch protocols, the request could not switch or its handler
    /// did not answer `101`, or the connection was taken already.
    pub fn is_upgrade(&self) -> bool {
        matches!(self.inner.kind, Kind::Upgrade(_))
    }

    /// Service governance refused the call before it reached an instance
    /// (no instance known or available, every instance's breaker open,
    /// discovery failed); the cause is a `wego_governance::Error`
    /// (`governance()` with the `governance` feature).
    /// A governance timeout is [`is_timeout`](Self::is_timeout) instead.
    pub fn is_refused(&self) -> bool {
        self.inner.kind == Kind::Refused
    }

    /// The governance error behind a refusal or a governance timeout.
    #[cfg(feature = "governance")]
    pub fn governance(&self) -> Option<&wego_governance::Error> {
        self.inner.cause.as_deref()?.downcast_ref()
    }

    /// A governance refusal or timeout, kept as the cause.
    #[cfg(feature = "governance")]
    pub(crate) fn governed(e: wego_governance::Error) -> Self {
        let kind = if e.is_timeout() {
            Kind::Timeout
        } else {
            Kind::Refused
        };
        Self::new(kind, Some(Box::new(e)))
    }

    /// A redirect was not followed: the client's redirect limit was
    /// reached, or it led from `https://` to `http://` without
    /// [`with_redirect_downgrade`](crate::client::ClientBuilder::with_redirect_downgrade).
    pub fn is_redirect(&self) -> bool {
        matches!(
            self.inner.kind,
            Kind::TooManyRedirects(_) | Kind::RedirectDowngrade
        )
    }

    pub(crate) fn too_many_redirects(limit: usize) -> Self {
        Self::new(Kind::TooManyRedirects(limit), None)
    }

    pub(crate) fn redirect_downgrade() -> Self {
        Self::new(Kind::RedirectDowngrade, None)
    }

    pub(crate) fn upgrade(what: &'static str) -> Self {
        Self::new(Kind::Upgrade(what), None)
    }

    pub(crate) fn client_config(what: &'static str) -> Self {
        Self::new(Kind::ClientConfig(what), None)
    }

    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn client_config_caused(what: &'static str, cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::ClientConfig(what), Some(cause.into()))
    }

    pub(crate) fn request(what: &'static str) -> Self {
        Self::new(Kind::Request(what), None)
    }

    pub(crate) fn request_caused(what: &'static str, cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Request(what), Some(cause.into()))
    }

    pub(crate) fn connect(cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Connect, Some(cause.into()))
    }

    pub(crate) fn timeout() -> Self {
        Self::new(Kind::Timeout, None)
    }

    pub(crate) fn protocol(cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Protocol, Some(cause.into()))
    }

    pub(crate) fn closed(cause: Option<BoxError>) -> Self {
        Self::new(Kind::Closed, cause)
    }

    pub(crate) fn body(cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Body, Some(cause.into()))
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
            Kind::ClientConfig(what) => write!(f, "invalid client configuration: {what}"),
            Kind::Request(what) => write!(f, "invalid request: {what}"),
            Kind::Connect => f.write_str("connect failed"),
            Kind::Timeout => f.write_str("request timed out"),
            Kind::Protocol => f.write_str("malformed response"),
            Kind::Closed => f.write_str("connection closed before the response"),
            Kind::Body => f.write_str("reading the request body failed"),
            Kind::Upgrade(what) => write!(f, "upgrade failed: {what}"),
            Kind::Refused => f.write_str("refused by service governance"),
            Kind::TooManyRedirects(limit) => {
                write!(f, "too many redirects: the limit is {limit}")
            }
            Kind::RedirectDowngrade => f.write_str("refused a redirect from https to http"),
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
        let e = Error::request("uri has no host");
        assert!(e.is_request() && !e.is_config());
        assert_eq!(e.to_string(), "invalid request: uri has no host");
        assert!(Error::timeout().is_timeout());
        assert!(Error::closed(None).is_closed());
        let e = Error::connect(std::io::Error::other("refused"));
        assert!(e.is_connect());
        assert_eq!(e.to_string(), "connect failed");
        let e = Error::too_many_redirects(5);
        assert!(e.is_redirect() && !e.is_request());
        assert_eq!(e.to_string(), "too many redirects: the limit is 5");
        assert!(Error::redirect_downgrade().is_redirect());
    }
}
