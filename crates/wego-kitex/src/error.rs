//! The runtime error of Thrift calls: an opaque [`Error`] with `is_*` predicates.

use crate::thrift::ApplicationException;
use wego_netpoll::BoxError;

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
    /// A builder setting that cannot work; the text names it.
    Config(&'static str),
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
    pub(crate) fn config(what: &'static str) -> Self {
        Self::new(Kind::Config(what), None)
    }
    /// A governance layer refused the call (see [`Error::governance`]).
    #[cfg(feature = "governance")]
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
    /// Which one: `Error::governance` (with the `governance` feature).
    pub fn is_refused(&self) -> bool {
        self.inner.kind == Kind::Governance
    }
    /// A builder was given a setting that cannot work (a zero limit or
    /// timeout, a mode its framing cannot carry); `Display` names it.
    pub fn is_config(&self) -> bool {
        matches!(self.inner.kind, Kind::Config(_))
    }
    /// The governance refusal (`is_no_instance`, `is_breaker_open`,
    /// `is_rate_limited`, `is_overloaded`, `is_timeout`, ...), if any.
    #[cfg(feature = "governance")]
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
            Kind::Config(what) => return write!(f, "invalid configuration: {what}"),
        };
        // The cause is reached through `source()`, not repeated here.
        f.write_str(s)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.cause.as_deref().map(|c| c as _)
    }
}

#[cfg(feature = "governance")]
impl From<wego_governance::Error> for Error {
    /// Keeps the refusal: [`Error::is_refused`] and [`Error::governance`]
    /// say which one.
    fn from(e: wego_governance::Error) -> Error {
        Error::refused(e)
    }
}

#[cfg(feature = "governance")]
impl wego_governance::Classify for Error {
    /// Connect failures, closed connections and transport errors are
    /// retryable (the retry layer still only retries idempotent calls); a
    /// refusal is as the governance error says (open breaker, no instance
    /// and limits are retryable elsewhere, timeouts are not).
    fn is_retryable(&self) -> bool {
        match self.inner.kind {
            Kind::Connect | Kind::Closed | Kind::Transport => true,
            Kind::Governance => self.governance().is_some_and(|g| g.is_retryable()),
            Kind::Timeout | Kind::Protocol | Kind::Application | Kind::Config(_) => false,
        }
    }

    /// Everything but the application's own answers counts against the
    /// callee's health: a `TApplicationException` (and a declared IDL
    /// exception, which is a normal reply at this level) does not.
    fn is_breaker_failure(&self) -> bool {
        match self.inner.kind {
            Kind::Application | Kind::Config(_) => false,
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
            Kind::Config(_) => "config",
            Kind::Governance => self.governance().map_or("refused", |g| g.kind()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_failure_and_leaves_the_cause_to_source() {
        let e = Error::connect("connection refused");
        assert_eq!(e.to_string(), "connect failed");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("connection refused"));
        let c = Error::config("max_frame must be at least 16 bytes");
        assert!(c.is_config());
        assert_eq!(
            c.to_string(),
            "invalid configuration: max_frame must be at least 16 bytes"
        );
    }

    #[cfg(feature = "governance")]
    #[test]
    fn classify_transport_failures_not_application_answers() {
        use crate::thrift::ExceptionKind;
        use wego_governance::Classify;
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
