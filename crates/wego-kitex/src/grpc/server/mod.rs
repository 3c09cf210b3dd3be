//! The gRPC server.
//!
//! ```text
//!  seam.rs        Http2Handler: the server behind Kitex's one-port sniffer
//!     │
//!  builder.rs     GrpcServerBuilder, GrpcServer::builder / default
//!     │
//!  serve.rs       GrpcServer: accept loop, handshake, a connection's loop, shutdown
//!     │      ╲
//!  call.rs    handshake.rs   one call: headers, deadline, reset, answer / handshake timeout
//!     │
//!  router.rs      GrpcRouter: paths to handlers; RawRequest / RawResponse
//!     │
//!  stream.rs      RequestStream: the client's messages as a handler reads them
//!  config.rs      the settings all of the above read
//! ```
//!
//! Each file depends only on those below it and on the shared modules
//! (`codec/`, `conn/`, `status`, `metadata`, `request`, `metainfo`).

mod builder;
mod call;
mod config;
mod handshake;
mod router;
mod seam;
mod serve;
mod stream;

pub use builder::GrpcServerBuilder;
pub use router::{GrpcRouter, RawRequest, RawResponse};
pub use seam::Http2Handler;
pub use serve::GrpcServer;
pub use stream::RequestStream;
