//! wego-governance on the Thrift server: [`ThriftRequest`] is
//! [`CallInfo`], so the server layers of `wego_governance`
//! (`RateLimitLayer`, `ConcurrencyLimitLayer`, `MetricsLayer`, `TraceLayer`)
//! wrap a generated `{Service}Server` (or any service registered with
//! [`ServerBuilder::service`](super::Builder::service)) unchanged:
//!
//! ```no_run
//! # use wego_kitex::server::{Server, ThriftReply, ThriftRequest};
//! # fn make<S>(svc: S) where S: tower_service::Service<ThriftRequest, Response = ThriftReply,
//! #     Error = wego_kitex::BoxError> + Clone + Send + Sync + 'static, S::Future: Send + 'static {
//! use tower_layer::Layer;
//! use wego_governance::limit::{ConcurrencyLimitLayer, RateLimitLayer};
//! let svc = RateLimitLayer::new(1000, 100).layer(ConcurrencyLimitLayer::new(256).layer(svc));
//! let server = Server::builder().service("EchoServer", &["Echo"], svc).build();
//! # }
//! ```
//!
//! A handler's error type is `BoxError`, which is `From<wego_governance::Error>`;
//! the router answers a refusal with a `TApplicationException` of type
//! `INTERNAL_ERROR` whose message starts with what refused
//! ([`refusal_exception`]: `"rate limited: rate limit exceeded"`,
//! `"overloaded: concurrency limit exceeded"`), and the connection keeps
//! serving. The callee is the registered service name, the method the
//! Thrift method, the deadline TTHeader's RPC timeout.

use std::time::Instant;

use wego_governance::CallInfo;

use super::ThriftRequest;
use crate::BoxError;
use crate::thrift::{ApplicationException, ExceptionKind};

impl CallInfo for ThriftRequest {
    fn callee(&self) -> &str {
        &self.context.rpc_info.callee
    }
    fn method(&self) -> &str {
        &self.header.name
    }
    fn deadline(&self) -> Option<Instant> {
        self.context.rpc_info.deadline
    }
}

/// The `TApplicationException` a handler error becomes: `INTERNAL_ERROR`
/// with the error's text, prefixed by the refusal (`rate limited`,
/// `overloaded`, `timed out`, ...) when a governance layer refused the call.
pub fn refusal_exception(e: &BoxError) -> ApplicationException {
    let msg = match e.downcast_ref::<wego_governance::Error>() {
        Some(g) => {
            let what = match g {
                g if g.is_rate_limited() => "rate limited",
                g if g.is_overloaded() => "overloaded",
                g if g.is_timeout() => "timed out",
                _ => "refused",
            };
            format!("{what}: {g}")
        }
        None => e.to_string(),
    };
    ApplicationException::new(ExceptionKind::InternalError, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_errors_keep_their_text() {
        let e: BoxError = "boom".into();
        let x = refusal_exception(&e);
        assert_eq!(x.kind, ExceptionKind::InternalError);
        assert_eq!(x.message, "boom");
    }
}
