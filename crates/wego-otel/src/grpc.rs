//! OTLP/gRPC export over wego-kitex's gRPC client.
//!
//! [`GrpcExporter`] is an `opentelemetry_sdk` `SpanExporter` and
//! `PushMetricExporter`. The SDK's data is turned into OTLP messages by
//! `opentelemetry-proto`'s conversions (the same code the upstream
//! exporters use), encoded once, and sent as a unary call to
//! `opentelemetry.proto.collector.{trace,metrics}.v1.*Service/Export` on
//! a [`LazyChannel`]: a collector that is down costs a failed dial per
//! batch, and the channel dials again on the next one.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use prost::Message;
use tower_service::Service;
use wego_kitex::grpc::{Channel, ChannelBuilder, GrpcCall, LazyChannel, Request};
use wego_netpoll::{Address, rt};

use crate::dispatch::Dispatcher;
use crate::proto::collector::metrics::v1::ExportMetricsServiceResponse;
use crate::proto::collector::trace::v1::ExportTraceServiceResponse;
use crate::stats::ExportStats;

/// The trace service's export method.
pub const TRACE_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The metrics service's export method.
pub const METRICS_EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// Exports spans and metrics to an OTLP/gRPC collector with wego-kitex.
///
/// Build it on a wego runtime (it starts a task there that runs the
/// calls; the SDK exports from threads of its own).
#[derive(Debug, Clone)]
pub struct GrpcExporter {
    channel: LazyChannel,
    dispatch: Dispatcher,
    timeout: Duration,
    stats: ExportStats,
    resource: Arc<Mutex<ResourceAttributesWithSchema>>,
}

impl GrpcExporter {
    /// An exporter to the collector at `addr`; each export is bounded by
    /// `timeout` (dial included).
    ///
    /// # Panics
    ///
    /// Outside a wego runtime.
    pub fn new(addr: Address, timeout: Duration, stats: ExportStats) -> GrpcExporter {
        let builder: ChannelBuilder = Channel::builder()
            .with_connect_timeout(timeout)
            .with_timeout(timeout);
        GrpcExporter {
            channel: LazyChannel::new(builder, addr),
            dispatch: Dispatcher::start(),
            timeout,
            stats,
            resource: Arc::new(Mutex::new(ResourceAttributesWithSchema::from(
                &Resource::builder_empty().build(),
            ))),
        }
    }

    /// Sends one encoded export request; the response bytes on success.
    async fn send(&self, path: &'static str, body: Vec<u8>) -> Result<Bytes, String> {
        let mut channel = self.channel.clone();
        let timeout = self.timeout;
        let call = GrpcCall::new(path, Request::new(Bytes::from(body)));
        let sent = self
            .dispatch
            .run(async move { rt::timeout(timeout, channel.call(call)).await })
            .await;
        match sent {
            Ok(Ok(Ok(resp))) => Ok(resp.into_inner()),
            Ok(Ok(Err(status))) => Err(format!("{:?}: {}", status.code(), status.message())),
            Ok(Err(_)) => Err(format!("no answer within {timeout:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn failed(&self, what: &str, why: String) -> OTelSdkError {
        self.stats.failure();
        tracing::warn!(target: "wego_otel", error = %why, "OTLP/gRPC {what} export failed");
        OTelSdkError::InternalFailure(why)
    }
}

impl SpanExporter for GrpcExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let body = {
            let resource = self.resource.lock().unwrap_or_else(PoisonError::into_inner);
            ExportTraceServiceRequest {
                resource_spans: group_spans_by_resource_and_scope(batch, &resource),
            }
            .encode_to_vec()
        };
        match self.send(TRACE_EXPORT_PATH, body).await {
            Ok(resp) => {
                if let Ok(r) = ExportTraceServiceResponse::decode(resp)
                    && let Some(p) = r.partial_success
                {
                    self.stats.reject(p.rejected_spans);
                }
                self.stats.span_batch(n);
                Ok(())
            }
            Err(why) => Err(self.failed("span", why)),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        *self.resource.lock().unwrap_or_else(PoisonError::into_inner) = resource.into();
    }
}

impl PushMetricExporter for GrpcExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let body = ExportMetricsServiceRequest::from(metrics).encode_to_vec();
        match self.send(METRICS_EXPORT_PATH, body).await {
            Ok(resp) => {
                if let Ok(r) = ExportMetricsServiceResponse::decode(resp)
                    && let Some(p) = r.partial_success
                {
                    self.stats.reject(p.rejected_data_points);
                }
                self.stats.metric_export();
                Ok(())
            }
            Err(why) => Err(self.failed("metric", why)),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}
