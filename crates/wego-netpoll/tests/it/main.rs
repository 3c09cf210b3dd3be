//! Integration tests of wego-netpoll over loopback, on every enabled backend.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod clock;
mod contract;
mod example;
mod placement;
mod runtime;
mod send_sync;
mod shutdown;
mod timer_latency;
mod transport;
