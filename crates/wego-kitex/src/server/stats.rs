//! Counters of what a server refused or could only answer with an error,
//! kept by the connection driver and read through [`Server::stats`].
//!
//! [`Server::stats`]: super::Server::stats

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A server's connection counters, readable while it runs (by tests, or by
/// an exporter that publishes them). Cloning shares the counters.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    unknown_payloads: AtomicU64,
    unsupported_protocol_calls: AtomicU64,
    bad_frames: AtomicU64,
    frame_read_timeouts: AtomicU64,
}

impl ServerStats {
    /// Connections closed because their bytes were in no protocol the
    /// server knows and carried no envelope to answer: first bytes that are
    /// neither HTTP/2 nor a Thrift framing, or a frame whose payload is
    /// neither Thrift binary, compact, TJSON nor a registered payload
    /// handler's.
    pub fn unknown_payloads(&self) -> u64 {
        self.inner.unknown_payloads.load(Ordering::Relaxed)
    }

    /// Calls in TJSONProtocol, which the server does not serve, answered
    /// with a `TApplicationException` of type `INVALID_PROTOCOL`.
    pub fn unsupported_protocol_calls(&self) -> u64 {
        self.inner
            .unsupported_protocol_calls
            .load(Ordering::Relaxed)
    }

    /// Connections closed on a malformed frame: beyond the size limit, a
    /// bad TTHeader/THeader header, or a malformed unframed message.
    pub fn bad_frames(&self) -> u64 {
        self.inner.bad_frames.load(Ordering::Relaxed)
    }

    /// Connections closed because a frame (or the protocol sniff of a
    /// connection's first bytes) had not arrived whole within the frame
    /// read timeout of its first byte: a client too slow to be served, or
    /// one holding the connection open a byte at a time.
    pub fn frame_read_timeouts(&self) -> u64 {
        self.inner.frame_read_timeouts.load(Ordering::Relaxed)
    }

    pub(super) fn count_unknown_payload(&self) {
        self.inner.unknown_payloads.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_unsupported_protocol_call(&self) {
        self.inner
            .unsupported_protocol_calls
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_bad_frame(&self) {
        self.inner.bad_frames.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_frame_read_timeout(&self) {
        self.inner
            .frame_read_timeouts
            .fetch_add(1, Ordering::Relaxed);
    }
}
