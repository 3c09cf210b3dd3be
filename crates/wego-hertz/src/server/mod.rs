//! The HTTP/1.1 server: configuration, accept loop and connection driver.
//!
//! A [`Server`] serves any
//! `tower_service::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>`
//! that is `Clone + Send + 'static` with a `Send` future. Each accepted
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
pub(crate) mod incoming;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use tower_service::Service;
use wego_netpoll::{Address, Listener, Shutdown, ShutdownReport, rt};

use crate::Body;
use crate::error::{Error, Result};

pub(crate) use config::Config;
pub use config::{Builder, ExpectDecision};

/// The buffered-body limit configured with [`Builder::body_limit`], for
/// extractors that read the whole body. The server puts it in a request's
/// extensions only when it differs from [`DEFAULT_BODY_LIMIT`]; readers fall
/// back to that default when it is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// The default buffered-body limit: 4 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The default cap on any request body, [`Builder::max_body_size`]: 4 MiB,
/// as Hertz's `MaxRequestBodySize`.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 4 * 1024 * 1024;

/// The address of the client, present in every request's extensions.
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

    /// Accepts connections on `listener` and serves each with a clone of
    /// `service` until [`shutdown`](Self::shutdown) begins; then stops
    /// accepting, runs the on-shutdown hooks, and returns once every
    /// connection has finished (or was forced closed at the deadline).
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
        let watcher = self.shutdown.watcher();
        loop {
            let accepted = tokio::select! {
                biased;
                () = watcher.draining() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok(conn) => {
                    if self.config.nodelay {
                        let _ = conn.set_nodelay(true);
                    }
                    let conn_watcher = self.shutdown.watcher();
                    let svc = service.clone();
                    let config = Arc::clone(&self.config);
                    // On a per-core runtime this puts the connection (task
                    // and socket) on the worker with the fewest connections.
                    rt::spawn_connection(conn, move |conn| {
                        conn::serve_connection(conn, svc, config, conn_watcher)
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; retrying");
                    rt::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        drop(listener);
        for hook in &self.config.on_shutdown {
            hook();
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
    /// connections at once, and after `deadline` close whatever remains.
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
