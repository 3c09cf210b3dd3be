//! wego: CloudWeGo's microservice stack — Netpoll, Hertz, Kitex and service
//! governance — in Rust.
//!
//! This crate only re-exports the layered crates behind features, so that an
//! application depends on one crate and picks what it needs:
//!
//! | module | crate | feature | what it is |
//! |--------|-------|---------|------------|
//! | [`netpoll`] | `wego-netpoll` | always | transports, runtime facade, `LinkBuffer`, graceful shutdown |
//! | `hertz` | `wego-hertz` | `hertz` (default) | HTTP framework: server, router, extractors, middleware |
//! | `kitex` | `wego-kitex` | `kitex` (default) | RPC framework: Thrift, TTHeader, Kitex Protobuf, gRPC |
//! | `governance` | `wego-governance` | `governance` (default) | discovery, load balancing, breakers, limits, retry, metrics, tracing |
//! | `otel` | `wego-otel` | `otel` (OTLP/gRPC), `otel-http` (adds OTLP/HTTP) | OpenTelemetry export of spans and metrics |
//!
//! Each crate can also be used on its own. The layers point down: hertz and
//! kitex build on governance and netpoll; governance builds on netpoll only.

pub use wego_netpoll as netpoll;

#[cfg(feature = "hertz")]
pub use wego_hertz as hertz;

#[cfg(feature = "kitex")]
pub use wego_kitex as kitex;

#[cfg(feature = "governance")]
pub use wego_governance as governance;

#[cfg(feature = "otel")]
pub use wego_otel as otel;

/// The runtime entry point: builds a default runtime and runs `future` on it.
///
/// # Errors
///
/// Fails if the runtime cannot be built.
pub fn run<F: Future>(future: F) -> netpoll::Result<F::Output> {
    netpoll::rt::block_on(future)
}

/// The README's code blocks, compiled as doc tests so that the landing
/// page's example keeps building.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
