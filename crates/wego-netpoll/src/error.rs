//! The crate's error type.

use std::{fmt, io};

/// Why a network operation failed. Ask with the `is_*` methods; the cause
/// (an [`io::Error`] where there is one) is in [`source()`](std::error::Error::source).
pub struct Error {
    inner: Box<ErrorInner>,
}

struct ErrorInner {
    kind: Kind,
    context: String,
    cause: Option<io::Error>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bind,
    Accept,
    Connect,
    Timeout,
    Address,
    Runtime,
    // Built only by the `tls` module today; the predicates exist always so
    // that callers need no feature to ask.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Config,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn new(kind: Kind, context: impl Into<String>, cause: Option<io::Error>) -> Self {
        Self {
            inner: Box::new(ErrorInner {
                kind,
                context: context.into(),
                cause,
            }),
        }
    }

    pub(crate) fn bind(context: impl Into<String>, cause: io::Error) -> Self {
        Self::new(Kind::Bind, context, Some(cause))
    }

    pub(crate) fn accept(cause: io::Error) -> Self {
        Self::new(Kind::Accept, "accept failed", Some(cause))
    }

    pub(crate) fn connect(context: impl Into<String>, cause: io::Error) -> Self {
        Self::new(Kind::Connect, context, Some(cause))
    }

    pub(crate) fn timeout(context: impl Into<String>) -> Self {
        Self::new(Kind::Timeout, context, None)
    }

    pub(crate) fn address(context: impl Into<String>) -> Self {
        Self::new(Kind::Address, context, None)
    }

    pub(crate) fn runtime(context: impl Into<String>, cause: io::Error) -> Self {
        Self::new(Kind::Runtime, context, Some(cause))
    }

    pub(crate) fn runtime_config(context: impl Into<String>) -> Self {
        Self::new(Kind::Runtime, context, None)
    }

    #[cfg(feature = "tls")]
    pub(crate) fn config(context: impl Into<String>) -> Self {
        Self::new(Kind::Config, context, None)
    }

    #[cfg(feature = "tls")]
    pub(crate) fn config_caused(context: impl Into<String>, cause: io::Error) -> Self {
        Self::new(Kind::Config, context, Some(cause))
    }

    #[cfg(feature = "tls")]
    pub(crate) fn tls(context: impl Into<String>, cause: io::Error) -> Self {
        Self::new(Kind::Tls, context, Some(cause))
    }

    /// Returns true if binding a listener failed.
    pub fn is_bind(&self) -> bool {
        self.inner.kind == Kind::Bind
    }

    /// Returns true if accepting a connection failed.
    pub fn is_accept(&self) -> bool {
        self.inner.kind == Kind::Accept
    }

    /// Returns true if dialing failed (refused, unreachable, ...).
    pub fn is_connect(&self) -> bool {
        self.inner.kind == Kind::Connect
    }

    /// Returns true if an operation ran past its deadline.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::Timeout
    }

    /// Returns true if an address could not be parsed or used.
    pub fn is_address(&self) -> bool {
        self.inner.kind == Kind::Address
    }

    /// Returns true if a runtime could not be built, or its configuration
    /// (a flavour name) was not understood.
    pub fn is_runtime(&self) -> bool {
        self.inner.kind == Kind::Runtime
    }

    /// Returns true if a builder's setting cannot work (a zero timeout, a
    /// certificate that does not parse); the message names the setting.
    pub fn is_config(&self) -> bool {
        self.inner.kind == Kind::Config
    }

    /// Returns true if a TLS handshake failed: the peer spoke something
    /// other than TLS, or a certificate was refused. The cause says which.
    pub fn is_tls(&self) -> bool {
        self.inner.kind == Kind::Tls
    }

    /// The kind of the underlying I/O error, if there is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.inner.cause.as_ref().map(io::Error::kind)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("context", &self.inner.context)
            .field("cause", &self.inner.cause)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.context)?;
        if let Some(cause) = &self.inner.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .cause
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        let kind = match err.inner.kind {
            Kind::Timeout => io::ErrorKind::TimedOut,
            Kind::Address | Kind::Config => io::ErrorKind::InvalidInput,
            _ => err.io_kind().unwrap_or(io::ErrorKind::Other),
        };
        io::Error::new(kind, err)
    }
}
