//! [`ClientRequest`] and [`ClientResponse`]: one call and its reply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wego_netpoll::rt;

use crate::Result;
use crate::metainfo::MetaInfo;
use crate::thrift::Protocol;

/// Encodes a call's argument struct in the protocol the client speaks.
type EncodeArgs = Arc<dyn Fn(Protocol) -> Result<Bytes> + Send + Sync>;

/// One call: method, argument struct, metainfo, and what governance reads
/// through `wego_governance::CallInfo` with the `governance` feature
/// (callee, deadline, idempotency, hash key).
///
/// Arguments are either already encoded ([`ClientRequest::new`], in the
/// client's protocol) or encoded when the call is sent
/// ([`ClientRequest::encode_with`], what generated clients use), so one
/// request can go to any instance whatever its client's protocol, and a
/// retry costs a clone of two `Arc`s.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientRequest {
    /// The method name.
    pub method: String,
    /// Oneway: no reply is read.
    pub oneway: bool,
    /// The encoded argument struct (in the client's protocol); empty when
    /// the request encodes on send.
    pub args: Bytes,
    /// User metainfo sent in TTHeader.
    pub metainfo: MetaInfo,
    /// Overrides the client's RPC timeout.
    pub timeout: Option<Duration>,
    /// The service called, for governance (discovery name, metrics label,
    /// breaker scope); generated clients set their IDL service name.
    pub callee: Option<Arc<str>>,
    /// The call must finish by then (the RPC timeout is cut to it).
    pub deadline: Option<Instant>,
    /// Safe to send more than once: retries and backup requests only
    /// happen for idempotent calls.
    pub idempotent: bool,
    /// The key for consistent hashing.
    pub hash_key: Option<u64>,
    encode: Option<EncodeArgs>,
}

impl std::fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRequest")
            .field("method", &self.method)
            .field("oneway", &self.oneway)
            .field("args", &self.args)
            .field("lazy_args", &self.encode.is_some())
            .field("metainfo", &self.metainfo)
            .field("timeout", &self.timeout)
            .field("callee", &self.callee)
            .field("deadline", &self.deadline)
            .field("idempotent", &self.idempotent)
            .field("hash_key", &self.hash_key)
            .finish()
    }
}

impl ClientRequest {
    /// A call of `method` with `args` already encoded in the client's protocol.
    pub fn new(method: impl Into<String>, args: Bytes) -> Self {
        Self {
            method: method.into(),
            oneway: false,
            args,
            metainfo: MetaInfo::new(),
            timeout: None,
            callee: None,
            deadline: None,
            idempotent: false,
            hash_key: None,
            encode: None,
        }
    }

    /// A call of `method` whose arguments `encode` writes in whatever
    /// protocol the client that sends it speaks (called once per attempt).
    pub fn encode_with<F>(method: impl Into<String>, encode: F) -> Self
    where
        F: Fn(Protocol) -> Result<Bytes> + Send + Sync + 'static,
    {
        let mut r = Self::new(method, Bytes::new());
        r.encode = Some(Arc::new(encode));
        r
    }

    /// Marks the call oneway.
    pub fn with_oneway(mut self, oneway: bool) -> Self {
        self.oneway = oneway;
        self
    }

    /// Sets the metainfo.
    pub fn with_metainfo(mut self, m: MetaInfo) -> Self {
        self.metainfo = m;
        self
    }

    /// Names the callee for governance.
    pub fn with_callee(mut self, callee: &str) -> Self {
        self.callee = Some(Arc::from(callee));
        self
    }

    /// Sets the RPC timeout of this call.
    pub fn with_timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Sets an absolute deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Marks the call safe to send more than once.
    pub fn with_idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Sets the key for consistent hashing.
    pub fn with_hash_key(mut self, key: u64) -> Self {
        self.hash_key = Some(key);
        self
    }

    /// The encoded arguments in `proto`.
    pub(super) fn args_in(&self, proto: Protocol) -> Result<Bytes> {
        match &self.encode {
            Some(f) => f(proto),
            None => Ok(self.args.clone()),
        }
    }
}

#[cfg(feature = "governance")]
impl wego_governance::CallInfo for ClientRequest {
    fn callee(&self) -> &str {
        self.callee.as_deref().unwrap_or("")
    }
    fn method(&self) -> &str {
        &self.method
    }
    fn hash_key(&self) -> Option<u64> {
        self.hash_key
    }
    fn deadline(&self) -> Option<Instant> {
        let by_timeout = self.timeout.map(rt::deadline_in);
        match (self.deadline, by_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fn is_idempotent(&self) -> bool {
        self.idempotent
    }
    fn trace_context(&self) -> Option<wego_governance::trace::TraceContext> {
        wego_governance::trace::TraceContext::extract(&self.metainfo)
    }
}

/// A reply: the encoded result struct (empty for oneway).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientResponse {
    /// The protocol of `body`.
    pub protocol: Protocol,
    /// The encoded result struct.
    pub body: Bytes,
}
