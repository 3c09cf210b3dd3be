//! The gRPC server's settings, shared by the builder, the connection loop
//! and the calls.

use std::time::Duration;

use crate::grpc::codec::{DEFAULT_MAX_MESSAGE_SIZE, Encoding};

/// Server configuration, built by [`GrpcServerBuilder`](super::GrpcServerBuilder).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_recv: usize,
    pub(crate) max_send: usize,
    pub(crate) send_compressed: Option<Encoding>,
    pub(crate) accept_compressed: bool,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) max_concurrent_streams: u32,
    pub(crate) initial_window: u32,
    pub(crate) max_header_list_size: u32,
    pub(crate) task_per_call: bool,
    pub(crate) handshake_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl Default for Config {
    /// 4 MiB messages, no compression sent, gzip accepted, no keepalive,
    /// a 10 s handshake timeout and a 60 s idle timeout.
    fn default() -> Config {
        Config {
            max_recv: DEFAULT_MAX_MESSAGE_SIZE,
            max_send: DEFAULT_MAX_MESSAGE_SIZE,
            send_compressed: None,
            accept_compressed: true,
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(20),
            max_concurrent_streams: 1000,
            initial_window: 1024 * 1024,
            max_header_list_size: 1024 * 1024,
            task_per_call: false,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}
