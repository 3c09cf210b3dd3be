//! [`GrpcServer`]: h2c connections; a connection's calls run on its task.
//!
//! A connection is served by [`GrpcServer::serve_connection`] (any
//! [`Io`](wego_netpoll::net::Io): a `Conn`, a Unix or TLS stream, a pipe,
//! or a connection whose first bytes Kitex's port sniffer already read),
//! by [`GrpcServer::serve_incoming`] (a stream of IOs) or by [`GrpcServer::serve`]
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
//! [`Response::set_early_headers`]: crate::grpc::Response::set_early_headers
//!
//! Calls run on the connection's own task (a `FuturesUnordered`), not on a
//! task each: the frames one read brings wake their calls directly, the
//! calls queue their answers, and the connection flushes them in one write.
//! With a task per call (tonic's and hyper's model, available as
//! [`GrpcServerBuilder::with_task_per_call`](super::GrpcServerBuilder::with_task_per_call)) every message costs a task
//! wake-up each way. Writes go through `conn/coalesce.rs`, since h2 alone
//! writes each DATA frame of 256 bytes or more with its own syscall.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use h2::server::SendResponse;
use tower_service::Service;
use wego_netpoll::io::{AsyncRead, AsyncWrite};
use wego_netpoll::net::Io;
use wego_netpoll::{Listener, Shutdown, ShutdownReport, Watcher, rt};

use super::call::{ConnFacts, contain, handle_call};
use super::config::Config;
use super::handshake;
use super::router::{RawRequest, RawResponse};
use crate::grpc::conn::coalesce::coalesce;
use crate::grpc::conn::keepalive;
use crate::grpc::status::Status;

/// A gRPC server. Cheap to clone; clones share configuration and shutdown.
#[derive(Clone)]
pub struct GrpcServer {
    config: Arc<Config>,
    shutdown: Shutdown,
}

impl fmt::Debug for GrpcServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcServer")
            .field("config", &self.config)
            .finish()
    }
}

impl GrpcServer {
    pub(crate) fn from_config(config: Config) -> GrpcServer {
        GrpcServer {
            config: Arc::new(config),
            shutdown: Shutdown::new(),
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
    /// [`with_shutdown_timeout`](super::GrpcServerBuilder::with_shutdown_timeout)
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
        // The shutdown signals and the timer are polled only after they
        // woke (`rt::Gates`), not on every wake-up of the connection.
        let gates = rt::Gates::new();
        let mut drain = std::pin::pin!(gates.gate(watcher.draining()));
        let mut forced = std::pin::pin!(gates.gate(watcher.forced()));
        // The handshake deadline until the handshake is done, then the
        // idle deadline while the connection has no stream.
        let mut timer = std::pin::pin!(gates.gate(rt::sleep(cfg.handshake_timeout)));
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
                        timer
                            .as_mut()
                            .get_pin_mut()
                            .reset(rt::deadline_in(cfg.idle_timeout));
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
