#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! wego-governance integration tests: one module per behaviour.

mod balancers;
mod breakers;
mod dns;
mod limits;
mod load_balance;
mod metrics_endpoint;
mod retry_hedge;
mod support;
mod timeouts;
mod tracing_spans;
