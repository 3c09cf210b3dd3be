//! The HTTP/2 driver, on the `h2` crate: one task per connection, its
//! streams answered on that task.
//!
//! A connection gets here three ways: the HTTP/1.1 driver saw the client
//! preface at its start (prior knowledge), or a request asked for
//! `Upgrade: h2c` (`upgrade.rs`), or the caller knows the connection speaks
//! HTTP/2 ([`Server::serve_h2_connection`](super::Server::serve_h2_connection),
//! how ALPN `h2` over TLS picks it). Bytes the HTTP/1.1 driver already
//! read are replayed first (`rewind.rs`).
//!
//! ```text
//!   handshake (handshake timeout) ──> accept streams ──> service ──> answer (stream.rs)
//!        │                               │ no stream for idle timeout ──> GOAWAY, close
//!        │                               │ keep-alive PING unanswered ──> close
//!        │                               │ shutdown drains ──> GOAWAY, streams finish
//!        └── still in handshake when draining ──> close      forced ──> close now
//! ```
//!
//! Streams run on the connection's task (a `FuturesUnordered`), as the
//! gRPC server's calls do: the frames one read brings wake their handlers
//! directly and their answers leave together. The service is called only
//! when ready; streams accepted meanwhile wait in a queue that
//! `SETTINGS_MAX_CONCURRENT_STREAMS` bounds.

mod body;
mod rewind;
mod stream;
mod upgrade;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use h2::server::SendResponse;
use http::{Method, Request, Response, StatusCode, header};
use tokio::io::{AsyncRead, AsyncWrite};
use tower_service::Service;
use wego_netpoll::{Watcher, rt};

use self::body::{RecvBody, Signals};
use self::stream::{Call, Ctx};
use super::facts::ConnFacts;
use super::{Config, ExpectDecision};
use crate::body::Body;

pub(crate) use self::rewind::Rewind;
pub(crate) use self::upgrade::{SWITCHING, stream_one, wants_h2c};

/// The client connection preface (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the start of a connection says about the preface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preface {
    /// The whole preface: HTTP/2 by prior knowledge.
    Full,
    /// A beginning of it: read more before deciding.
    Partial,
    /// Not the preface: HTTP/1.1.
    No,
}

/// Checks the start of a connection for the HTTP/2 preface.
pub(crate) fn preface(start: &[u8]) -> Preface {
    let n = start.len().min(PREFACE.len());
    if start[..n] != PREFACE[..n] {
        Preface::No
    } else if n == PREFACE.len() {
        Preface::Full
    } else {
        Preface::Partial
    }
}

/// Serves one HTTP/2 connection until the client leaves, the connection
/// fails or idles out, or the shutdown drains (GOAWAY, streams in flight
/// finish) or forces it.
pub(crate) async fn serve<IO, S>(
    io: IO,
    mut svc: S,
    config: Arc<Config>,
    watcher: &Watcher,
    facts: ConnFacts,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let h2c = &config.http2;
    // The shutdown signals and the timer are polled only after they woke
    // (`rt::Gates`), not on every wake-up of the connection.
    let gates = rt::Gates::new();
    let mut drain = std::pin::pin!(gates.gate(watcher.draining()));
    let mut forced = std::pin::pin!(gates.gate(watcher.forced()));
    // The handshake deadline until the handshake is done, then the idle
    // deadline while the connection has no stream.
    let mut timer = std::pin::pin!(gates.gate(rt::sleep(h2c.handshake_timeout)));
    let handshake = h2::server::Builder::new()
        .max_concurrent_streams(h2c.max_concurrent_streams)
        .initial_window_size(h2c.initial_stream_window)
        .initial_connection_window_size(h2c.initial_connection_window)
        .max_frame_size(h2c.max_frame_size)
        .max_header_list_size(h2c.max_header_list_size)
        .max_send_buffer_size(h2c.max_send_buffer_size)
        .max_pending_accept_reset_streams(h2c.max_pending_accept_reset_streams)
        .max_local_error_reset_streams(Some(h2c.max_local_error_reset_streams))
        .handshake::<_, Bytes>(io);
    let mut handshake = std::pin::pin!(handshake);
    let started = std::future::poll_fn(|cx| {
        if forced.as_mut().poll(cx).is_ready() || drain.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        if timer.as_mut().poll(cx).is_ready() {
            tracing::debug!("http/2 handshake timed out");
            return Poll::Ready(None);
        }
        handshake.as_mut().poll(cx).map(|r| {
            r.map_err(|e| tracing::debug!(error = %e, "http/2 handshake failed"))
                .ok()
        })
    })
    .await;
    // Still in its handshake when draining began, or failed: nothing to
    // finish, so the connection closes at once.
    let Some(mut conn) = started else {
        return;
    };
    let mut dead = match (h2c.keep_alive_interval, conn.ping_pong()) {
        (Some(every), Some(pp)) => keep_alive(pp, every, h2c.keep_alive_timeout),
        _ => Box::pin(std::future::pending()),
    };
    let mut draining = false;
    let mut idle_armed = false;
    let mut waiting: VecDeque<(Request<h2::RecvStream>, SendResponse<Bytes>)> = VecDeque::new();
    let mut streams = FuturesUnordered::new();
    let end = loop {
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
            // Read (and write), start the streams that came, run the
            // handlers the frames woke; then drive the connection once
            // more so that what they wrote leaves in one write.
            for _ in 0..2 {
                loop {
                    match conn.poll_accept(cx) {
                        Poll::Ready(Some(Ok(s))) => waiting.push_back(s),
                        Poll::Ready(Some(Err(e))) => return Poll::Ready(Event::Failed(e)),
                        Poll::Ready(None) => return Poll::Ready(Event::Closed),
                        Poll::Pending => break,
                    }
                }
                while !waiting.is_empty() {
                    match svc.poll_ready(cx) {
                        Poll::Ready(Ok(())) => {
                            if let Some((req, send)) = waiting.pop_front() {
                                streams.push(contain(start(&mut svc, req, send, &config, &facts)));
                            }
                        }
                        Poll::Pending => break,
                    }
                }
                while let Poll::Ready(Some(())) = streams.poll_next_unpin(cx) {}
            }
            if conn.has_streams() || !streams.is_empty() || !waiting.is_empty() {
                idle_armed = false;
            } else {
                if !idle_armed {
                    idle_armed = true;
                    timer
                        .as_mut()
                        .get_pin_mut()
                        .reset(rt::deadline_in(h2c.idle_timeout));
                }
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Idle);
                }
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Drain => {
                draining = true;
                conn.graceful_shutdown();
            }
            Event::Failed(e) => {
                if !e.is_go_away() && !e.is_io() {
                    tracing::debug!(error = %e, "http/2 connection failed");
                }
                break End::Gone;
            }
            Event::Closed => break End::Gone,
            Event::Forced => {
                tracing::debug!("http/2 connection forced closed by shutdown");
                break End::Close;
            }
            Event::Idle => {
                tracing::debug!("http/2 connection idle, closing");
                break End::Close;
            }
            Event::Dead => {
                tracing::debug!("http/2 keep-alive ping unanswered, closing");
                break End::Close;
            }
        }
    };
    if end == End::Close {
        // GOAWAY, bounded: a peer that does not read cannot hold us here.
        conn.abrupt_shutdown(h2::Reason::NO_ERROR);
        let _ = rt::timeout(
            Duration::from_millis(100),
            std::future::poll_fn(|cx| conn.poll_closed(cx)),
        )
        .await;
        return;
    }
    // The connection is gone: its streams fail, so handlers still running
    // end promptly; the shutdown's deadline bounds them anyway.
    if !streams.is_empty() {
        tokio::select! {
            () = async { while streams.next().await.is_some() {} } => {}
            () = forced => {}
        }
    }
}

/// What woke the connection loop.
enum Event {
    Failed(h2::Error),
    Closed,
    Drain,
    Forced,
    Dead,
    Idle,
}

/// How the connection loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The connection closed or failed.
    Gone,
    /// The server closes it (idle, dead, forced).
    Close,
}

/// Pings every `every`; resolves when a PING is not answered within
/// `timeout` (or fails).
fn keep_alive(
    mut pp: h2::PingPong,
    every: Duration,
    timeout: Duration,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            rt::sleep(every).await;
            match rt::timeout(timeout, pp.ping(h2::Ping::opaque())).await {
                Ok(Ok(_pong)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "http/2 keep-alive ping failed");
                    return;
                }
                Err(_) => return,
            }
        }
    })
}

/// Runs a stream's answer on the connection's task, containing a
/// handler's panic to its stream (reset when the answer is dropped) as a
/// task per stream would.
fn contain<F: Future<Output = ()>>(answer: F) -> impl Future<Output = ()> {
    AssertUnwindSafe(answer).catch_unwind().map(|r| {
        if r.is_err() {
            tracing::error!("http handler panicked; its http/2 stream is reset");
        }
    })
}

/// Starts answering one stream: the request as handlers see it on
/// HTTP/1.1, and the service called unless the head alone decides.
fn start<S>(
    svc: &mut S,
    req: Request<h2::RecvStream>,
    send: SendResponse<Bytes>,
    config: &Arc<Config>,
    facts: &ConnFacts,
) -> impl Future<Output = ()> + Send + 'static + use<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    let (mut parts, recv) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // RFC 9110 §10.1.1, as on HTTP/1.1; a body already complete needs no
    // 100 Continue.
    let expect_continue = !recv.is_end_stream()
        && parts
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    // Handlers read the authority as on HTTP/1.1, from `Host`.
    if !parts.headers.contains_key(header::HOST)
        && let Some(host) = parts
            .uri
            .authority()
            .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
    {
        parts.headers.insert(header::HOST, host);
    }
    let mut ctx = Ctx {
        config: Arc::clone(config),
        want: None,
        signals: Arc::new(Signals::default()),
        head_request: parts.method == Method::HEAD,
    };
    let mut rejected = None;
    if expect_continue
        && let Some(hook) = &config.expect
        && let ExpectDecision::Reject(status) = hook(&parts)
    {
        rejected = Some(status);
    }
    if let (Some(max), Some(n)) = (config.max_body_size, declared)
        && n > max
    {
        rejected = Some(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let call = match rejected {
        Some(status) => Call::Status(status),
        None => {
            let want = if expect_continue {
                let (tx, rx) = tokio::sync::oneshot::channel();
                ctx.want = Some(rx);
                Some(tx)
            } else {
                None
            };
            let body = RecvBody::new(
                recv,
                want,
                Arc::clone(&ctx.signals),
                config.max_body_size,
                declared,
                config.body_read_timeout,
            );
            facts.fill(&mut parts.extensions, config.body_limit);
            Call::Service(svc.call(Request::from_parts(parts, Body::new(body))))
        }
    };
    stream::answer(call, send, ctx)
}
