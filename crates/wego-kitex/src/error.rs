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
    Governance,
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
    /// A governance layer refused the call (see [`Error::governance`]).
    pub fn refused(e: wego_governance::Error) -> Self {
        Self::new(Kind::Governance, Some(Box::new(e)))
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
    /// A governance layer refused the call before (or instead of) sending
    /// it: no instance, open breaker, rate or concurrency limit, timeout.
    /// Which one: [`Error::governance`].
    pub fn is_refused(&self) -> bool {
        self.inner.kind == Kind::Governance
    }
    /// The governance refusal (`is_no_instance`, `is_breaker_open`,
    /// `is_rate_limited`, `is_overloaded`, `is_timeout`, ...), if any.
    pub fn governance(&self) -> Option<&wego_governance::Error> {
        self.inner.cause.as_ref()?.downcast_ref()
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
            Kind::Governance => "refused",
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

impl From<wego_governance::Error> for Error {
    /// Keeps the refusal: [`Error::is_refused`] and [`Error::governance`]
    /// say which one.
    fn from(e: wego_governance::Error) -> Error {
        Error::refused(e)
    }
}

impl wego_governance::Classify for Error {
    /// Connect failures, closed connections and transport errors are
    /// retryable (the retry layer still only retries idempotent calls); a
    /// refusal is as the governance error says (open breaker, no instance
    /// and limits are retryable elsewhere, timeouts are not).
    fn is_retryable(&self) -> bool {
        match self.inner.kind {
            Kind::Connect | Kind::Closed | Kind::Transport => true,
            Kind::Governance => self.governance().is_some_and(|g| g.is_retryable()),
            Kind::Timeout | Kind::Protocol | Kind::Application => false,
        }
    }

    /// Everything but the application's own answers counts against the
    /// callee's health: a `TApplicationException` (and a declared IDL
    /// exception, which is a normal reply at this level) does not.
    fn is_breaker_failure(&self) -> bool {
        match self.inner.kind {
            Kind::Application => false,
            Kind::Governance => self.governance().is_some_and(|g| g.is_breaker_failure()),
            _ => true,
        }
    }

    fn kind(&self) -> &'static str {
        match self.inner.kind {
            Kind::Connect => "connect",
            Kind::Timeout => "timeout",
            Kind::Transport => "transport",
            Kind::Protocol => "protocol",
            Kind::Application => "application",
            Kind::Closed => "closed",
            Kind::Governance => self.governance().map_or("refused", |g| g.kind()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::ExceptionKind;
    use wego_governance::Classify;

    #[test]
    fn classify_transport_failures_not_application_answers() {
        let conn = Error::connect("refused");
        assert!(conn.is_retryable() && conn.is_breaker_failure());
        assert_eq!(conn.kind(), "connect");
        let closed = Error::closed();
        assert!(closed.is_retryable() && closed.is_breaker_failure());
        let app = Error::application(ApplicationException::new(ExceptionKind::InternalError, "x"));
        assert!(!app.is_retryable() && !app.is_breaker_failure());
        let to = Error::timeout();
        assert!(!to.is_retryable() && to.is_breaker_failure());
        assert!(!Error::protocol("bad").is_retryable());
    }
}
