//! wego-hertz: an HTTP/1.1 and HTTP/2 (h2c) server framework, CloudWeGo Hertz re-created in Rust.
//!
//! - [`Body`]: the one body type of `http::Request<Body>` and
//!   `http::Response<Body>`, streaming in both directions.
//! - [`server`]: the server, which serves any
//!   `tower_service::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>`
//!   over [`wego_netpoll`] connections: keep-alive, pipelining,
//!   `Expect: 100-continue`, chunked bodies both ways, limits and timeouts,
//!   graceful shutdown; HTTP/2 on the same port by prior knowledge or
//!   `Upgrade: h2c`, through the `h2` crate.
//! - [`client`]: an HTTP/1.1 and HTTP/2 [`Client`] with per-origin connection pools,
//!   streaming bodies both ways and a `tower_service::Service` impl.
//! - `codec`: the sans-IO HTTP/1.1 codec the server and client are built on.
//! - [`Router`] ([`router`]): radix-tree routing with groups, 404/405,
//!   HEAD from GET and trailing-slash redirects.
//! - [`handler`], [`extract`], [`response`]: `async fn` handlers taking
//!   extractors (path, query, form, multipart, JSON, cookies, state, a
//!   Hertz-style [`extract::RequestContext`], validated binding) and
//!   returning anything that implements [`response::IntoResponse`].
//! - `governance` (feature `governance`, on by default): wego-governance's
//!   server layers (rate and concurrency limits answered with 429, metrics,
//!   tracing, `traceparent`) and a `/metrics` route; on the client,
//!   `client::GovernedClient` calls services by name through discovery.
//! - [`upgrade`]: a handler that answers `101 Switching Protocols` takes
//!   the HTTP/1.1 connection over; `ws` (feature `ws`) builds WebSocket
//!   on it.
//! - [`sse_client`]: reads server-sent events from any body, and
//!   reconnects with `Last-Event-ID`.
//! - [`proxy`]: a [`ReverseProxy`](proxy::ReverseProxy) handler that
//!   forwards requests to an upstream through the client, streaming both
//!   ways and passing protocol switches (WebSocket) through.
//! - [`middleware`]: `from_fn`, recovery, access log, request id, timeout,
//!   body limit, CORS, compression, basic auth.
//!
//! See `docs/http.md` in the repository for the server model, limits and
//! defaults.

pub mod body;
pub mod client;
pub mod codec;
mod error;
mod recycle;
pub mod server;
pub mod upgrade;

pub mod extract;
#[cfg(feature = "governance")]
pub mod governance;
pub mod handler;
pub mod middleware;
pub mod proxy;
pub mod response;
pub mod router;
pub mod sse_client;
#[cfg(feature = "ws")]
pub mod ws;

pub use body::{Body, BodyError};
pub use client::Client;
pub use error::{Error, Result};
pub use server::Server;
/// wego's one boxed error and boxed `Send` future, from wego-netpoll.
pub use wego_netpoll::{BoxError, BoxFuture};

pub use extract::ClientAddr;
pub use handler::Handler;
pub use response::IntoResponse;
pub use router::Router;
