//! wego-governance: service governance as protocol-agnostic `tower` layers.
//!
//! Discovery and registry ([`Discover`], [`Registry`]: static, DNS, etcd),
//! load balancing ([`lb`]: smooth weighted round robin, weighted random,
//! consistent hash, power of two choices), circuit breakers ([`breaker`]),
//! rate and concurrency limits ([`limit`]), retries with a budget
//! ([`retry`]), backup requests ([`hedge`]), timeouts ([`timeout`]), fallback
//! ([`fallback`]), metrics with Prometheus exposition ([`metrics`]) and
//! tracing with W3C `traceparent` propagation ([`trace`]).
//!
//! The crate knows nothing of HTTP or RPC. Layers read requests through
//! [`CallInfo`] (callee, method, hash key, deadline, idempotency) and errors
//! through [`Classify`] (retryable? a breaker failure? which kind?), and turn
//! their own refusals into the protocol's error with `From<`[`Error`]`>`.
//! `docs/governance.md` shows how a protocol crate implements the traits
//! and how to write a `Discover`, `Registry` or [`Balancer`](lb::Balancer).
//!
//! # Example
//!
//! ```
//! use tower_layer::Layer;
//! use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
//! use wego_governance::retry::RetryLayer;
//! use wego_governance::{Call, Instance, InstanceWatch};
//!
//! # #[derive(Clone)] struct Client;
//! # impl tower_service::Service<Call<()>> for Client {
//! #     type Response = ();
//! #     type Error = wego_governance::BoxError;
//! #     type Future = std::future::Ready<Result<(), Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
//! #     fn call(&mut self, _: Call<()>) -> Self::Future { std::future::ready(Ok(())) }
//! # }
//! let watch = InstanceWatch::fixed(vec![Instance::new("127.0.0.1:8080".parse().unwrap())]);
//! // One client per instance (in practice: a connection pool handle).
//! let lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new).layer(|_: &Instance| Client);
//! let client = RetryLayer::new(3).layer(lb);
//! # let _ = client;
//! ```
//!
//! # Features
//!
//! | feature | what it adds |
//! |---------|--------------|
//! | `etcd`  | etcd v3 discovery and registry (a gRPC client on tonic, generated without `protoc`) |
//! | `opentelemetry` | `TraceContext` ⇄ OpenTelemetry `SpanContext`, `Carrier` as `Injector`/`Extractor` |
//!
//! # Semver
//!
//! Pre-1.0: the capability traits ([`CallInfo`], [`Classify`], [`Discover`],
//! [`Registry`], [`Balancer`](lb::Balancer), [`Carrier`](trace::Carrier)) are
//! meant to stay stable; metric names and log messages are not covered.

mod attempt;
pub mod breaker;
mod call;
pub mod discovery;
mod error;
pub mod fallback;
pub mod hedge;
mod instance;
pub mod lb;
pub mod limit;
pub mod metrics;
pub mod retry;
pub mod timeout;
pub mod trace;

pub use call::{Call, CallInfo};
pub use discovery::{Discover, InstanceWatch, Publisher, Registration, Registry, StaticDiscover};
pub use error::{BoxError, Classify, Error, Result};
pub use instance::{DEFAULT_WEIGHT, Instance};
