//! [`ExportStats`]: what the exporters sent and what failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
struct Counters {
    span_batches: AtomicU64,
    spans: AtomicU64,
    metric_exports: AtomicU64,
    failures: AtomicU64,
    rejected: AtomicU64,
}

/// Counts of the exports of one pipeline. Cloning shares the counts.
///
/// A failed export (collector unreachable, an error status, a timeout) is
/// counted here and logged at `warn` with target `wego_otel`; the batch is
/// dropped, and requests are never affected.
#[derive(Debug, Clone, Default)]
pub struct ExportStats {
    inner: Arc<Counters>,
}

impl ExportStats {
    /// Span batches the collector accepted.
    pub fn span_batches(&self) -> u64 {
        self.inner.span_batches.load(Ordering::Relaxed)
    }

    /// Spans in those batches.
    pub fn spans(&self) -> u64 {
        self.inner.spans.load(Ordering::Relaxed)
    }

    /// Metric exports the collector accepted.
    pub fn metric_exports(&self) -> u64 {
        self.inner.metric_exports.load(Ordering::Relaxed)
    }

    /// Exports (spans or metrics) that failed and were dropped.
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Spans or data points the collector reported as rejected in a
    /// partial success.
    pub fn rejected(&self) -> u64 {
        self.inner.rejected.load(Ordering::Relaxed)
    }

    #[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
    pub(crate) fn span_batch(&self, spans: usize) {
        self.inner.span_batches.fetch_add(1, Ordering::Relaxed);
        self.inner.spans.fetch_add(spans as u64, Ordering::Relaxed);
    }

    #[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
    pub(crate) fn metric_export(&self) {
        self.inner.metric_exports.fetch_add(1, Ordering::Relaxed);
    }

    #[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
    pub(crate) fn failure(&self) {
        self.inner.failures.fetch_add(1, Ordering::Relaxed);
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) fn reject(&self, n: i64) {
        if n > 0 {
            self.inner.rejected.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}
