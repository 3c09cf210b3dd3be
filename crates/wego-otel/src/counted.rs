//! Counts the exports of `opentelemetry-otlp`'s HTTP exporters in
//! [`ExportStats`], as the gRPC exporter counts its own.

use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::stats::ExportStats;

/// An exporter whose results are counted and failures logged.
#[derive(Debug)]
pub(crate) struct Counted<E> {
    inner: E,
    stats: ExportStats,
}

impl<E> Counted<E> {
    pub(crate) fn new(inner: E, stats: ExportStats) -> Self {
        Counted { inner, stats }
    }

    fn count(
        &self,
        what: &str,
        res: OTelSdkResult,
        ok: impl FnOnce(&ExportStats),
    ) -> OTelSdkResult {
        match &res {
            Ok(()) => ok(&self.stats),
            Err(e) => {
                self.stats.failure();
                tracing::warn!(target: "wego_otel", error = %e, "OTLP/HTTP {what} export failed");
            }
        }
        res
    }
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let res = self.inner.export(batch).await;
        self.count("span", res, |s| s.span_batch(n))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Counted<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let res = self.inner.export(metrics).await;
        self.count("metric", res, ExportStats::metric_export)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
