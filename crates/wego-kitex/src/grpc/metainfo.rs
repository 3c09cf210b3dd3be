//! Kitex metainfo over gRPC metadata, as Kitex's HTTP/2 transport carries
//! it (bytedance/gopkg `metainfo` HTTP form): persistent values travel as
//! `rpc-persist-<key>` headers, transient ones as `rpc-transit-<key>`.
//! Keys are lower-case on the wire (HTTP/2 header names).
//!
//! A gRPC handler runs inside [`crate::metainfo::scope`], so
//! [`crate::metainfo::current`] gives its `RpcInfo` (callee and method from
//! the path, deadline) and metainfo; a gRPC client called from inside a
//! handler forwards the persistent values to the next hop.

use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::metainfo::{TRACEPARENT, TRACESTATE};

use super::metadata::Metadata;
use super::status::Status;
use crate::metainfo::{
    self, CallContext, FastStr, MetaInfo, PREFIX_PERSISTENT, PREFIX_TRANSIENT, RpcInfo,
};

/// Header prefix of persistent metainfo.
pub const HTTP_PREFIX_PERSISTENT: &str = "rpc-persist-";
/// Header prefix of transient metainfo.
pub const HTTP_PREFIX_TRANSIENT: &str = "rpc-transit-";

/// Most metainfo entries (`rpc-persist-*`, `rpc-transit-*`, trace keys)
/// one gRPC request may carry; a request with more is answered
/// `RESOURCE_EXHAUSTED`. The same cap as a TTHeader frame's
/// ([`crate::ttheader::MAX_INFO_PAIRS`]).
pub const MAX_ENTRIES: usize = crate::ttheader::MAX_INFO_PAIRS;

/// The call context a gRPC request gives its handler.
///
/// # Errors
///
/// `RESOURCE_EXHAUSTED` if the request carries more than [`MAX_ENTRIES`]
/// metainfo entries.
pub(crate) fn context_from(
    path: &str,
    metadata: &Metadata,
    deadline: Option<Instant>,
) -> Result<CallContext, Status> {
    let (callee, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("", path));
    let mut wire = Vec::new();
    for (k, v) in metadata.iter() {
        let Ok(v) = std::str::from_utf8(v) else {
            continue;
        };
        let key = if let Some(key) = k.strip_prefix(HTTP_PREFIX_PERSISTENT) {
            format!("{PREFIX_PERSISTENT}{key}")
        } else if let Some(key) = k.strip_prefix(HTTP_PREFIX_TRANSIENT) {
            format!("{PREFIX_TRANSIENT}{key}")
        } else if k == TRACEPARENT || k == TRACESTATE {
            k.to_owned()
        } else {
            continue;
        };
        if wire.len() == MAX_ENTRIES {
            return Err(Status::resource_exhausted(format!(
                "more than {MAX_ENTRIES} metainfo entries"
            )));
        }
        wire.push((key, v.to_owned()));
    }
    Ok(CallContext {
        rpc_info: RpcInfo {
            callee: FastStr::new(callee),
            method: FastStr::new(method),
            deadline,
            ..RpcInfo::default()
        },
        metainfo: MetaInfo::from_wire(&wire),
    })
}

/// Adds the persistent metainfo of the call being served (if any) to an
/// outgoing request's headers, unless the caller set the same key, and a
/// child of its trace context as `traceparent` unless the caller set one.
pub(crate) fn forward(headers: &mut HeaderMap) {
    let Some(ctx) = metainfo::current() else {
        return;
    };
    #[cfg(feature = "governance")]
    if !headers.contains_key(TRACEPARENT) {
        let mut trace = MetaInfo::new();
        metainfo::inject_child(&mut trace);
        for (k, v) in trace.to_wire_pairs() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                headers.insert(name, value);
            }
        }
    }
    let mut wire = Vec::new();
    ctx.metainfo.for_next_hop().to_wire(&mut wire);
    for (k, v) in wire {
        let Some(key) = k.strip_prefix(PREFIX_PERSISTENT) else {
            continue;
        };
        let name = format!("{HTTP_PREFIX_PERSISTENT}{}", key.to_ascii_lowercase());
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&v),
        ) && !headers.contains_key(&name)
        {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_becomes_rpc_info_and_metainfo() {
        let mut md = Metadata::new();
        md.insert("rpc-persist-tenant", "t1").unwrap();
        md.insert("rpc-transit-hop", "h1").unwrap();
        md.insert("x-other", "o").unwrap();
        let ctx = context_from("/echo.EchoServer/Echo", &md, None).unwrap();
        assert_eq!(ctx.rpc_info.callee, "echo.EchoServer");
        assert_eq!(ctx.rpc_info.method, "Echo");
        assert_eq!(ctx.metainfo.persistent("tenant"), Some("t1"));
        assert_eq!(ctx.metainfo.upstream_transient("hop"), Some("h1"));
        assert_eq!(ctx.metainfo.persistent("other"), None);
    }
}
