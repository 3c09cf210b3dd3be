//! Integration tests of wego-netpoll over loopback, on every enabled backend.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod clock;
mod contract;
// The example stops on `signal::terminated`.
#[cfg(feature = "signal")]
mod example;
// The tokio backend's flavours (per-core placement, work-stealing).
#[cfg(feature = "tokio")]
mod per_loop;
#[cfg(feature = "tokio")]
mod placement;
#[cfg(feature = "tokio")]
mod runtime;
mod send_sync;
mod shutdown;
mod timer_latency;
mod tls;
mod transport;
