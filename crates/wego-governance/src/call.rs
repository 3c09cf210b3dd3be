//! What governance needs to know about a request: [`CallInfo`].

use std::time::{Duration, Instant};

use wego_netpoll::rt;

use crate::trace::TraceContext;

/// Request-side capabilities that governance layers read.
///
/// Protocol crates implement it for their request type in a few lines (an
/// HTTP client request: callee = host, method = path template; a Kitex
/// request: callee and method from the TTHeader/RPC info). Only
/// [`callee`](CallInfo::callee) and [`method`](CallInfo::method) are required.
pub trait CallInfo {
    /// The service being called (the discovery name).
    fn callee(&self) -> &str;

    /// The method (RPC name, or a route) being called.
    fn method(&self) -> &str;

    /// A key for consistent hashing (a user id, a shard key), if any.
    fn hash_key(&self) -> Option<u64> {
        None
    }

    /// The caller's deadline for the whole call, if it carries one
    /// (`grpc-timeout`, a TTHeader timeout): an instant on the runtime's
    /// clock ([`rt::now`]), which the timeout and retry layers compare
    /// with and sleep until.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// True if the call may be sent twice without harm (retries and backup
    /// requests are only made for such calls).
    fn is_idempotent(&self) -> bool {
        false
    }

    /// The trace context this request sends to the callee (its
    /// `traceparent`), if it already carries one. [`TraceLayer`] gives its
    /// span this context's ids, so an exported client span is the parent
    /// the callee sees.
    ///
    /// [`TraceLayer`]: crate::trace::TraceLayer
    fn trace_context(&self) -> Option<TraceContext> {
        None
    }
}

impl<T: CallInfo + ?Sized> CallInfo for &T {
    fn callee(&self) -> &str {
        (**self).callee()
    }
    fn method(&self) -> &str {
        (**self).method()
    }
    fn hash_key(&self) -> Option<u64> {
        (**self).hash_key()
    }
    fn deadline(&self) -> Option<Instant> {
        (**self).deadline()
    }
    fn is_idempotent(&self) -> bool {
        (**self).is_idempotent()
    }
    fn trace_context(&self) -> Option<TraceContext> {
        (**self).trace_context()
    }
}

/// A ready-made request envelope for callers without a protocol type:
/// a body plus the call information.
#[derive(Debug, Clone)]
pub struct Call<B> {
    /// The callee's service name.
    pub callee: String,
    /// The method name.
    pub method: String,
    /// The consistent-hash key.
    pub hash_key: Option<u64>,
    /// The deadline of the whole call, on the runtime's clock
    /// ([`rt::now`]).
    pub deadline: Option<Instant>,
    /// Whether the call may be repeated.
    pub idempotent: bool,
    /// The payload.
    pub body: B,
}

impl<B> Call<B> {
    /// Creates an idempotent call without a hash key or deadline.
    pub fn new(callee: impl Into<String>, method: impl Into<String>, body: B) -> Self {
        Call {
            callee: callee.into(),
            method: method.into(),
            hash_key: None,
            deadline: None,
            idempotent: true,
            body,
        }
    }

    /// Sets the consistent-hash key.
    pub fn with_hash_key(mut self, key: u64) -> Self {
        self.hash_key = Some(key);
        self
    }

    /// Sets the deadline to `timeout` from now on the runtime's clock
    /// ([`rt::now`]); a timeout too long for an `Instant`
    /// (`Duration::MAX`) sets one that never comes ([`rt::deadline_in`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Some(rt::deadline_in(timeout));
        self
    }

    /// Marks the call idempotent (retryable) or not.
    pub fn with_idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }
}

impl<B> CallInfo for Call<B> {
    fn callee(&self) -> &str {
        &self.callee
    }
    fn method(&self) -> &str {
        &self.method
    }
    fn hash_key(&self) -> Option<u64> {
        self.hash_key
    }
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn is_idempotent(&self) -> bool {
        self.idempotent
    }
}
