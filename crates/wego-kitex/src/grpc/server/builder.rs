//! [`GrpcServerBuilder`] and the constructors of [`GrpcServer`].

use std::time::Duration;

use super::config::Config;
use super::serve::GrpcServer;
use crate::grpc::codec::Encoding;

impl GrpcServer {
    /// A builder with the defaults (4 MiB messages, no compression sent,
    /// gzip accepted, no keepalive, a 10 s handshake timeout and a 60 s
    /// idle timeout).
    pub fn builder() -> GrpcServerBuilder {
        GrpcServerBuilder {
            config: Config::default(),
        }
    }
}

impl Default for GrpcServer {
    fn default() -> Self {
        GrpcServer::builder()
            .build()
            .expect("invariant: defaults are valid")
    }
}

/// Builds a [`GrpcServer`].
#[derive(Debug, Clone)]
pub struct GrpcServerBuilder {
    config: Config,
}

impl GrpcServerBuilder {
    /// Largest message accepted from clients (default 4 MiB); larger ones end
    /// the call with `RESOURCE_EXHAUSTED`.
    pub fn with_max_recv_message_size(mut self, n: usize) -> Self {
        self.config.max_recv = n;
        self
    }

    /// Largest message sent (default 4 MiB); a larger response ends the call
    /// with `RESOURCE_EXHAUSTED`.
    pub fn with_max_send_message_size(mut self, n: usize) -> Self {
        self.config.max_send = n;
        self
    }

    /// Compresses responses with `encoding` when the client accepts it.
    pub fn with_send_compressed(mut self, encoding: Encoding) -> Self {
        self.config.send_compressed = Some(encoding);
        self
    }

    /// Whether compressed requests are accepted (default true); when false a
    /// compressed call gets `UNIMPLEMENTED`.
    pub fn with_accept_compressed(mut self, yes: bool) -> Self {
        self.config.accept_compressed = yes;
        self
    }

    /// Sends an HTTP/2 PING every `interval` and closes the connection if no
    /// answer comes within the keepalive timeout. Off by default.
    pub fn with_keepalive_interval(mut self, interval: Duration) -> Self {
        self.config.keepalive_interval = Some(interval);
        self
    }

    /// How long to wait for a PING answer (default 20 s).
    pub fn with_keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.config.keepalive_timeout = timeout;
        self
    }

    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (default 1000).
    pub fn with_max_concurrent_streams(mut self, n: u32) -> Self {
        self.config.max_concurrent_streams = n;
        self
    }

    /// Largest header (metadata) block accepted from a client, in bytes
    /// (`SETTINGS_MAX_HEADER_LIST_SIZE`, default 1 MiB).
    pub fn with_max_header_list_size(mut self, n: u32) -> Self {
        self.config.max_header_list_size = n;
        self
    }

    /// How long a new connection has to complete its HTTP/2 handshake: the
    /// client's preface and the SETTINGS frame that must follow it
    /// (default 10 s). A connection that has not sent both by then is
    /// closed, and one still in its handshake when a graceful shutdown
    /// begins is closed at once.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// How long a connection may stay open with no stream (default 60 s):
    /// then it gets a GOAWAY and is closed. The timer starts when the
    /// handshake completes and whenever the last open stream ends; a
    /// stream exists once its whole header block has arrived, so this
    /// also bounds a client that trickles a header block on an otherwise
    /// idle connection.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How long [`GrpcServer::serve_with_shutdown`] lets calls in flight finish
    /// once its signal fires before closing what remains (default 5 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Runs every call on its own task (`rt::spawn`), so that the calls of
    /// one connection run in parallel on a multi-thread runtime, at the
    /// cost of a task wake-up per message. Off by default: a connection's
    /// calls run on the connection's task, which batches what they write
    /// into one socket write per wake-up (see `docs/rpc.md`). Turn it on
    /// for handlers that do long CPU work between awaits on few
    /// connections.
    pub fn with_task_per_call(mut self, yes: bool) -> Self {
        self.config.task_per_call = yes;
        self
    }

    /// Builds the server.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`](crate::Error::is_config) for a zero message
    /// size, keepalive interval, handshake timeout or idle timeout.
    pub fn build(self) -> crate::Result<GrpcServer> {
        use crate::Error;
        let c = &self.config;
        if c.max_recv == 0 {
            return Err(Error::config("max_recv_message_size must be positive"));
        }
        if c.max_send == 0 {
            return Err(Error::config("max_send_message_size must be positive"));
        }
        if c.keepalive_interval == Some(Duration::ZERO) {
            return Err(Error::config("keepalive_interval must be positive"));
        }
        if c.handshake_timeout.is_zero() {
            return Err(Error::config("handshake_timeout must be positive"));
        }
        if c.idle_timeout.is_zero() {
            return Err(Error::config("idle_timeout must be positive"));
        }
        Ok(GrpcServer::from_config(self.config))
    }
}
