//! [`Telemetry`]: one tracer provider and one meter provider exporting
//! over OTLP, built by [`TelemetryBuilder`].

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use wego_governance::metrics::{Metrics, MetricsRecorder};
use wego_netpoll::rt;

use crate::bridge::OtelLayer;
use crate::metrics::OtelRecorder;
use crate::stats::ExportStats;
use crate::{Error, Result};

/// Where and how the pipeline sends OTLP.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Endpoint {
    /// OTLP/gRPC to a collector at this address, over wego-kitex
    /// (feature `grpc`).
    #[cfg(feature = "grpc")]
    Grpc(wego_netpoll::Address),
    /// OTLP/HTTP with protobuf bodies to a collector whose base URL is
    /// this (`http://host:4318`; `/v1/traces` and `/v1/metrics` are
    /// appended), with `opentelemetry-otlp`'s exporters over wego-hertz's
    /// client (feature `http`).
    #[cfg(feature = "http")]
    Http(String),
}

/// The instrumentation scope name of wego's spans and instruments.
pub const SCOPE: &str = "wego";

/// Builds a [`Telemetry`] pipeline. Defaults: sample every trace (ratio
/// 1.0, parent based), 5 s export timeout, spans batched every second (at
/// most 2048 queued, 512 per export), metrics exported every 60 s.
#[derive(Debug, Clone)]
pub struct TelemetryBuilder {
    service_name: String,
    attributes: Vec<KeyValue>,
    ratio: f64,
    endpoint: Option<Endpoint>,
    timeout: Duration,
    batch_delay: Duration,
    max_queue: usize,
    max_batch: usize,
    metrics_interval: Duration,
}

impl TelemetryBuilder {
    /// Adds a resource attribute (`service.version`,
    /// `deployment.environment.name`, ...).
    pub fn with_resource_attribute(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.attributes.push(KeyValue::new(key, value.into()));
        self
    }

    /// Samples this share of new traces (0.0 to 1.0, by trace id); spans
    /// with a parent follow their parent's decision.
    pub fn with_sampling_ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// Sends to this collector.
    pub fn with_endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Bounds each export (dial, send and answer).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long spans wait in the batch before an export.
    pub fn with_batch_delay(mut self, delay: Duration) -> Self {
        self.batch_delay = delay;
        self
    }

    /// The most spans queued for export; more are dropped (and counted
    /// by the SDK), never waited for.
    pub fn with_max_queue(mut self, spans: usize) -> Self {
        self.max_queue = spans;
        self
    }

    /// The most spans in one export.
    pub fn with_max_batch(mut self, spans: usize) -> Self {
        self.max_batch = spans;
        self
    }

    /// How often metrics are exported.
    pub fn with_metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = interval;
        self
    }

    /// Builds the providers and starts their exporters.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] for an empty service name, a sampling ratio
    /// outside 0.0–1.0, a zero timeout, interval, delay or queue, a batch
    /// larger than the queue, no endpoint, or an invalid HTTP endpoint.
    ///
    /// # Panics
    ///
    /// Outside a wego runtime (the exporters start a task on it).
    pub fn build(self) -> Result<Telemetry> {
        if self.service_name.is_empty() {
            return Err(Error::config("service name is empty"));
        }
        if !(0.0..=1.0).contains(&self.ratio) {
            return Err(Error::config("sampling ratio is not within 0.0..=1.0"));
        }
        if self.timeout.is_zero() || self.batch_delay.is_zero() || self.metrics_interval.is_zero() {
            return Err(Error::config(
                "timeout, batch delay and metrics interval must be > 0",
            ));
        }
        if self.max_queue == 0 || self.max_batch == 0 || self.max_batch > self.max_queue {
            return Err(Error::config("max batch must be > 0 and <= max queue"));
        }
        let Some(endpoint) = self.endpoint.clone() else {
            return Err(Error::config("no endpoint"));
        };
        let resource = Resource::builder()
            .with_service_name(self.service_name.clone())
            .with_attributes(self.attributes.clone())
            .build();
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(self.ratio)));
        let batch = BatchConfigBuilder::default()
            .with_scheduled_delay(self.batch_delay)
            .with_max_queue_size(self.max_queue)
            .with_max_export_batch_size(self.max_batch)
            .build();
        let stats = ExportStats::default();
        let (tracer_provider, meter_provider) = match endpoint {
            #[cfg(feature = "grpc")]
            Endpoint::Grpc(addr) => {
                let exporter = crate::grpc::GrpcExporter::new(addr, self.timeout, stats.clone());
                let spans = BatchSpanProcessor::builder(exporter.clone())
                    .with_batch_config(batch)
                    .build();
                let reader = PeriodicReader::builder(exporter)
                    .with_interval(self.metrics_interval)
                    .build();
                (
                    SdkTracerProvider::builder()
                        .with_span_processor(spans)
                        .with_sampler(sampler.clone())
                        .with_id_generator(crate::bridge::WegoIds::default())
                        .with_resource(resource.clone())
                        .build(),
                    SdkMeterProvider::builder()
                        .with_reader(reader)
                        .with_resource(resource)
                        .build(),
                )
            }
            #[cfg(feature = "http")]
            Endpoint::Http(base) => {
                self.http_providers(&base, batch, sampler.clone(), resource, &stats)?
            }
        };
        let meter = meter_provider.meter(SCOPE);
        let recorder: Arc<dyn MetricsRecorder> = Arc::new(OtelRecorder::new(&meter));
        Ok(Telemetry {
            layer_tracer: tracer_provider.tracer(SCOPE),
            tracer_provider,
            meter_provider,
            sampler,
            recorder,
            stats,
        })
    }

    #[cfg(feature = "http")]
    fn http_providers(
        &self,
        base: &str,
        batch: opentelemetry_sdk::trace::BatchConfig,
        sampler: Sampler,
        resource: Resource,
        stats: &ExportStats,
    ) -> Result<(SdkTracerProvider, SdkMeterProvider)> {
        use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};

        let base = base.trim_end_matches('/');
        if base.parse::<http::Uri>().is_err() || !base.starts_with("http") {
            return Err(Error::config("HTTP endpoint is not an http(s) URL"));
        }
        let client = wego_hertz::client::Client::builder()
            .with_timeout(self.timeout)
            .build()
            .map_err(|_| Error::config("HTTP client settings"))?;
        let client = crate::http::HertzHttpClient::new(client, self.timeout);
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client.clone())
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{base}/v1/traces"))
            .with_timeout(self.timeout)
            .build()
            .map_err(|_| Error::config("OTLP/HTTP span exporter settings"))?;
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{base}/v1/metrics"))
            .with_timeout(self.timeout)
            .build()
            .map_err(|_| Error::config("OTLP/HTTP metric exporter settings"))?;
        let spans = crate::counted::Counted::new(spans, stats.clone());
        let metrics = crate::counted::Counted::new(metrics, stats.clone());
        Ok((
            SdkTracerProvider::builder()
                .with_span_processor(
                    BatchSpanProcessor::builder(spans)
                        .with_batch_config(batch)
                        .build(),
                )
                .with_sampler(sampler)
                .with_id_generator(crate::bridge::WegoIds::default())
                .with_resource(resource.clone())
                .build(),
            SdkMeterProvider::builder()
                .with_reader(
                    PeriodicReader::builder(metrics)
                        .with_interval(self.metrics_interval)
                        .build(),
                )
                .with_resource(resource)
                .build(),
        ))
    }
}

/// An OpenTelemetry pipeline for wego: spans through [`Telemetry::layer`],
/// governance metrics through [`Telemetry::metrics`], both exported in
/// batches off the request path.
///
/// End it with [`Telemetry::shutdown`]: dropping the last handle to the
/// SDK providers shuts them down synchronously, which on a runtime
/// thread blocks that thread for up to the SDK's shutdown timeout.
///
/// ```no_run
/// # async fn run(collector: wego_netpoll::Address) -> Result<(), wego_otel::Error> {
/// use tracing_subscriber::layer::SubscriberExt;
/// use wego_otel::{Endpoint, Telemetry};
///
/// let telemetry = Telemetry::builder("front")
///     .with_resource_attribute("service.version", "1.2.0")
///     .with_sampling_ratio(0.1)
///     .with_endpoint(Endpoint::Grpc(collector))
///     .build()?;
/// let subscriber = tracing_subscriber::registry().with(telemetry.layer());
/// tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
/// let metrics = telemetry.metrics(); // hand to GovernanceLayer / clients
/// # drop(metrics);
/// telemetry.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    layer_tracer: opentelemetry_sdk::trace::Tracer,
    sampler: Sampler,
    recorder: Arc<dyn MetricsRecorder>,
    stats: ExportStats,
}

impl Telemetry {
    /// Starts a builder for the service `service_name` (the
    /// `service.name` resource attribute).
    pub fn builder(service_name: impl Into<String>) -> TelemetryBuilder {
        TelemetryBuilder {
            service_name: service_name.into(),
            attributes: Vec::new(),
            ratio: 1.0,
            endpoint: None,
            timeout: Duration::from_secs(5),
            batch_delay: Duration::from_secs(1),
            max_queue: 2048,
            max_batch: 512,
            metrics_interval: Duration::from_secs(60),
        }
    }

    /// The `tracing-subscriber` layer exporting wego's spans.
    pub fn layer(&self) -> OtelLayer {
        OtelLayer::new(self.layer_tracer.clone(), self.sampler.clone())
    }

    /// A governance metrics set whose measurements also go to the
    /// OpenTelemetry instruments (its Prometheus text still renders).
    pub fn metrics(&self) -> Metrics {
        Metrics::new().with_recorder(self.recorder.clone())
    }

    /// The recorder behind [`Telemetry::metrics`], for a set made elsewhere.
    pub fn recorder(&self) -> Arc<dyn MetricsRecorder> {
        self.recorder.clone()
    }

    /// The tracer provider (to add processors or make other tracers).
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider (for instruments of the application's own).
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// What was exported and what failed.
    pub fn stats(&self) -> &ExportStats {
        &self.stats
    }

    /// Exports every finished span and the current metrics now. The SDK
    /// flushes synchronously, so this runs on the runtime's blocking pool.
    ///
    /// # Errors
    ///
    /// [`Error::is_export`] when an export failed or timed out.
    pub async fn flush(&self) -> Result<()> {
        let traces = self.tracer_provider.clone();
        let metrics = self.meter_provider.clone();
        rt::spawn_blocking(move || {
            let t = traces.force_flush();
            let m = metrics.force_flush();
            t.and(m)
        })
        .await
        .map_err(|_| Error::runtime())?
        .map_err(Error::export)
    }

    /// Flushes and stops both providers.
    ///
    /// # Errors
    ///
    /// [`Error::is_export`] when the last export failed or timed out.
    pub async fn shutdown(self) -> Result<()> {
        let traces = self.tracer_provider;
        let metrics = self.meter_provider;
        rt::spawn_blocking(move || {
            let t = traces.shutdown();
            let m = metrics.shutdown();
            t.and(m)
        })
        .await
        .map_err(|_| Error::runtime())?
        .map_err(Error::export)
    }
}
