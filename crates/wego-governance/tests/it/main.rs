#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! wego-governance integration tests: one module per behaviour.

mod balancers;
mod breakers;
mod dns;
#[cfg(feature = "dns-srv")]
mod dns_srv;
#[cfg(feature = "etcd")]
mod echo;
#[cfg(feature = "etcd")]
mod etcd;
mod example_client_stack;
#[cfg(feature = "etcd")]
mod example_etcd_register;
mod example_metrics_endpoint;
mod limits;
mod load_balance;
mod metrics_endpoint;
mod metrics_labels;
#[cfg(feature = "etcd")]
mod proof;
mod retry_hedge;
mod send_sync;
mod support;
mod timeouts;
mod tracing_spans;
