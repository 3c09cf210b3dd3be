//! wego-hertz: an HTTP/1.1 server framework, CloudWeGo Hertz re-created in Rust.
//!
//! - [`Body`]: the one body type of `http::Request<Body>` and
//!   `http::Response<Body>`, streaming in both directions.
//! - [`server`]: the server, which serves any
//!   `tower_service::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>`
//!   over [`wego_netpoll`] connections: keep-alive, pipelining,
//!   `Expect: 100-continue`, chunked bodies both ways, limits and timeouts,
//!   graceful shutdown.
//! - `codec`: the sans-IO HTTP/1.1 codec the server is built on.
//!
//! See `docs/http.md` in the repository for the server model, limits and
//! defaults.

pub mod body;
pub mod codec;
pub mod server;

pub use body::{Body, BodyError, BoxError};
