//! The runtime error of Thrift calls: an opaque [`Error`] with `is_*` predicates.

use crate::thrift::ApplicationException;

/// A boxed error, used at `tower::Service` boundaries.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a call failed. Ask with the `is_*` methods; the cause is in `source()`.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    cause: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Timeout,
    Transport,
    Protocol,
    Application,
    Closed,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn new(kind: Kind, cause: Option<BoxError>) -> Self {
        Self {
            inner: Box::new(Inner { kind, cause }),
        }
    }
    pub(crate) fn connect(cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Connect, Some(cause.into()))
    }
    pub(crate) fn timeout() -> Self {
        Self::new(Kind::Timeout, None)
    }
    pub(crate) fn transport(cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Transport, Some(cause.into()))
    }
    pub(crate) fn protocol(cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Protocol, Some(cause.into()))
    }
    pub(crate) fn application(e: ApplicationException) -> Self {
        Self::new(Kind::Application, Some(Box::new(e)))
    }
    pub(crate) fn closed() -> Self {
        Self::new(Kind::Closed, None)
    }

    /// The connection could not be established.
    pub fn is_connect(&self) -> bool {
        self.inner.kind == Kind::Connect
    }
    /// The connect or RPC timeout passed.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::Timeout
    }
    /// Reading or writing the connection failed.
    pub fn is_transport(&self) -> bool {
        self.inner.kind == Kind::Transport
    }
    /// The peer sent bytes that are not a valid message.
    pub fn is_protocol(&self) -> bool {
        self.inner.kind == Kind::Protocol
    }
    /// The server answered with a `TApplicationException`.
    pub fn is_application(&self) -> bool {
        self.inner.kind == Kind::Application
    }
    /// The connection closed before the reply arrived.
    pub fn is_closed(&self) -> bool {
        self.inner.kind == Kind::Closed
    }
    /// The application exception, if the server sent one.
    pub fn application_exception(&self) -> Option<&ApplicationException> {
        self.inner.cause.as_ref()?.downcast_ref()
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_tuple("wego_kitex::Error");
        d.field(&self.inner.kind);
        if let Some(c) = &self.inner.cause {
            d.field(c);
        }
        d.finish()
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self.inner.kind {
            Kind::Connect => "connect failed",
            Kind::Timeout => "rpc timed out",
            Kind::Transport => "transport error",
            Kind::Protocol => "protocol error",
            Kind::Application => "application exception",
            Kind::Closed => "connection closed",
        };
        match &self.inner.cause {
            Some(c) => write!(f, "{s}: {c}"),
            None => f.write_str(s),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.cause.as_deref().map(|c| c as _)
    }
}
