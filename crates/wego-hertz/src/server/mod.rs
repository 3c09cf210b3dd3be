//! The HTTP/1.1 server: configuration, accept loop and connection driver.
//!
//! A [`Server`] serves any
//! `tower_service::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>`
//! that is `Clone + Send + 'static` with a `Send` future, over any IO
//! ([`wego_netpoll::net::Io`]): one connection with
//! [`Server::serve_connection`], a stream of them with
//! [`Server::serve_incoming`], a netpoll listener with [`Server::serve`] and
//! [`Server::serve_with_shutdown`]. Each accepted
//! connection runs as one task ([`wego_netpoll::rt::spawn_connection`], which on
//! a per-core runtime puts it on the worker with the fewest connections) with its own
//! clone of the service, answering its requests one after another, in order
//! (pipelined requests included). See `docs/http.md` for the model, limits
//! and defaults.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use wego_hertz::{Body, server::Server};
//! use wego_netpoll::{Address, rt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! rt::block_on(async {
//!     let server = Server::builder().build()?;
//!     let listener = server.bind(&"127.0.0.1:8080".parse::<Address>()?).await?;
//!     let svc = tower::service_fn(|_req: http::Request<Body>| async {
//!         Ok::<_, Infallible>(http::Response::new(Body::from("hello")))
//!     });
//!     server.serve(listener, svc).await?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?
//! # }
//! ```

mod config;
mod conn;
pub(crate) mod facts;
mod http2;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;
use http::{Request, Response};
use tower_service::Service;
use wego_netpoll::net::Io;
use wego_netpoll::{Address, Listener, Shutdown, ShutdownReport, Watcher, rt};

use crate::Body;
use crate::error::{Error, Result};

use self::facts::ConnFacts;

pub(crate) use config::Config;
pub use config::{Builder, ExpectDecision};
/// What a connection's TLS handshake settled, in the extensions of each
/// request that came over TLS: the SNI name, the ALPN protocol, and the
/// client's verified certificate chain and names under mutual TLS.
pub use wego_netpoll::net::TlsInfo;

/// The buffered-body limit configured with [`Builder::with_body_limit`], for
/// extractors that read the whole body. The server puts it in a request's
/// extensions only when it differs from [`DEFAULT_BODY_LIMIT`]; readers fall
/// back to that default when it is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBodyLimit(pub usize);

/// The default buffered-body limit: 4 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The default cap on any request body, [`Builder::with_max_body_size`]: 4 MiB,
/// as Hertz's `MaxRequestBodySize`.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 4 * 1024 * 1024;

/// The address of the client, present in every request's extensions.
///
/// Beside it, a request that came over TLS carries the connection's
/// [`TlsInfo`] (`request.extensions().get::<TlsInfo>()`); see
/// [`Server::serve_connection`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub Address);

/// An HTTP/1.1 server. Cheap to clone; clones share configuration and the
/// shutdown state, so one clone can [`shutdown`](Self::shutdown) while
/// another [`serve`](Self::serve)s.
#[derive(Debug, Clone)]
pub struct Server {
    config: Arc<Config>,
    shutdown: Shutdown,
}

impl Server {
    /// A builder with the default settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn from_config(config: Config) -> Self {
        Self {
            config: Arc::new(config),
            shutdown: Shutdown::new(),
        }
    }

    /// Binds a listener on `addr` (TCP or Unix) for [`serve`](Self::serve).
    ///
    /// # Errors
    ///
    /// [`Error::is_bind`] when the address cannot be bound.
    pub async fn bind(&self, addr: &Address) -> Result<Listener> {
        Listener::builder()
            .nodelay(self.config.nodelay)
            .bind(addr)
            .await
            .map_err(Error::bind)
    }

    /// Serves one connection over any IO with `service`, until
    /// the client closes it, the server's graceful shutdown drains it while
    /// idle, or the shutdown deadline forces it.
    ///
    /// The IO is anything a protocol can run over
    /// ([`wego_netpoll::net::Io`]): a netpoll [`Conn`](wego_netpoll::Conn), a
    /// TLS stream, an in-memory pipe, a wrapper of the caller's own. The
    /// [`ClientAddr`] of each request comes from its
    /// [`ConnInfo::peer_addr`](wego_netpoll::ConnInfo::peer_addr), and is
    /// absent from the request's extensions when the IO knows no peer (wrap
    /// the IO in [`WithInfo`](wego_netpoll::net::WithInfo) to supply one).
    ///
    /// The version follows the connection: when its
    /// [`ConnInfo::tls_info`](wego_netpoll::ConnInfo::tls_info) says TLS
    /// negotiated ALPN `h2`, it is served as HTTP/2 from the first byte (as
    /// [`serve_h2_connection`](Self::serve_h2_connection)), whatever
    /// [`Builder::with_http2`] says, since the acceptor that offered `h2`
    /// decided; otherwise as HTTP/1.1, with HTTP/2 by prior knowledge or
    /// `Upgrade: h2c` as that setting allows. On a TLS connection every
    /// request also carries the connection's [`TlsInfo`] in its extensions:
    /// the SNI name, the ALPN protocol and, under mutual TLS, the client's
    /// verified certificate and names.
    ///
    /// The connection counts as in flight for [`shutdown`](Self::shutdown)
    /// from this call on, not from the first poll of the future. I/O errors
    /// end the connection and are logged at debug level.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// use wego_hertz::{Body, Server};
    /// use wego_netpoll::rt;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// rt::block_on(async {
    ///     let server = Server::builder().build()?;
    ///     let svc = tower::service_fn(|_req: http::Request<Body>| async {
    ///         Ok::<_, Infallible>(http::Response::new(Body::from("hello")))
    ///     });
    ///     let (io, mut client) = tokio::io::duplex(4096);
    ///     rt::spawn(server.serve_connection(io, svc));
    ///     client
    ///         .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    ///         .await?;
    ///     let mut answer = String::new();
    ///     client.read_to_string(&mut answer).await?;
    ///     assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("hello"));
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the connection at once.
    pub fn serve_connection<IO, S>(
        &self,
        io: IO,
        service: S,
    ) -> impl Future<Output = ()> + Send + 'static + use<IO, S>
    where
        IO: Io,
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Send + 'static,
        S::Future: Send + 'static,
    {
        conn::serve_connection(
            io,
            service,
            Arc::clone(&self.config),
            self.shutdown.watcher(),
        )
    }

    /// Serves one connection known to speak HTTP/2 with `service`: the
    /// client's preface comes first.
    /// [`serve_connection`](Self::serve_connection) serves HTTP/2 as well,
    /// choosing by the TLS handshake's ALPN protocol, the connection's first
    /// bytes or an `Upgrade: h2c` request; this entry point skips the
    /// HTTP/1.1 reading, and serves HTTP/2 even when
    /// [`Builder::with_http2`] turned that choice off. Requests carry the
    /// same extensions as there ([`ClientAddr`], [`TlsInfo`]).
    ///
    /// The connection lives until the client closes it, its idle timeout,
    /// or the server's shutdown (GOAWAY, then streams in flight finish, or
    /// the deadline forces it). See `docs/http.md` for the settings.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the connection at once.
    pub fn serve_h2_connection<IO, S>(
        &self,
        io: IO,
        service: S,
    ) -> impl Future<Output = ()> + Send + 'static + use<IO, S>
    where
        IO: Io,
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Send + 'static,
        S::Future: Send + 'static,
    {
        let config = Arc::clone(&self.config);
        let watcher = self.shutdown.watcher();
        async move {
            let facts = ConnFacts::of(&io);
            http2::serve(io, service, config, &watcher, facts).await;
        }
    }

    /// Serves every IO `incoming` yields, each on its own task with a clone
    /// of `service` (as [`serve_connection`](Self::serve_connection)), until
    /// the stream ends or [`shutdown`](Self::shutdown) begins; then returns
    /// once every connection it started has finished (or was forced closed
    /// at the deadline). The on-shutdown hooks run when a shutdown ended it.
    ///
    /// An error item (a failed accept, say) is logged, and the stream is
    /// polled again after a short pause.
    ///
    /// ```no_run
    /// use std::convert::Infallible;
    /// use wego_hertz::{Body, Server};
    /// use wego_netpoll::{net::WithInfo, rt};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// rt::block_on(async {
    ///     let server = Server::builder().build()?;
    ///     let svc = tower::service_fn(|_req: http::Request<Body>| async {
    ///         Ok::<_, Infallible>(http::Response::new(Body::from("hello")))
    ///     });
    ///     let listener = tokio::net::UnixListener::bind("/tmp/hello.sock")?;
    ///     let incoming = futures_util::stream::unfold(listener, |l| async move {
    ///         Some((l.accept().await.map(|(io, _)| WithInfo::new(io)), l))
    ///     });
    ///     server.serve_incoming(incoming, svc).await?;
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for fatal errors.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops taking connections from the stream;
    /// connections already started keep running until they finish or the
    /// shutdown forces them.
    pub async fn serve_incoming<St, IO, S>(&self, incoming: St, service: S) -> Result<()>
    where
        St: Stream<Item = std::io::Result<IO>>,
        IO: Io,
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let config = Arc::clone(&self.config);
        self.accept_loop(incoming, move |io, watcher| {
            let config = Arc::clone(&config);
            rt::spawn(conn::serve_connection(io, service.clone(), config, watcher));
        })
        .await
    }

    /// Accepts connections on `listener` and serves each with a clone of
    /// `service` until [`shutdown`](Self::shutdown) begins; then stops
    /// accepting, runs the on-shutdown hooks, and returns once every
    /// connection has finished (or was forced closed at the deadline).
    ///
    /// Each connection is placed with [`rt::spawn_connection`] (on a
    /// per-core runtime, the worker with the fewest connections) and served
    /// as by [`serve_connection`](Self::serve_connection).
    ///
    /// Accept errors such as running out of file descriptors are logged and
    /// retried after a short pause.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for fatal listener errors.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops accepting; connections already accepted
    /// keep running until they finish or the shutdown forces them.
    pub async fn serve<S>(&self, listener: Listener, service: S) -> Result<()>
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        for hook in &self.config.on_run {
            hook(listener.local_addr());
        }
        let accepted = futures_util::stream::unfold(listener, |listener| async move {
            let conn = listener.accept().await;
            Some((conn, listener))
        });
        let config = Arc::clone(&self.config);
        self.accept_loop(accepted, move |conn, watcher| {
            if config.nodelay {
                let _ = conn.set_nodelay(true);
            }
            let svc = service.clone();
            let config = Arc::clone(&config);
            // On a per-core runtime this puts the connection (task and
            // socket) on the worker with the fewest connections.
            rt::spawn_connection(conn, move |conn| {
                conn::serve_connection(conn, svc, config, watcher)
            });
        })
        .await
    }

    /// As [`serve`](Self::serve), and begins a graceful shutdown when
    /// `signal` completes (a ctrl-c future, a oneshot receiver), waiting at
    /// most [`Builder::with_shutdown_timeout`] (5 s by default) for work in
    /// flight before forcing what remains closed.
    ///
    /// ```no_run
    /// use std::convert::Infallible;
    /// use wego_hertz::{Body, Server};
    /// use wego_netpoll::{Address, rt};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// rt::block_on(async {
    ///     let server = Server::builder().build()?;
    ///     let listener = server.bind(&"127.0.0.1:8080".parse::<Address>()?).await?;
    ///     let svc = tower::service_fn(|_req: http::Request<Body>| async {
    ///         Ok::<_, Infallible>(http::Response::new(Body::from("hello")))
    ///     });
    ///     let ctrl_c = async {
    ///         let _ = tokio::signal::ctrl_c().await;
    ///     };
    ///     server.serve_with_shutdown(listener, svc, ctrl_c).await?;
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`serve`](Self::serve).
    ///
    /// # Cancel safety
    ///
    /// As [`serve`](Self::serve); a shutdown already begun goes on.
    pub async fn serve_with_shutdown<S, F>(
        &self,
        listener: Listener,
        service: S,
        signal: F,
    ) -> Result<()>
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        F: Future<Output = ()>,
    {
        let mut serving = std::pin::pin!(self.serve(listener, service));
        tokio::select! {
            // `serve` ends early only when a shutdown began elsewhere.
            served = serving.as_mut() => return served,
            () = signal => {}
        }
        let (report, served) = tokio::join!(
            self.shutdown.shutdown(self.config.shutdown_timeout),
            serving
        );
        if !report.is_graceful() {
            tracing::warn!(forced = report.forced, "shutdown forced connections closed");
        }
        served
    }

    /// The accept loop of [`serve`](Self::serve) and
    /// [`serve_incoming`](Self::serve_incoming): hands each IO to `start`
    /// with its shutdown watcher until the stream ends or the shutdown
    /// begins, then waits for every connection to finish.
    async fn accept_loop<St, T, E, F>(&self, incoming: St, mut start: F) -> Result<()>
    where
        St: Stream<Item = std::result::Result<T, E>>,
        E: std::fmt::Display,
        F: FnMut(T, Watcher),
    {
        // Boxed, so that dropping it below closes a listener inside.
        let mut incoming = Box::pin(incoming);
        let watcher = self.shutdown.watcher();
        loop {
            let accepted = tokio::select! {
                biased;
                () = watcher.draining() => break,
                accepted = incoming.next() => accepted,
            };
            match accepted {
                Some(Ok(io)) => start(io, self.shutdown.watcher()),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "accept failed; retrying");
                    rt::sleep(Duration::from_millis(20)).await;
                }
                None => break,
            }
        }
        // Stop accepting before the hooks run: a listener closes here.
        drop(incoming);
        if watcher.is_draining() {
            for hook in &self.config.on_shutdown {
                hook();
            }
        }
        drop(watcher);
        self.shutdown.wait_idle().await;
        Ok(())
    }

    /// Binds `addr` and [`serve`](Self::serve)s on it.
    ///
    /// # Errors
    ///
    /// [`Error::is_bind`] when the address cannot be bound.
    pub async fn serve_addr<S>(&self, addr: &Address, service: S) -> Result<()>
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let listener = self.bind(addr).await?;
        self.serve(listener, service).await
    }

    /// Shuts down gracefully: stop accepting, let in-flight requests finish
    /// (their responses carry `Connection: close`), close idle keep-alive
    /// connections, and new ones that have not sent a byte, at once, and
    /// after `deadline` close whatever remains.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.shutdown.shutdown(deadline).await
    }

    /// Begins a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&self) {
        self.shutdown.begin();
    }

    /// Connections (and accept loops) still running.
    pub fn active(&self) -> usize {
        self.shutdown.active()
    }
}
