//! The gRPC server: h2c connections; a connection's calls run on its task.
//!
//! A connection is served by [`Server::serve_connection`] (any
//! [`Io`](wego_netpoll::net::Io): a `Conn`, a Unix or TLS stream, a pipe,
//! or a connection whose first bytes Kitex's port sniffer already read),
//! by [`Server::serve_incoming`] (a stream of IOs) or by [`Server::serve`]
//! (an accept loop on a [`Listener`]). Each call runs the service raced
//! against the call's deadline (`grpc-timeout`) and the client's
//! `RST_STREAM`: when either wins, the handler's future is dropped, which is
//! how a handler sees cancellation.
//!
//! Response headers go out lazily: with the first message, or before it
//! when the handler asks ([`Response::set_early_headers`]). A call whose
//! status comes first is answered Trailers-Only (one HEADERS frame with
//! END_STREAM carrying `:status`, `content-type`, `grpc-status`,
//! `grpc-message` and the trailing metadata), as grpc-go and tonic answer,
//! so that clients see the call itself fail. The exception, as in grpc-go:
//! a response with initial metadata sends its headers before the trailers,
//! so that the metadata stays initial.
//!
//! [`Response::set_early_headers`]: super::Response::set_early_headers
//!
//! Calls run on the connection's own task (a `FuturesUnordered`), not on a
//! task each: the frames one read brings wake their calls directly, the
//! calls queue their answers, and the connection flushes them in one write.
//! With a task per call (tonic's and hyper's model, available as
//! [`GrpcServerBuilder::with_task_per_call`]) every message costs a task
//! wake-up each way. Writes go through `coalesce.rs`, since h2 alone
//! writes each DATA frame of 256 bytes or more with its own syscall.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use h2::server::SendResponse;
use http::{HeaderMap, HeaderValue, StatusCode};
use tower_service::Service;
use wego_netpoll::io::{AsyncRead, AsyncWrite};
use wego_netpoll::net::Io;
use wego_netpoll::{Listener, Shutdown, ShutdownReport, Watcher, rt};

use super::coalesce::coalesce;
use super::codec::{self, DEFAULT_MAX_MESSAGE_SIZE, Decoder, Encoding};
use super::handshake;
use super::keepalive;
use super::metadata::Metadata;
use super::router::{RawRequest, RawResponse};
use super::send::send_all;
use super::status::Status;
use super::streaming::{Streaming, codec_status};
use super::timeout::parse_timeout;

/// Server configuration, built by [`GrpcServerBuilder`].
#[derive(Debug, Clone)]
struct Config {
    max_recv: usize,
    max_send: usize,
    send_compressed: Option<Encoding>,
    accept_compressed: bool,
    keepalive_interval: Option<Duration>,
    keepalive_timeout: Duration,
    max_concurrent_streams: u32,
    initial_window: u32,
    max_header_list_size: u32,
    task_per_call: bool,
    handshake_timeout: Duration,
    idle_timeout: Duration,
    shutdown_timeout: Duration,
}

/// Builds a [`Server`].
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

    /// How long [`Server::serve_with_shutdown`] lets calls in flight finish
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
    pub fn build(self) -> crate::Result<Server> {
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
        Ok(Server {
            config: Arc::new(self.config),
            shutdown: Shutdown::new(),
        })
    }
}

/// A gRPC server. Cheap to clone; clones share configuration and shutdown.
#[derive(Clone)]
pub struct Server {
    config: Arc<Config>,
    shutdown: Shutdown,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish()
    }
}

impl Default for Server {
    fn default() -> Self {
        Server::builder()
            .build()
            .expect("invariant: defaults are valid")
    }
}

impl Server {
    /// A builder with the defaults (4 MiB messages, no compression sent,
    /// gzip accepted, no keepalive, a 10 s handshake timeout and a 60 s
    /// idle timeout).
    pub fn builder() -> GrpcServerBuilder {
        GrpcServerBuilder {
            config: Config {
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
            },
        }
    }

    /// The shutdown handle: `shutdown(deadline)` sends GOAWAY on every
    /// connection, lets calls in flight finish, then forces.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Starts a graceful shutdown and waits for it (see [`Shutdown`]):
    /// GOAWAY on every connection, calls in flight finish, and after
    /// `deadline` what remains is closed.
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

    /// Serves every IO `incoming` yields, each on its own task, until the
    /// stream ends or a shutdown begins; stream errors are logged and
    /// skipped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops taking connections; those already taken
    /// keep running until they close or the shutdown forces them.
    pub async fn serve_incoming<St, IO, S>(&self, incoming: St, service: S)
    where
        St: Stream<Item = std::io::Result<IO>> + Send,
        IO: Io,
        S: Service<RawRequest, Response = RawResponse, Error = Status> + Clone + Send + 'static,
        S::Future: Send + 'static,
    {
        let watcher = self.shutdown.watcher();
        let mut incoming = std::pin::pin!(incoming);
        loop {
            let next = tokio::select! {
                biased;
                () = watcher.draining() => break,
                next = incoming.next() => next,
            };
            match next {
                Some(Ok(io)) => {
                    let server = self.clone();
                    let svc = service.clone();
                    let w = self.shutdown.watcher();
                    rt::spawn(async move {
                        if let Err(e) = server.serve_connection_with(io, svc, w).await {
                            tracing::debug!(error = %e, "grpc connection ended");
                        }
                    });
                }
                Some(Err(e)) => tracing::debug!(error = %e, "incoming connection failed"),
                None => break,
            }
        }
    }

    /// As [`serve`](Self::serve), and when `signal` completes begins a
    /// graceful shutdown (GOAWAY, calls in flight finish) that waits at
    /// most the builder's
    /// [`with_shutdown_timeout`](GrpcServerBuilder::with_shutdown_timeout)
    /// (5 s by default) before closing what remains.
    pub async fn serve_with_shutdown<S, F>(
        &self,
        listener: Listener,
        service: S,
        signal: F,
    ) -> ShutdownReport
    where
        S: Service<RawRequest, Response = RawResponse, Error = Status> + Clone + Send + 'static,
        S::Future: Send + 'static,
        F: Future<Output = ()> + Send,
    {
        let serve = self.serve(listener, service);
        tokio::pin!(serve);
        tokio::select! {
            () = &mut serve => {}
            () = signal => {}
        }
        // The accept loop holds a watcher of its own: it has to see the
        // drain and end before the shutdown can find the server idle.
        self.begin_shutdown();
        serve.await;
        self.shutdown(self.config.shutdown_timeout).await
    }

    /// Accepts connections until shutdown, serving each on its own task.
    ///
    /// # Errors
    ///
    /// Accept errors are logged and accepting continues; this returns once
    /// draining begins.
    pub async fn serve<S>(&self, listener: Listener, service: S)
    where
        S: Service<RawRequest, Response = RawResponse, Error = Status> + Clone + Send + 'static,
        S::Future: Send + 'static,
    {
        let watcher = self.shutdown.watcher();
        loop {
            // Draining first: once shutdown has begun, a connection that
            // arrives in the same wake-up is not accepted.
            let conn = tokio::select! {
                biased;
                () = watcher.draining() => break,
                c = listener.accept() => c,
            };
            match conn {
                Ok(conn) => {
                    let _ = conn.set_nodelay(true);
                    let server = self.clone();
                    let svc = service.clone();
                    let w = self.shutdown.watcher();
                    // Placed like rt::spawn_connection places any
                    // connection: on a per-core runtime, the least loaded
                    // worker takes it with its socket.
                    rt::spawn_connection(conn, move |conn| async move {
                        if let Err(e) = server.serve_connection_with(conn, svc, w).await {
                            tracing::debug!(error = %e, "grpc connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    rt::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Serves one HTTP/2 connection (prior knowledge: the client preface
    /// comes first) over any IO until the client leaves, the connection
    /// fails, or this server's shutdown drains it (GOAWAY, then in-flight
    /// calls finish) or forces it.
    ///
    /// # Errors
    ///
    /// The h2 handshake or connection error, as a status.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the connection; its calls are dropped.
    pub async fn serve_connection<IO, S>(&self, io: IO, service: S) -> Result<(), Status>
    where
        IO: Io,
        S: Service<RawRequest, Response = RawResponse, Error = Status> + Clone + Send + 'static,
        S::Future: Send + 'static,
    {
        self.serve_connection_with(io, service, self.shutdown.watcher())
            .await
    }

    /// As [`serve_connection`](Self::serve_connection), under the shutdown
    /// `watcher` comes from: the Thrift server's, for the connections its
    /// port sniffer hands over.
    pub(crate) async fn serve_connection_with<IO, S>(
        &self,
        io: IO,
        service: S,
        watcher: Watcher,
    ) -> Result<(), Status>
    where
        IO: Io,
        S: Service<RawRequest, Response = RawResponse, Error = Status> + Clone + Send + 'static,
        S::Future: Send + 'static,
    {
        let cfg = self.config.clone();
        // Read once: every call of the connection carries them.
        let facts = Arc::new(ConnFacts {
            peer: io.peer_addr(),
            tls: io.tls_info().cloned(),
        });
        let (io, progress) = handshake::watch(io);
        let (io, flush) = coalesce(io);
        let drain = watcher.draining();
        let forced = watcher.forced();
        let mut drain = std::pin::pin!(drain);
        let mut forced = std::pin::pin!(forced);
        // The handshake deadline until the handshake is done, then the
        // idle deadline while the connection has no stream.
        let mut timer = std::pin::pin!(rt::sleep(cfg.handshake_timeout));
        let handshake = h2::server::Builder::new()
            .max_concurrent_streams(cfg.max_concurrent_streams)
            .initial_window_size(cfg.initial_window)
            .max_header_list_size(cfg.max_header_list_size)
            .initial_connection_window_size(cfg.initial_window * 2)
            .max_send_buffer_size(256 * 1024)
            .handshake::<_, Bytes>(io);
        let mut handshake = std::pin::pin!(handshake);
        // h2 writes its SETTINGS, then reads the client's preface; the
        // SETTINGS leave at once rather than after the preface.
        let started = std::future::poll_fn(|cx| {
            if drain.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Some(Err(handshake_timed_out())));
            }
            if let Poll::Ready(r) = handshake.as_mut().poll(cx) {
                return Poll::Ready(Some(r.map_err(|e| Status::from_h2(&e))));
            }
            match flush.poll_flush(cx) {
                Poll::Ready(Err(e)) => {
                    Poll::Ready(Some(Err(Status::unavailable(format!("write: {e}")))))
                }
                _ => Poll::Pending,
            }
        })
        .await;
        let mut conn = match started {
            Some(r) => r?,
            // Still in its handshake when draining began: nothing to
            // finish, so the connection closes at once.
            None => return Ok(()),
        };
        std::future::poll_fn(|cx| flush.poll_flush(cx))
            .await
            .map_err(|e| Status::unavailable(format!("write: {e}")))?;
        let mut dead = match (cfg.keepalive_interval, conn.ping_pong()) {
            (Some(every), Some(pp)) => keepalive::start(pp, every, cfg.keepalive_timeout),
            _ => keepalive::never(),
        };
        let mut draining = false;
        // Whether the timer holds the idle deadline (armed when the last
        // stream ended) rather than the handshake's.
        let mut idle_armed = false;
        // The calls of this connection, when they run on its task.
        let mut calls = FuturesUnordered::new();
        loop {
            let event = std::future::poll_fn(|cx| {
                if forced.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Forced);
                }
                if !draining && drain.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Drain);
                }
                if dead.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Dead);
                }
                // Read (and flush), run the calls the frames woke, then
                // drive the connection once more so that everything they
                // wrote leaves in one write.
                for _ in 0..2 {
                    match conn.poll_accept(cx) {
                        Poll::Ready(Some(Ok(call))) => return Poll::Ready(Event::Call(call)),
                        Poll::Ready(Some(Err(e))) => return Poll::Ready(Event::Failed(e)),
                        Poll::Ready(None) => return Poll::Ready(Event::Closed),
                        Poll::Pending => {}
                    }
                    while let Poll::Ready(Some(())) = calls.poll_next_unpin(cx) {}
                }
                // Everything this wake-up produced, in one write.
                if let Poll::Ready(Err(e)) = flush.poll_flush(cx) {
                    return Poll::Ready(Event::Write(e));
                }
                if !progress.is_done() {
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Event::HandshakeTimeout);
                    }
                } else if conn.has_streams() || !calls.is_empty() {
                    idle_armed = false;
                } else {
                    if !idle_armed {
                        idle_armed = true;
                        timer.as_mut().reset(rt::now() + cfg.idle_timeout);
                    }
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Event::Idle);
                    }
                }
                Poll::Pending
            })
            .await;
            match event {
                Event::Call((req, respond)) => {
                    let call =
                        handle_call(req, respond, service.clone(), cfg.clone(), facts.clone());
                    if cfg.task_per_call {
                        rt::spawn(call);
                    } else {
                        calls.push(contain(call));
                    }
                }
                Event::Failed(e) => {
                    if e.is_go_away() || e.is_io() {
                        return Ok(());
                    }
                    return Err(Status::from_h2(&e));
                }
                Event::Closed => break,
                Event::Write(e) => {
                    tracing::debug!(error = %e, "grpc connection write failed");
                    return Ok(());
                }
                Event::Drain if !progress.is_done() => {
                    // Still in its handshake: closed at once.
                    return Ok(());
                }
                Event::Drain => {
                    draining = true;
                    conn.graceful_shutdown();
                }
                Event::Forced => {
                    close_now(&mut conn).await;
                    return Ok(());
                }
                Event::HandshakeTimeout => return Err(handshake_timed_out()),
                Event::Idle => {
                    tracing::debug!("grpc connection idle, closing");
                    close_now(&mut conn).await;
                    return Ok(());
                }
                Event::Dead => {
                    tracing::debug!("keepalive ping timed out, closing connection");
                    conn.abrupt_shutdown(h2::Reason::NO_ERROR);
                    return Err(Status::unavailable("keepalive ping timed out"));
                }
            }
        }
        // The connection is gone: its streams fail, so the calls still
        // running end promptly; the forced deadline bounds them anyway.
        if !calls.is_empty() {
            tokio::select! {
                () = async { while calls.next().await.is_some() {} } => {}
                () = forced => {}
            }
        }
        Ok(())
    }
}

/// What woke the connection loop.
// A short-lived stack value; boxing the call would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Event {
    Call((http::Request<h2::RecvStream>, SendResponse<Bytes>)),
    Failed(h2::Error),
    Write(std::io::Error),
    Closed,
    Drain,
    Forced,
    Dead,
    HandshakeTimeout,
    Idle,
}

/// What a connection whose handshake ran out of time ends with.
fn handshake_timed_out() -> Status {
    Status::deadline_exceeded("http/2 handshake timed out")
}

/// Sends GOAWAY (no error, the last stream processed) and closes, bounding
/// the flush: a peer that does not read cannot hold the connection.
async fn close_now<IO>(conn: &mut h2::server::Connection<IO, Bytes>)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    conn.abrupt_shutdown(h2::Reason::NO_ERROR);
    let _ = rt::timeout(
        Duration::from_millis(100),
        std::future::poll_fn(|cx| conn.poll_closed(cx)),
    )
    .await;
}

/// Runs a call on its connection's task, containing a handler's panic to
/// that call (its stream is reset) as a task per call would.
fn contain<F: Future<Output = ()>>(call: F) -> impl Future<Output = ()> {
    AssertUnwindSafe(call).catch_unwind().map(|r| {
        if r.is_err() {
            tracing::error!("grpc handler panicked; its stream is reset");
        }
    })
}

fn trailers_only(
    status: &Status,
    extra: Option<(&'static str, HeaderValue)>,
) -> http::Response<()> {
    let mut resp = http::Response::new(());
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    if let Some((k, v)) = extra {
        headers.insert(k, v);
    }
    status.write_to(headers);
    resp
}

/// Reads the call's headers into what the service needs, or the status that
/// ends the call right away.
/// What a call's headers say: deadline, request encoding, response encoding.
type CallHead = (Option<Instant>, Option<Encoding>, Option<Encoding>);

fn parse_call(
    parts: &http::request::Parts,
    cfg: &Config,
) -> Result<CallHead, (StatusCode, Status)> {
    let ct = parts
        .headers
        .get("content-type")
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if !ct.starts_with(b"application/grpc") {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Status::internal("content-type is not application/grpc"),
        ));
    }
    if parts.method != http::Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            Status::internal("method is not POST"),
        ));
    }
    let deadline = match parts.headers.get("grpc-timeout") {
        None => None,
        Some(v) => {
            let d = parse_timeout(v.as_bytes()).map_err(|e| {
                (
                    StatusCode::OK,
                    Status::internal(format!("malformed grpc-timeout: {e}")),
                )
            })?;
            Instant::now().checked_add(d)
        }
    };
    let recv_enc = match parts
        .headers
        .get("grpc-encoding")
        .map(HeaderValue::as_bytes)
    {
        None | Some(b"identity") => None,
        Some(token) => match Encoding::from_token(token) {
            Some(e) if cfg.accept_compressed => Some(e),
            _ => {
                return Err((
                    StatusCode::OK,
                    Status::unimplemented(format!(
                        "unsupported grpc-encoding {}",
                        String::from_utf8_lossy(token)
                    )),
                ));
            }
        },
    };
    let accept = parts
        .headers
        .get("grpc-accept-encoding")
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    let send_enc = cfg.send_compressed.filter(|e| e.is_accepted_by(accept));
    Ok((deadline, recv_enc, send_enc))
}

/// What a connection's IO told about it when it was handed over.
struct ConnFacts {
    peer: Option<wego_netpoll::Address>,
    tls: Option<wego_netpoll::net::TlsInfo>,
}

async fn handle_call<S>(
    req: http::Request<h2::RecvStream>,
    mut respond: SendResponse<Bytes>,
    mut service: S,
    cfg: Arc<Config>,
    facts: Arc<ConnFacts>,
) where
    S: Service<RawRequest, Response = RawResponse, Error = Status> + Send + 'static,
    S::Future: Send + 'static,
{
    let (parts, body) = req.into_parts();
    let (deadline, recv_enc, default_send_enc) = match parse_call(&parts, &cfg) {
        Ok(v) => v,
        Err((http_status, status)) => {
            let mut resp =
                trailers_only(&status, Some(("grpc-accept-encoding", accept_header(&cfg))));
            *resp.status_mut() = http_status;
            let _ = respond.send_response(resp, true);
            return;
        }
    };
    let accept = parts
        .headers
        .get("grpc-accept-encoding")
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let mut metadata = Metadata::from_headers(parts.headers);
    metadata.remove_reserved();
    let stream = Streaming::new_server(body, Decoder::new(cfg.max_recv, recv_enc));
    let mut request = RawRequest::from_parts(stream, metadata, deadline);
    request.set_path(parts.uri.path().to_owned());
    request.set_conn_facts(facts.peer.as_ref(), facts.tls.as_ref());

    let ctx = Arc::new(super::metainfo::context_from(
        request.path(),
        request.metadata(),
        deadline,
    ));
    let call = crate::metainfo::scope(ctx.clone(), async {
        std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
        service.call(request).await
    });
    let outcome = tokio::select! {
        r = call => r,
        () = sleep_opt(deadline) => Err(Status::deadline_exceeded("deadline exceeded")),
        _ = std::future::poll_fn(|cx| respond.poll_reset(cx)) => return,
    };
    let response = match outcome {
        Ok(r) => r,
        Err(status) => {
            let _ = respond.send_response(trailers_only(&status, None), true);
            return;
        }
    };
    let send_enc = match response.compression() {
        Some(e) if e.is_accepted_by(&accept) => Some(e),
        _ => default_send_enc,
    };
    let mut head = http::Response::new(());
    {
        let h = head.headers_mut();
        response.metadata().merge_into(h);
        h.insert("content-type", HeaderValue::from_static("application/grpc"));
        h.insert("grpc-accept-encoding", accept_header(&cfg));
        if let Some(e) = send_enc {
            h.insert("grpc-encoding", HeaderValue::from_static(e.as_str()));
        }
    }
    let trailers = response.trailers().clone();
    let has_metadata = !response.metadata().is_empty();
    let early = response.has_early_headers();
    let mut messages = response.into_inner();
    // The headers wait for the first message unless the handler asked.
    let mut head = Some(head);
    let mut out = None;
    if early && let Some(h) = head.take() {
        match respond.send_response(h, false) {
            Ok(s) => out = Some(s),
            Err(_) => return,
        }
    }
    let mut buf = BytesMut::new();
    let mut sent_any = false;
    let status = loop {
        let reset = std::future::poll_fn(|cx| match out.as_mut() {
            Some(s) => s.poll_reset(cx),
            None => respond.poll_reset(cx),
        });
        let next = tokio::select! {
            n = crate::metainfo::scope(ctx.clone(), messages.next()) => n,
            () = sleep_opt(deadline) => break Status::deadline_exceeded("deadline exceeded"),
            _ = reset => return,
        };
        match next {
            None => break Status::ok().with_metadata(trailers),
            Some(Err(s)) => break s,
            Some(Ok(payload)) => {
                if sent_any {
                    // A stream: frame into shared blocks, not one
                    // allocation per message (a unary answer stays exact).
                    buf.reserve((codec::HEADER_LEN + payload.len()).max(FRAME_BLOCK));
                }
                sent_any = true;
                if let Err(e) = codec::encode(&payload, send_enc, cfg.max_send, &mut buf) {
                    break codec_status(e);
                }
                let frame = buf.split().freeze();
                let out = match (out.as_mut(), head.take()) {
                    (Some(s), _) => s,
                    (None, Some(h)) => match respond.send_response(h, false) {
                        Ok(s) => out.insert(s),
                        Err(_) => return,
                    },
                    (None, None) => return,
                };
                let sent = tokio::select! {
                    r = send_all(out, frame, false) => r,
                    () = sleep_opt(deadline) => break Status::deadline_exceeded("deadline exceeded"),
                };
                if sent.is_err() {
                    return;
                }
            }
        }
    };
    drop(messages);
    let mut out = match (out, head) {
        (Some(s), _) => s,
        // The status came first: Trailers-Only.
        (None, _) if !has_metadata => {
            let _ = respond.send_response(trailers_only(&status, None), true);
            return;
        }
        // Initial metadata stays initial: headers, then trailers.
        (None, Some(h)) => match respond.send_response(h, false) {
            Ok(s) => s,
            Err(_) => return,
        },
        (None, None) => return,
    };
    let mut map = HeaderMap::new();
    status.write_to(&mut map);
    let _ = out.send_trailers(map);
}

/// The block size streamed response frames are cut from.
const FRAME_BLOCK: usize = 8 * 1024;

/// What this server accepts, for `grpc-accept-encoding`.
fn accept_header(cfg: &Config) -> HeaderValue {
    if cfg.accept_compressed {
        HeaderValue::from_static("gzip")
    } else {
        HeaderValue::from_static("identity")
    }
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => rt::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
