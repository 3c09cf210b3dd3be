//! An API gateway: wego-hertz in front of a Thrift service, mapping HTTP
//! onto Thrift calls through the IDL's `api.*` annotations with kitex's
//! HTTP generic call
//! ([`HttpGenericClient`](wego_kitex::generic::HttpGenericClient)). No
//! code is generated: the IDL is read at start-up, and
//! [`Gateway::update_descriptor`](crate::gateway::Gateway::update_descriptor)
//! swaps it while serving.
//!
//! ```text
//!  curl ─► hertz Router: one catch-all route ─► body read (limited)
//!                  │ http::Request<Bytes>
//!                  ▼
//!      HttpGenericClient: routes from api.get/post/..., fields from
//!      api.query/path/header/cookie/form/body ─► GenericClient
//!                  │ Thrift (TTHeader, binary)
//!                  ▼
//!      the backend at --backend-addr, or an in-process ItemService
//!      (kitex GenericService over an in-memory store)
//! ```
//!
//! `main.rs` (`cargo run --example gateway`) is the CLI;
//! `tests/gateway.rs` drives the same code over loopback.

pub mod backend;

use std::time::Duration;

use wego_hertz::Router;
use wego_hertz::body::Body;
use wego_hertz::extract::{Request, State};
use wego_hertz::middleware::AccessLogLayer;
use wego_hertz::response::Response;
use wego_kitex::BoxError;
use wego_kitex::client::Client;
use wego_kitex::generic::{
    Descriptor, GenericClient, HttpError, HttpGenericClient, HttpLimits, HttpRouteError,
};
use wego_netpoll::{Address, Listener, rt};

/// The IDL served when none is given: `idl/gateway.thrift`.
pub const DEFAULT_IDL: &str = include_str!("../../idl/gateway.thrift");

/// How the gateway runs.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where the HTTP side listens.
    pub http_addr: Address,
    /// The Thrift backend; `None` starts an in-process one on loopback.
    pub backend_addr: Option<Address>,
    /// Timeout of each backend call.
    pub rpc_timeout: Duration,
    /// Limits on requests.
    pub limits: HttpLimits,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            http_addr: Address::loopback(),
            backend_addr: None,
            rpc_timeout: Duration::from_secs(3),
            limits: HttpLimits::default(),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// A running gateway.
pub struct Gateway {
    /// Where the HTTP side listens.
    pub http_addr: Address,
    /// The Thrift backend it calls.
    pub backend_addr: Address,
    client: HttpGenericClient,
    http: std::sync::Arc<wego_hertz::Server>,
    http_task: rt::JoinHandle<()>,
    backend: Option<RunningBackend>,
    grace: Duration,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("http_addr", &self.http_addr)
            .field("backend_addr", &self.backend_addr)
            .finish_non_exhaustive()
    }
}

/// A Thrift backend serving [`backend::ItemBackend`].
pub struct RunningBackend {
    /// Where it listens.
    pub addr: Address,
    server: wego_kitex::server::Server,
    task: rt::JoinHandle<()>,
}

impl std::fmt::Debug for RunningBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningBackend")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningBackend {
    /// Stops it, waiting at most `grace` for calls in flight.
    pub async fn shutdown(self, grace: Duration) {
        self.server.shutdown(grace).await;
        let _ = self.task.await;
    }
}

/// Starts an [`backend::ItemBackend`] serving `desc` on `addr`.
///
/// # Errors
///
/// When the address cannot be bound.
pub async fn start_backend(addr: &Address, desc: Descriptor) -> Result<RunningBackend, BoxError> {
    let server = backend::server(desc)?;
    let listener = Listener::bind(addr).await?;
    let addr = listener.local_addr().clone();
    let task = {
        let server = server.clone();
        rt::spawn(async move { server.serve(listener).await })
    };
    Ok(RunningBackend { addr, server, task })
}

/// Starts the gateway for `desc` (and its backend when `cfg` names none).
///
/// # Errors
///
/// Routes in `desc` that conflict, a port that cannot be bound, a client
/// that cannot be built.
pub async fn start(cfg: &GatewayConfig, desc: Descriptor) -> Result<Gateway, BoxError> {
    let backend = match &cfg.backend_addr {
        Some(_) => None,
        None => Some(start_backend(&Address::loopback(), desc.clone()).await?),
    };
    let backend_addr = match (&cfg.backend_addr, &backend) {
        (Some(a), _) => a.clone(),
        (None, Some(b)) => b.addr.clone(),
        (None, None) => return Err("no backend".into()),
    };
    let rpc = Client::builder(backend_addr.clone())
        .with_rpc_timeout(cfg.rpc_timeout)
        .build()?;
    let client =
        HttpGenericClient::from_client(GenericClient::new(rpc, desc))?.with_limits(cfg.limits);
    let router = Router::new()
        .any("/*path", forward)
        .with_state(client.clone())
        .layer(AccessLogLayer::new());
    let http = std::sync::Arc::new(wego_hertz::Server::builder().build()?);
    let listener = http.bind(&cfg.http_addr).await?;
    let http_addr = listener.local_addr().clone();
    let http_task = {
        let http = http.clone();
        rt::spawn(async move {
            if let Err(e) = http.serve(listener, router).await {
                tracing::error!(error = %e, "gateway http server stopped");
            }
        })
    };
    Ok(Gateway {
        http_addr,
        backend_addr,
        client,
        http,
        http_task,
        backend,
        grace: cfg.shutdown_grace,
    })
}

/// The one route: every request goes through the HTTP generic client.
async fn forward(State(client): State<HttpGenericClient>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let limit = client.limits().max_body;
    let body = match body.collect_limited(limit).await {
        Ok(b) => b,
        Err(e) if e.is_too_large() => {
            let err = HttpError::BodyTooLarge {
                len: limit.saturating_add(1),
                limit,
            };
            return into_hertz(err.to_response());
        }
        Err(e) => {
            tracing::debug!(error = %e, "request body not read");
            let mut r = http::Response::new(Body::from("request body could not be read\n"));
            *r.status_mut() = http::StatusCode::BAD_REQUEST;
            return r;
        }
    };
    into_hertz(client.call(http::Request::from_parts(parts, body)).await)
}

fn into_hertz(resp: http::Response<bytes::Bytes>) -> Response {
    let (parts, body) = resp.into_parts();
    http::Response::from_parts(parts, Body::from(body))
}

impl Gateway {
    /// Swaps the IDL for the requests that follow; requests in flight
    /// finish with the one they started with.
    ///
    /// # Errors
    ///
    /// When the new IDL's routes conflict; the current IDL stays.
    pub fn update_descriptor(&self, desc: Descriptor) -> Result<(), HttpRouteError> {
        self.client.update_descriptor(desc)
    }

    /// The HTTP generic client requests go through.
    pub fn client(&self) -> &HttpGenericClient {
        &self.client
    }

    /// Drains the HTTP side, then the in-process backend if there is one.
    pub async fn shutdown(self) {
        self.http.shutdown(self.grace).await;
        let _ = self.http_task.await;
        if let Some(b) = self.backend {
            b.shutdown(self.grace).await;
        }
    }
}
