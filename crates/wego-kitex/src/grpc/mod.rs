//! gRPC over HTTP/2 (h2c), wire-compatible with any gRPC peer.
//!
//! - [`Server`]: serves a [`Router`] (or any `tower::Service` over
//!   [`RawRequest`]) on a listener or on one handed-over connection
//!   ([`Server::serve_connection`]), with deadlines, cancellation, gzip,
//!   message-size limits, keepalive and graceful shutdown (GOAWAY).
//! - [`Channel`]: the client, unary and the three streaming kinds.
//! - [`Status`] / [`Code`], [`Metadata`], the sans-IO [`codec`] for the
//!   length-prefixed messages, `grpc-timeout` ([`parse_timeout`],
//!   [`format_timeout`]) and the [`health`] service.
//!
//! Messages are `prost` types by default; a unary method can use any
//! message [`Codec`] (`Router::unary_with_codec`, `Channel::unary_with_codec`),
//! e.g. serde JSON sent as `application/grpc+json`.
//!
//! ```no_run
//! use wego_kitex::grpc::{Channel, Request, Response, Router, Server, Status};
//! # #[derive(Clone, PartialEq, prost::Message)] struct Ping { #[prost(string, tag = "1")] msg: String }
//! # async fn demo(listener: wego_netpoll::Listener) -> Result<(), Status> {
//! let router = Router::new().unary("/demo.Svc/Ping", |req: Request<Ping>| async move {
//!     Ok(Response::new(req.into_inner()))
//! });
//! let addr = listener.local_addr().clone();
//! let server = Server::default();
//! wego_netpoll::rt::spawn(async move { server.serve(listener, router).await });
//! let ch = Channel::connect(&addr).await?;
//! let r: Response<Ping> = ch.unary("/demo.Svc/Ping", Request::new(Ping { msg: "hi".into() })).await?;
//! assert_eq!(r.get_ref().msg, "hi");
//! # Ok(()) }
//! ```

mod call;
mod client;
mod coalesce;
pub mod codec;
mod connection;
#[cfg(feature = "governance")]
mod govern_client;
#[cfg(feature = "governance")]
mod govern_server;
#[cfg(feature = "governance")]
pub(crate) mod governance;
mod handshake;
pub mod health;
mod keepalive;
mod message_codec;
mod metadata;
pub mod metainfo;
mod pump;
mod request;
mod router;
mod seam;
mod send;
mod server;
mod status;
mod streaming;
mod timeout;

// Generated gRPC code names these three paths (`grpc::Bytes`,
// `grpc::Stream`, `grpc::Service`); `codegen` has them too.
#[doc(hidden)]
pub use bytes::Bytes;
pub use call::{CallFuture, GovernedClient, GrpcCall, LazyChannel};
pub use client::Channel;
pub use codec::{Encoding, MessageError};
pub use connection::ChannelBuilder;
#[doc(hidden)]
pub use futures_core::Stream;
#[cfg(feature = "governance")]
pub use govern_client::GrpcStreamCall;
#[cfg(feature = "governance")]
pub use govern_server::{GovernedStreams, StreamCall, StreamEnd, StreamScope};
#[cfg(feature = "governance")]
pub use governance::{ServerTrace, ServerTraceLayer};
pub use message_codec::{
    Codec, MessageDecoder, MessageEncoder, ProstCodec, ProstDecoder, ProstEncoder,
};
pub use metadata::{Metadata, MetadataError};
pub use request::{Request, Response};
pub use router::{BoxStream, RawRequest, RawResponse, Router};
pub use seam::Http2Handler;
pub use server::{GrpcServerBuilder, Server};
pub use status::{Code, Status, decode_message, encode_message};
pub use streaming::Streaming;
pub use timeout::{TimeoutError, format_timeout, parse_timeout};
#[doc(hidden)]
pub use tower_service::Service;
