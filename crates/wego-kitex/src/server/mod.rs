//! The Thrift server: several services on one port, all framings.
//!
//! ```text
//! accept ─ sniff first bytes ─┬─ HTTP/2 preface ─> ConnHandler (gRPC)
//!                             └─ Thrift framing ─> conn driver ─ frames ─ ThriftRouter ─ service
//! ```
//!
//! A service is any `tower::Service<ThriftRequest, Response = ThriftReply>`;
//! `wego-build` generates one per IDL service from a handler trait. The
//! [`ThriftRouter`] (itself a `tower::Service`) picks the service by method name,
//! or by `service:method` as Apache's multiplexed protocol sends it.
//!
//! The server runs over any IO ([`wego_netpoll::net::Io`]): a netpoll
//! [`Listener`] ([`Server::serve`]), a stream of IOs
//! ([`Server::serve_incoming`]) or one connection
//! ([`Server::serve_connection`]); the first-bytes sniffing is the same for
//! each. The connection driver is generic over the IO, so a `Conn` is not
//! boxed; only a connection handed to the HTTP/2 handler is.

mod conn;
mod dispatch;
mod frame;
#[cfg(feature = "governance")]
mod governance;
mod request;
mod router;
mod shared;
mod stats;
mod transcoded;

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use wego_netpoll::net::{BoxIo, Io};
use wego_netpoll::{BoxFuture, Listener, Shutdown, ShutdownReport, Watcher, rt};

#[cfg(feature = "governance")]
pub use governance::refusal_exception;
pub use request::{ThriftReply, ThriftRequest};
pub use router::ThriftRouter;
pub use stats::ServerStats;

pub(crate) use conn::write_within;

use crate::metainfo::CallContext;
use crate::thrift::PayloadProtocol;
use crate::transport::{DEFAULT_MAX_FRAME, DetectFraming, Prefixed};
use crate::{Error, Result};

/// Serves connections that start with the HTTP/2 preface (gRPC).
///
/// The sniffed bytes are replayed by the [`Prefixed`] wrapper around the
/// connection, whatever IO it is; drop the watcher when the connection is
/// done.
pub trait ConnHandler: Send + Sync + 'static {
    /// Serves one HTTP/2 connection until it closes.
    fn serve(&self, io: Prefixed<BoxIo>, watcher: Watcher) -> BoxFuture<'static, ()>;
}

/// A generated Thrift service that knows its IDL name and methods, so that
/// [`ServerBuilder::add_service`] registers it without repeating them.
/// wego-build implements it for every `SServer<H>` it generates.
pub trait NamedService {
    /// The IDL service name (`service:method` in Apache's multiplexed
    /// protocol, and the `to_service` of TTHeader, select it).
    const NAME: &'static str;
    /// The methods the service answers.
    const METHODS: &'static [&'static str];
}

/// Serves TTHeader frames whose payload is not Thrift (Kitex Protobuf).
pub trait PayloadHandler: Send + Sync + 'static {
    /// Whether this handler takes a frame with `protocol_id` whose payload starts with `payload`.
    fn accepts(&self, protocol_id: u8, payload: &[u8]) -> bool;
    /// Answers one payload; `None` sends no reply (oneway). The reply is
    /// framed in TTHeader with the request's sequence id and protocol id.
    fn call(&self, payload: Bytes, ctx: Arc<CallContext>) -> BoxFuture<'static, Option<Bytes>>;

    /// The protocol's internal-error reply to `request` (the payload a
    /// [`call`](Self::call) was given), saying `message`: the server sends
    /// it, framed like any reply, when that call panics. `None`, the
    /// default, sends no reply, as for a oneway call: the caller then
    /// waits for its own timeout. Either way the connection serves on.
    fn internal_error(&self, request: &[u8], message: &str) -> Option<Bytes> {
        let _ = (request, message);
        None
    }
}

/// Server limits and timeouts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Most connections served at once; more are closed on accept. Size it
    /// above the most clients expected at once, idle pooled connections
    /// included: a connection beyond it is closed as soon as it is accepted.
    /// It bounds the whole server: every [`Server::serve`] and
    /// [`Server::serve_incoming`] of it and its clones take from one count
    /// (a connection handed to [`Server::serve_connection`] is the
    /// caller's, and not counted).
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
    /// How long [`Server::serve_with_shutdown`] lets calls in flight
    /// finish once its signal fires.
    pub shutdown_timeout: Duration,
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
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// Builds a [`Server`].
#[derive(Default)]
pub struct ServerBuilder {
    router: ThriftRouter,
    config: Config,
    http2: Option<Arc<dyn ConnHandler>>,
    payload: Option<Arc<dyn PayloadHandler>>,
    framings: Vec<Arc<dyn DetectFraming>>,
    payloads: Vec<Arc<dyn PayloadProtocol>>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("router", &self.router)
            .field("config", &self.config)
            .field("framings", &self.framings)
            .field("payloads", &self.payloads)
            .finish()
    }
}

impl ServerBuilder {
    /// Adds a generated service (wego-build's `SServer<H>`) under the IDL
    /// name and methods it carries:
    /// `.add_service(EchoServerServer::new(handler))`.
    ///
    /// A hand-written service, or a generated one wrapped in layers, is
    /// added with [`service`](Self::service) instead.
    pub fn add_service<S>(self, svc: S) -> Self
    where
        S: NamedService
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
        S::Error: Into<wego_netpoll::BoxError>,
        S::Future: Send + 'static,
    {
        self.router.add(name, methods, svc);
        self
    }

    /// Adds a service named `name` that answers every method no other
    /// service routes, as Kitex's generic server does: a
    /// [`GenericService`](crate::generic::GenericService) over a
    /// swappable descriptor then serves methods its IDL gains at run
    /// time, without a restart. Only the first fallback is kept.
    pub fn fallback_service<S>(mut self, name: &str, svc: S) -> Self
    where
        S: tower_service::Service<ThriftRequest, Response = ThriftReply>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<wego_netpoll::BoxError>,
        S::Future: Send + 'static,
    {
        self.router.set_fallback(name, svc);
        self
    }

    /// Sets the connection limit (default 10,000), for the whole server:
    /// its listeners and incoming streams share it.
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

    /// Sets the write timeout: how long a reply may wait for the peer to
    /// take it, counted from the moment the socket first pushes back. A
    /// connection whose reply misses it is closed.
    pub fn with_write_timeout(mut self, d: Duration) -> Self {
        self.config.write_timeout = d;
        self
    }

    /// Sets how long [`Server::serve_with_shutdown`] waits for calls in
    /// flight once its signal fires before closing what remains (default
    /// 5 s, Hertz's `ExitWaitTimeout`).
    pub fn with_shutdown_timeout(mut self, d: Duration) -> Self {
        self.config.shutdown_timeout = d;
        self
    }

    /// Registers the HTTP/2 (gRPC) connection handler.
    pub fn with_http2_handler(mut self, h: Arc<dyn ConnHandler>) -> Self {
        self.http2 = Some(h);
        self
    }

    /// Registers the handler for non-Thrift TTHeader payloads (Kitex Protobuf).
    pub fn with_payload_handler(mut self, h: Arc<dyn PayloadHandler>) -> Self {
        self.payload = Some(h);
        self
    }

    /// Also serves connections in `framing`, a framing beyond the built-in
    /// ones (TTHeader, THeader, Framed, Buffered, HTTP/2). Each connection's
    /// first bytes are offered to the added framings first, in the order
    /// added; one that answers [`Match::Yes`](crate::transport::Match::Yes)
    /// decodes and encodes that connection's frames, whose payloads are
    /// Thrift binary or compact messages served by the router. Its calls
    /// are served concurrently, replies going out as they finish (paired
    /// by the envelope's sequence id, as on Framed connections).
    pub fn with_framing(mut self, framing: impl DetectFraming) -> Self {
        self.framings.push(Arc::new(framing));
        self
    }

    /// Also serves messages in `protocol`, a payload protocol beyond Binary
    /// and Compact ([`PayloadProtocol`]), in every framing. It is asked
    /// after the built-in ones, in the order added: per frame, of a payload
    /// that is no strict Binary or Compact message (or, in TTHeader and
    /// THeader, whose protocol id is its
    /// [`header_protocol_id`](PayloadProtocol::header_protocol_id)), and,
    /// for a connection's first bytes, when the built-in detection finds
    /// nothing (an unframed connection in that protocol). Its calls reach
    /// the services with bodies transcoded into its
    /// [`body_form`](PayloadProtocol::body_form), and their replies are
    /// transcoded back; a body that cannot be transcoded is answered with a
    /// `PROTOCOL_ERROR` exception in the protocol.
    pub fn with_payload_protocol(mut self, protocol: impl PayloadProtocol) -> Self {
        self.payloads.push(Arc::new(protocol));
        self
    }

    /// Builds the server.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] if no service and no handler is registered, a
    /// limit or timeout is zero, or the largest frame is under 16 bytes.
    pub fn build(self) -> Result<Server> {
        if self.router.is_empty() && self.http2.is_none() && self.payload.is_none() {
            return Err(Error::config("a server needs at least one service"));
        }
        let c = &self.config;
        if c.max_connections == 0 {
            return Err(Error::config("max_connections must be positive"));
        }
        if c.max_frame < 16 {
            return Err(Error::config("max_frame must be at least 16 bytes"));
        }
        if c.read_timeout.is_zero() {
            return Err(Error::config("read_timeout must be positive"));
        }
        if c.frame_read_timeout.is_zero() {
            return Err(Error::config("frame_read_timeout must be positive"));
        }
        if c.write_timeout.is_zero() {
            return Err(Error::config("write_timeout must be positive"));
        }
        // Beyond the semaphore's most permits the limit is no limit.
        let slots = Arc::new(tokio::sync::Semaphore::new(
            c.max_connections.min(tokio::sync::Semaphore::MAX_PERMITS),
        ));
        Ok(Server {
            shared: Arc::new(shared::Shared {
                router: self.router,
                config: self.config,
                http2: self.http2,
                payload: self.payload,
                framings: self.framings,
                payloads: self.payloads,
                stats: ServerStats::default(),
                slots,
            }),
            shutdown: Shutdown::new(),
        })
    }
}

/// A Thrift server. Cheap to clone; clones share configuration, counters
/// and the shutdown state, so one clone can [`shutdown`](Self::shutdown)
/// while another [`serve`](Self::serve)s.
#[derive(Clone, Debug)]
pub struct Server {
    shared: Arc<shared::Shared>,
    shutdown: Shutdown,
}

impl Server {
    /// Starts building a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The server's connection counters (shared with every clone).
    pub fn stats(&self) -> ServerStats {
        self.shared.stats.clone()
    }

    /// Serves one connection over any IO (a netpoll `Conn`, a Unix or TLS
    /// stream, an in-memory pipe) until it closes, the peer goes silent
    /// past the read timeout, or a shutdown forces it. The first bytes pick
    /// the protocol as on a listener: Thrift in any framing, Kitex
    /// Protobuf, or HTTP/2 for the registered handler. The peer's address
    /// in each call's `RpcInfo` comes from the IO's
    /// [`ConnInfo`](wego_netpoll::ConnInfo).
    ///
    /// The connection counts toward a graceful shutdown: it stops reading
    /// when draining begins, finishes its calls in flight, then closes.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the connection; calls in flight on it
    /// are dropped.
    pub async fn serve_connection<IO: Io>(&self, io: IO) {
        conn::serve_conn(self.shared.clone(), io, self.shutdown.watcher()).await;
    }

    /// Serves every IO `incoming` yields, each on its own task, until the
    /// stream ends or a shutdown begins. Connections beyond
    /// `max_connections` are closed as they arrive; stream errors are
    /// logged and skipped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops taking connections; those already taken
    /// keep running until they close or the shutdown forces them.
    pub async fn serve_incoming<St, IO>(&self, incoming: St)
    where
        St: Stream<Item = std::io::Result<IO>> + Send,
        IO: Io,
    {
        let watcher = self.shutdown.watcher();
        let slots = self.slots();
        let mut incoming = std::pin::pin!(incoming);
        loop {
            let next = tokio::select! {
                biased;
                () = watcher.draining() => break,
                next = incoming.next() => next,
            };
            let io = match next {
                Some(Ok(io)) => io,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "incoming connection failed");
                    continue;
                }
                None => break,
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                tracing::warn!(peer = ?io.peer_addr(), "connection limit reached, closing");
                continue;
            };
            let shared = self.shared.clone();
            let w = self.shutdown.watcher();
            rt::spawn(async move {
                conn::serve_conn(shared, io, w).await;
                drop(permit);
            });
        }
    }

    /// Accepts on `listener` until a shutdown begins ([`shutdown`] or
    /// [`begin_shutdown`] from another task), serving each connection on
    /// its own task; then stops accepting. Connections keep running until
    /// they finish their calls in flight; [`shutdown`] waits for them.
    ///
    /// [`shutdown`]: Self::shutdown
    /// [`begin_shutdown`]: Self::begin_shutdown
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops accepting; served connections keep running
    /// until they close or the shutdown is forced.
    pub async fn serve(&self, listener: Listener) {
        let watcher = self.shutdown.watcher();
        let slots = self.slots();
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
                    rt::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                tracing::warn!(peer = %conn.peer_addr(), "connection limit reached, closing");
                continue;
            };
            let shared = self.shared.clone();
            let w = self.shutdown.watcher();
            // On a per-core runtime the connection goes to the least loaded
            // worker, with its socket, and all its I/O stays there.
            rt::spawn_connection(conn, move |conn| async move {
                conn::serve_conn(shared, conn, w).await;
                drop(permit);
            });
        }
    }

    /// As [`serve`](Self::serve), and when `signal` completes begins a
    /// graceful shutdown: stops accepting, lets calls in flight finish for
    /// up to the builder's [`with_shutdown_timeout`] (5 s by default), then
    /// closes what remains. Returns how the shutdown went.
    ///
    /// [`with_shutdown_timeout`]: ServerBuilder::with_shutdown_timeout
    pub async fn serve_with_shutdown<F>(&self, listener: Listener, signal: F) -> ShutdownReport
    where
        F: Future<Output = ()> + Send,
    {
        let serve = self.serve(listener);
        tokio::pin!(serve);
        tokio::select! {
            () = &mut serve => {}
            () = signal => {}
        }
        // The accept loop holds a watcher of its own: it has to see the
        // drain and end before the shutdown can find the server idle.
        self.begin_shutdown();
        serve.await;
        self.shutdown(self.shared.config.shutdown_timeout).await
    }

    /// Shuts down gracefully: stops accepting, lets every connection finish
    /// its calls in flight and close, and after `deadline` closes whatever
    /// remains.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the shutdown in the phase it reached.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.shutdown.shutdown(deadline).await
    }

    /// Begins a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&self) {
        self.shutdown.begin();
    }

    /// Whether a graceful shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.shutdown.is_draining()
    }

    /// Connections (and accept loops) still running.
    pub fn active(&self) -> usize {
        self.shutdown.active()
    }

    fn slots(&self) -> Arc<tokio::sync::Semaphore> {
        self.shared.slots.clone()
    }
}
