//! The Thrift server: several services on one port, all framings.
//!
//! ```text
//! accept ─ sniff first bytes ─┬─ HTTP/2 preface ─> ConnHandler (gRPC)
//!                             └─ Thrift framing ─> conn driver ─ frames ─ Router ─ service
//! ```
//!
//! A service is any `tower::Service<ThriftRequest, Response = ThriftReply>`;
//! `wego-build` generates one per IDL service from a handler trait. The
//! [`Router`] (itself a `tower::Service`) picks the service by method name,
//! or by `service:method` as Apache's multiplexed protocol sends it.

mod conn;
mod governance;
mod router;
mod stats;

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wego_netpoll::{Conn, Listener, Shutdown, Watcher};

pub use governance::refusal_exception;
pub use router::{Router, ThriftReply, ThriftRequest};
pub use stats::ServerStats;

use crate::metainfo::CallContext;
use crate::transport::{DEFAULT_MAX_FRAME, Prefixed};

/// Serves connections that start with the HTTP/2 preface (gRPC).
///
/// The sniffed bytes are replayed by the [`Prefixed`] wrapper; drop the
/// watcher when the connection is done.
pub trait ConnHandler: Send + Sync + 'static {
    /// Serves one HTTP/2 connection until it closes.
    fn serve(
        &self,
        io: Prefixed<Conn>,
        watcher: Watcher,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Serves TTHeader frames whose payload is not Thrift (Kitex Protobuf).
pub trait PayloadHandler: Send + Sync + 'static {
    /// Whether this handler takes a frame with `protocol_id` whose payload starts with `payload`.
    fn accepts(&self, protocol_id: u8, payload: &[u8]) -> bool;
    /// Answers one payload; `None` sends no reply (oneway). The reply is
    /// framed in TTHeader with the request's sequence id and protocol id.
    fn call(
        &self,
        payload: Bytes,
        ctx: Arc<CallContext>,
    ) -> Pin<Box<dyn Future<Output = Option<Bytes>> + Send>>;
}

/// Server limits and timeouts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Most connections served at once; more are closed on accept. Size it
    /// above the most clients expected at once, idle pooled connections
    /// included: a connection beyond it is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Most requests in flight per connection; reading pauses at the limit.
    pub max_in_flight: NonZeroUsize,
    /// Largest frame or unframed message.
    pub max_frame: usize,
    /// How long a connection may stay silent: between frames, and between
    /// two reads within a frame.
    pub read_timeout: Duration,
    /// How long one frame may take to arrive whole, from its first byte
    /// (for a connection's first frame, from its first byte, protocol sniff
    /// included). A connection whose frame misses it is closed, however
    /// steadily its bytes trickle in.
    pub frame_read_timeout: Duration,
    /// How long one reply write may take.
    pub write_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_in_flight: NonZeroUsize::new(256).expect("invariant: 256 is non-zero"),
            max_frame: DEFAULT_MAX_FRAME,
            read_timeout: Duration::from_secs(60),
            frame_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// Builds a [`Server`].
#[derive(Default)]
pub struct Builder {
    router: Router,
    config: Config,
    http2: Option<Arc<dyn ConnHandler>>,
    payload: Option<Arc<dyn PayloadHandler>>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("router", &self.router)
            .field("config", &self.config)
            .finish()
    }
}

impl Builder {
    /// Adds a generated service (wego-build's `SServer<H>`) under the IDL
    /// name and methods it carries:
    /// `.add_service(EchoServerServer::new(handler))`.
    ///
    /// A hand-written service, or a generated one wrapped in layers, is
    /// added with [`service`](Self::service) instead.
    pub fn add_service<S>(self, svc: S) -> Self
    where
        S: crate::codegen::NamedService
            + tower_service::Service<ThriftRequest, Response = ThriftReply>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<crate::BoxError>,
        S::Future: Send + 'static,
    {
        self.service(S::NAME, S::METHODS, svc)
    }

    /// Adds a service named `name` answering `methods`.
    pub fn service<S>(mut self, name: &str, methods: &[&str], svc: S) -> Self
    where
        S: tower_service::Service<ThriftRequest, Response = ThriftReply>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<crate::BoxError>,
        S::Future: Send + 'static,
    {
        self.router.add(name, methods, svc);
        self
    }

    /// Sets the connection limit.
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.config.max_connections = n;
        self
    }

    /// Sets the per-connection in-flight limit.
    pub fn with_max_in_flight(mut self, n: NonZeroUsize) -> Self {
        self.config.max_in_flight = n;
        self
    }

    /// Sets the maximum frame size.
    pub fn with_max_frame(mut self, n: usize) -> Self {
        self.config.max_frame = n;
        self
    }

    /// Sets the read (idle) timeout: how long a connection may stay silent
    /// between frames, or between two reads within a frame (default 60 s).
    pub fn with_read_timeout(mut self, d: Duration) -> Self {
        self.config.read_timeout = d;
        self
    }

    /// Sets the frame read timeout: how long a frame may take to arrive
    /// whole from its first byte (default 10 s, like Hertz's
    /// `header_read_timeout`). It closes clients that keep a connection
    /// busy a byte at a time, which the idle [`read_timeout`] never does
    /// since every byte restarts it. For a connection's first frame it
    /// also covers the sniff of the first bytes that picks the protocol.
    /// It bounds Thrift frames only; HTTP/2 (gRPC) connections have their
    /// own limits once sniffed.
    ///
    /// [`read_timeout`]: Self::with_read_timeout
    pub fn with_frame_read_timeout(mut self, d: Duration) -> Self {
        self.config.frame_read_timeout = d;
        self
    }

    /// Sets the write timeout.
    pub fn with_write_timeout(mut self, d: Duration) -> Self {
        self.config.write_timeout = d;
        self
    }

    /// Registers the HTTP/2 (gRPC) connection handler.
    pub fn http2_handler(mut self, h: Arc<dyn ConnHandler>) -> Self {
        self.http2 = Some(h);
        self
    }

    /// Registers the handler for non-Thrift TTHeader payloads (Kitex Protobuf).
    pub fn payload_handler(mut self, h: Arc<dyn PayloadHandler>) -> Self {
        self.payload = Some(h);
        self
    }

    /// Builds the server.
    ///
    /// # Errors
    ///
    /// Fails if no service and no handler is registered, or a limit or
    /// timeout is zero.
    pub fn build(self) -> Result<Server, crate::BoxError> {
        if self.router.is_empty() && self.http2.is_none() && self.payload.is_none() {
            return Err("a server needs at least one service".into());
        }
        if self.config.max_connections == 0 || self.config.max_frame < 16 {
            return Err("max_connections and max_frame must be positive".into());
        }
        let c = &self.config;
        if c.read_timeout.is_zero() || c.frame_read_timeout.is_zero() || c.write_timeout.is_zero() {
            return Err(
                "read_timeout, frame_read_timeout and write_timeout must be positive".into(),
            );
        }
        Ok(Server {
            shared: Arc::new(conn::Shared {
                router: self.router,
                config: self.config,
                http2: self.http2,
                payload: self.payload,
                stats: ServerStats::default(),
            }),
        })
    }
}

/// A Thrift server; cheap to clone.
#[derive(Clone, Debug)]
pub struct Server {
    shared: Arc<conn::Shared>,
}

impl Server {
    /// Starts building a server.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The server's connection counters (shared with every clone).
    pub fn stats(&self) -> ServerStats {
        self.shared.stats.clone()
    }

    /// Serves `listener` until `shutdown` begins; then stops accepting, lets
    /// in-flight calls finish and closes connections (aborting them when
    /// the shutdown deadline passes).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops accepting; served connections keep running
    /// until they close or the shutdown is forced.
    pub async fn serve(&self, listener: Listener, shutdown: Shutdown) {
        let watcher = shutdown.watcher();
        let slots = Arc::new(tokio::sync::Semaphore::new(
            self.shared.config.max_connections,
        ));
        loop {
            // Draining first: once shutdown has begun, a connection that
            // arrives in the same wake-up is not accepted.
            let conn = tokio::select! {
                biased;
                () = watcher.draining() => break,
                r = listener.accept() => r,
            };
            let conn = match conn {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    wego_netpoll::rt::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                tracing::warn!(peer = %conn.peer_addr(), "connection limit reached, closing");
                continue;
            };
            let shared = self.shared.clone();
            let w = shutdown.watcher();
            // On a per-core runtime the connection goes to the least loaded
            // worker, with its socket, and all its I/O stays there.
            wego_netpoll::rt::spawn_connection(conn, move |conn| async move {
                conn::serve_conn(shared, conn, w).await;
                drop(permit);
            });
        }
    }
}
