#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! Integration tests of wego-otel: OTLP collector stubs served by wego's
//! own gRPC server (from the vendored protos) and by hertz.

mod collector;
mod collector_down;
mod http_export;
mod metrics_export;
mod sampling;
mod trace_chain;
