//! Why forwarding a request failed, and the status each failure answers.

use std::error::Error as StdError;

use http::{HeaderValue, StatusCode, header};

use crate::body::BodyError;
use crate::response::{IntoResponse, Response};
use crate::{Body, Error};

/// Why the proxy answered with an error status instead of the upstream's
/// response. The answer's body is the `Display` text, so the client sees
/// which failure it was; [`status`](Self::status) gives its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// No connection to the upstream could be opened (refused, unreachable,
    /// the name did not resolve, the TLS handshake failed): 502.
    #[error("upstream connect failed")]
    Connect,
    /// The upstream's response head (or first body bytes) did not arrive
    /// within the proxy's timeout or the client's: 504.
    #[error("upstream timed out")]
    Timeout,
    /// The upstream answered something that is not a usable response: a
    /// malformed head, a connection closed before the response or before
    /// the first body byte, or `101` to a request that did not ask to
    /// switch protocols: 502.
    #[error("bad upstream response")]
    BadResponse,
    /// The client service refused the call before it reached an upstream:
    /// no instance known, a breaker open, a limit reached: 503.
    #[error("no upstream available")]
    Unavailable,
    /// The upstream request failed in another way: 502.
    #[error("upstream request failed")]
    Upstream,
    /// The request body is longer than the proxy's limit: 413.
    #[error("request body too large")]
    RequestTooLarge,
    /// The request body could not be read from the client: 400.
    #[error("reading the request body failed")]
    RequestBody,
    /// The request target cannot be joined to the upstream's URL: 400.
    #[error("request target cannot be forwarded")]
    InvalidTarget,
}

impl ProxyError {
    /// The status the proxy answers this failure with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Connect | Self::BadResponse | Self::Upstream => StatusCode::BAD_GATEWAY,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestBody | Self::InvalidTarget => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether `err` says the request never reached an upstream or was
    /// never answered, so that an idempotent request with a replayable
    /// body may be sent again: a failed connect, or a connection that
    /// closed before any byte of the response.
    pub(crate) fn is_retryable(err: &(dyn StdError + 'static)) -> bool {
        let mut next: Option<&(dyn StdError + 'static)> = Some(err);
        while let Some(e) = next {
            if let Some(own) = e.downcast_ref::<Error>() {
                return own.is_connect() || own.is_closed();
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                return io.kind() == std::io::ErrorKind::ConnectionRefused;
            }
            next = e.source();
        }
        false
    }

    /// Reads the failure out of the client service's error: the first
    /// error in the `source()` chain whose kind is known decides.
    pub(crate) fn classify(err: &(dyn StdError + 'static)) -> Self {
        let mut next: Option<&(dyn StdError + 'static)> = Some(err);
        while let Some(e) = next {
            if let Some(own) = e.downcast_ref::<Error>() {
                return Self::from_client(own);
            }
            if let Some(body) = e.downcast_ref::<BodyError>() {
                return Self::from_request_body(body);
            }
            #[cfg(feature = "governance")]
            if let Some(g) = e.downcast_ref::<wego_governance::Error>() {
                if g.is_timeout() {
                    return Self::Timeout;
                }
                if g.is_no_instance() || g.is_breaker_open() || g.is_rejected() || g.is_discovery()
                {
                    return Self::Unavailable;
                }
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::TimedOut => return Self::Timeout,
                    std::io::ErrorKind::ConnectionRefused => return Self::Connect,
                    _ => {}
                }
            }
            next = e.source();
        }
        Self::Upstream
    }

    fn from_client(e: &Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Connect
        } else if e.is_body() {
            // The request body failed while it was sent: the proxy's own
            // limit, or the client that sent it went away.
            let source = StdError::source(e).and_then(|s| s.downcast_ref::<BodyError>());
            source.map_or(Self::RequestBody, Self::from_request_body)
        } else if e.is_protocol() || e.is_closed() || e.is_upgrade() {
            Self::BadResponse
        } else {
            Self::Upstream
        }
    }

    fn from_request_body(e: &BodyError) -> Self {
        if e.is_too_large() {
            Self::RequestTooLarge
        } else {
            Self::RequestBody
        }
    }
}

impl IntoResponse for ProxyError {
    /// The status with a one-line `text/plain` body naming the failure.
    fn into_response(self) -> Response {
        let mut res = http::Response::new(Body::from(format!("{self}\n")));
        *res.status_mut() = self.status();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_texts() {
        let cases = [
            (ProxyError::Connect, 502, "upstream connect failed"),
            (ProxyError::Timeout, 504, "upstream timed out"),
            (ProxyError::BadResponse, 502, "bad upstream response"),
            (ProxyError::Unavailable, 503, "no upstream available"),
            (ProxyError::Upstream, 502, "upstream request failed"),
            (ProxyError::RequestTooLarge, 413, "request body too large"),
            (
                ProxyError::RequestBody,
                400,
                "reading the request body failed",
            ),
            (
                ProxyError::InvalidTarget,
                400,
                "request target cannot be forwarded",
            ),
        ];
        for (e, status, text) in cases {
            assert_eq!(e.status().as_u16(), status, "{e}");
            assert_eq!(e.to_string(), text);
            let res = e.into_response();
            assert_eq!(res.status().as_u16(), status);
            assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
        }
    }

    #[test]
    fn classifies_client_errors() {
        let c = |e: Error| ProxyError::classify(&e);
        assert_eq!(c(Error::timeout()), ProxyError::Timeout);
        assert_eq!(
            c(Error::connect(std::io::Error::other("refused"))),
            ProxyError::Connect
        );
        assert_eq!(c(Error::closed(None)), ProxyError::BadResponse);
        assert_eq!(
            c(Error::protocol(std::io::Error::other("bad head"))),
            ProxyError::BadResponse
        );
        assert_eq!(
            c(Error::body(BodyError::too_large(10))),
            ProxyError::RequestTooLarge
        );
        assert_eq!(
            c(Error::body(BodyError::incomplete())),
            ProxyError::RequestBody
        );
        assert_eq!(c(Error::request("no host")), ProxyError::Upstream);
    }

    #[test]
    fn classifies_foreign_errors_through_their_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("wrapped")]
        struct Wrapped(#[source] Error);
        assert_eq!(
            ProxyError::classify(&Wrapped(Error::timeout())),
            ProxyError::Timeout
        );
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(ProxyError::classify(&io), ProxyError::Connect);
        let io = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert_eq!(ProxyError::classify(&io), ProxyError::Timeout);
        let other = std::io::Error::other("?");
        assert_eq!(ProxyError::classify(&other), ProxyError::Upstream);
        let retry = |e: &(dyn StdError + 'static)| ProxyError::is_retryable(e);
        assert!(retry(&Error::connect(std::io::Error::other("refused"))));
        assert!(retry(&Error::closed(None)));
        assert!(retry(&Wrapped(Error::closed(None))));
        assert!(!retry(&Error::timeout()));
        assert!(!retry(&Error::protocol(std::io::Error::other("bad head"))));
        assert!(!retry(&std::io::Error::other("?")));
    }
}
