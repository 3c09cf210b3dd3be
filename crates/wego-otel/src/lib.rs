//! OpenTelemetry export for wego: the spans of hertz, kitex (Thrift and
//! gRPC, clients and servers) and governance, and governance's metrics,
//! sent to an OTLP collector in batches, off the request path.
//!
//! - [`OtelLayer`] (a `tracing-subscriber` layer) turns wego's `wego.*`
//!   spans into OpenTelemetry spans with the ids that travel in
//!   `traceparent`, so one trace links HTTP → Thrift → gRPC hops, each
//!   server span's parent being its caller's client span.
//! - [`OtelRecorder`] records governance's metric families (requests,
//!   errors, latency, in-flight, retries, breakers) into OpenTelemetry
//!   instruments with the same labels, beside or instead of the
//!   Prometheus endpoint.
//! - [`Telemetry`] builds both providers: resource attributes
//!   (`service.name`, ...), parent-based ratio sampling, and an OTLP
//!   exporter: gRPC over wego-kitex ([`Endpoint::Grpc`]) or HTTP/protobuf
//!   with `opentelemetry-otlp` over wego-hertz ([`Endpoint::Http`]).
//! - `proto` (feature `grpc`): the OTLP messages and collector services
//!   generated from the vendored OpenTelemetry `.proto` files, for a
//!   collector of one's own or a test stub on wego-kitex's gRPC server.
//!
//! An unreachable collector never blocks or fails a request: spans wait
//! in a bounded queue (dropped when it is full), exports run on the SDK's
//! threads and the wego runtime, and failures are counted in
//! [`ExportStats`] and logged at `warn`.
//!
//! | feature | default | what |
//! |---|---|---|
//! | `grpc` | yes | OTLP/gRPC over wego-kitex ([`GrpcExporter`]) |
//! | `http` | no | OTLP/HTTP with `opentelemetry-otlp` over wego-hertz ([`HertzHttpClient`]) |
//!
//! With neither, only [`OtelRecorder`] (metrics into any OpenTelemetry
//! meter) and [`ExportStats`] remain.
//!
//! The `opentelemetry*` types in this API are 0.x and follow their
//! releases: they are outside wego's semver promises. See
//! `docs/governance.md` (observability) for the attribute names and the
//! design.

#[cfg(any(feature = "grpc", feature = "http"))]
mod bridge;
#[cfg(feature = "http")]
mod counted;
#[cfg(any(feature = "grpc", feature = "http"))]
mod dispatch;
mod error;
#[cfg(feature = "grpc")]
mod grpc;
#[cfg(feature = "http")]
mod http;
mod metrics;
#[cfg(any(feature = "grpc", feature = "http"))]
mod pipeline;
#[cfg(feature = "grpc")]
pub mod proto;
mod stats;

#[cfg(any(feature = "grpc", feature = "http"))]
pub use bridge::OtelLayer;
pub use error::{Error, Result};
#[cfg(feature = "grpc")]
pub use grpc::{GrpcExporter, METRICS_EXPORT_PATH, TRACE_EXPORT_PATH};
#[cfg(feature = "http")]
pub use http::HertzHttpClient;
pub use metrics::OtelRecorder;
#[cfg(any(feature = "grpc", feature = "http"))]
pub use pipeline::{Endpoint, SCOPE, Telemetry, TelemetryBuilder};
pub use stats::ExportStats;
