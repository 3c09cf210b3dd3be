//! The crate's runtime error and how protocol errors are classified.

use std::fmt;

/// A boxed error, as tower services return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a governance layer refused or failed a call.
///
/// Ask with the `is_*` methods; the cause chain is in `source()`. Protocol
/// crates turn this into their own error at the edge by implementing
/// `From<wego_governance::Error>` for their error type (HTTP 429/503, a Thrift
/// application exception, gRPC `RESOURCE_EXHAUSTED`/`UNAVAILABLE`/
/// `DEADLINE_EXCEEDED`); see [`Error::kind`] for a stable name.
pub struct Error {
    inner: Box<ErrorInner>,
}

struct ErrorInner {
    kind: Kind,
    detail: Option<String>,
    cause: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NoInstance,
    BreakerOpen,
    RateLimited,
    Overloaded,
    Timeout,
    Discovery,
    Registry,
}

/// A convenient alias for results whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn new(kind: Kind) -> Self {
        Error {
            inner: Box::new(ErrorInner {
                kind,
                detail: None,
                cause: None,
            }),
        }
    }

    fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.inner.detail = Some(detail.into());
        self
    }

    fn with_cause(mut self, cause: impl Into<BoxError>) -> Self {
        self.inner.cause = Some(cause.into());
        self
    }

    pub(crate) fn no_instance(service: &str) -> Self {
        Self::new(Kind::NoInstance).with_detail(service)
    }
    pub(crate) fn breaker_open(scope: impl Into<String>) -> Self {
        Self::new(Kind::BreakerOpen).with_detail(scope)
    }
    pub(crate) fn rate_limited() -> Self {
        Self::new(Kind::RateLimited)
    }
    pub(crate) fn overloaded() -> Self {
        Self::new(Kind::Overloaded)
    }
    pub(crate) fn timeout() -> Self {
        Self::new(Kind::Timeout)
    }
    pub(crate) fn discovery(detail: impl Into<String>, cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Discovery)
            .with_detail(detail)
            .with_cause(cause)
    }
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn registry(detail: impl Into<String>, cause: impl Into<BoxError>) -> Self {
        Self::new(Kind::Registry)
            .with_detail(detail)
            .with_cause(cause)
    }

    /// No instance of the callee is known or available (all excluded or open).
    pub fn is_no_instance(&self) -> bool {
        self.inner.kind == Kind::NoInstance
    }
    /// A circuit breaker is open and refused the call.
    pub fn is_breaker_open(&self) -> bool {
        self.inner.kind == Kind::BreakerOpen
    }
    /// A QPS (token bucket) limiter refused the call.
    pub fn is_rate_limited(&self) -> bool {
        self.inner.kind == Kind::RateLimited
    }
    /// A concurrency limiter refused the call.
    pub fn is_overloaded(&self) -> bool {
        self.inner.kind == Kind::Overloaded
    }
    /// The call's timeout or deadline passed.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::Timeout
    }
    /// A discovery backend failed.
    pub fn is_discovery(&self) -> bool {
        self.inner.kind == Kind::Discovery
    }
    /// A registry backend failed.
    pub fn is_registry(&self) -> bool {
        self.inner.kind == Kind::Registry
    }
    /// True for refusals that ask the caller to slow down (rate or concurrency
    /// limit): HTTP 429, gRPC `RESOURCE_EXHAUSTED`.
    pub fn is_rejected(&self) -> bool {
        matches!(self.inner.kind, Kind::RateLimited | Kind::Overloaded)
    }

    /// A stable, lowercase name of the error's kind, used as a metrics label.
    pub fn kind(&self) -> &'static str {
        match self.inner.kind {
            Kind::NoInstance => "no_instance",
            Kind::BreakerOpen => "breaker_open",
            Kind::RateLimited => "rate_limited",
            Kind::Overloaded => "overloaded",
            Kind::Timeout => "timeout",
            Kind::Discovery => "discovery",
            Kind::Registry => "registry",
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(detail) = &self.inner.detail {
            d.field("detail", detail);
        }
        if let Some(cause) = &self.inner.cause {
            d.field("cause", cause);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.inner.kind {
            Kind::NoInstance => "no available instance",
            Kind::BreakerOpen => "circuit breaker is open",
            Kind::RateLimited => "rate limit exceeded",
            Kind::Overloaded => "concurrency limit exceeded",
            Kind::Timeout => "call timed out",
            Kind::Discovery => "discovery failed",
            Kind::Registry => "registry failed",
        };
        f.write_str(what)?;
        if let Some(detail) = &self.inner.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
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

/// What governance needs to know about a call's error.
///
/// Protocol crates implement it for their error type (a few lines: transport
/// and `UNAVAILABLE`-like errors are retryable and breaker failures; a
/// business exception is neither). Layers are generic over errors that
/// implement `Classify + From<Error>`, so a layer's own refusal becomes the
/// protocol's error through `From`.
pub trait Classify {
    /// True if the call may be retried (the request did not reach the
    /// application, or the failure is known to be transient).
    fn is_retryable(&self) -> bool;

    /// True if this error counts against the callee's health (breakers,
    /// outlier ejection). Business errors usually do not.
    fn is_breaker_failure(&self) -> bool;

    /// A stable, lowercase name of the error's kind, used as a metrics label.
    fn kind(&self) -> &'static str;
}

impl Classify for Error {
    fn is_retryable(&self) -> bool {
        // A refusal by a limiter or an open breaker is retryable on another
        // instance; a timeout has consumed the call's time.
        matches!(
            self.inner.kind,
            Kind::NoInstance | Kind::BreakerOpen | Kind::Overloaded | Kind::RateLimited
        )
    }

    fn is_breaker_failure(&self) -> bool {
        matches!(self.inner.kind, Kind::Timeout)
    }

    fn kind(&self) -> &'static str {
        Error::kind(self)
    }
}

/// Classifies boxed errors: this crate's [`Error`] by its kind, `std::io`
/// errors as retryable transport failures, anything else as a non-retryable
/// breaker failure.
impl Classify for BoxError {
    fn is_retryable(&self) -> bool {
        if let Some(e) = self.downcast_ref::<Error>() {
            return Classify::is_retryable(e);
        }
        self.downcast_ref::<std::io::Error>().is_some()
            || self.downcast_ref::<wego_netpoll::Error>().is_some()
    }

    fn is_breaker_failure(&self) -> bool {
        match self.downcast_ref::<Error>() {
            Some(e) => e.is_breaker_failure(),
            None => true,
        }
    }

    fn kind(&self) -> &'static str {
        if let Some(e) = self.downcast_ref::<Error>() {
            return e.kind();
        }
        if self.downcast_ref::<std::io::Error>().is_some()
            || self.downcast_ref::<wego_netpoll::Error>().is_some()
        {
            return "transport";
        }
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_predicates_agree() {
        let e = Error::rate_limited();
        assert!(e.is_rate_limited() && e.is_rejected());
        assert_eq!(e.kind(), "rate_limited");
        assert_eq!(e.to_string(), "rate limit exceeded");
        let e = Error::breaker_open("svc");
        assert!(e.is_breaker_open());
        assert_eq!(e.to_string(), "circuit breaker is open (svc)");
        assert!(Error::timeout().is_breaker_failure());
        assert!(!Classify::is_retryable(&Error::timeout()));
    }

    #[test]
    fn boxed_errors_are_classified() {
        let io: BoxError = Box::new(std::io::Error::other("reset"));
        assert!(io.is_retryable());
        assert_eq!(io.kind(), "transport");
        let ours: BoxError = Box::new(Error::overloaded());
        assert_eq!(ours.kind(), "overloaded");
        assert!(!ours.is_breaker_failure());
        let other: BoxError = "boom".into();
        assert!(!other.is_retryable());
        assert_eq!(other.kind(), "other");
    }
}
