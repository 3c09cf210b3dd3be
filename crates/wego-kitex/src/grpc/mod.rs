//! gRPC over HTTP/2 (h2c), wire-compatible with any gRPC peer.
//!
//! - [`GrpcServer`]: serves a [`GrpcRouter`] (or any `tower::Service` over
//!   [`RawRequest`]) on a listener or on one handed-over connection
//!   ([`GrpcServer::serve_connection`]), with deadlines, cancellation, gzip,
//!   message-size limits, keepalive and graceful shutdown (GOAWAY). A
//!   handler reads a streaming request as a [`RequestStream`].
//! - [`Channel`]: the client, unary and the three streaming kinds; a
//!   streaming response is a [`ResponseStream`], trailers included.
//! - [`Status`] / [`Code`], [`Metadata`], the sans-IO [`codec`] for the
//!   length-prefixed messages, `grpc-timeout` ([`parse_timeout`],
//!   [`format_timeout`]) and the [`health`] service.
//!
//! Messages are `prost` types by default; a unary method can use any
//! message [`Codec`] (`GrpcRouter::unary_with_codec`, `Channel::unary_with_codec`),
//! e.g. serde JSON sent as `application/grpc+json`.
//!
//! ```no_run
//! use wego_kitex::grpc::{Channel, GrpcRouter, GrpcServer, Request, Response, Status};
//! # #[derive(Clone, PartialEq, prost::Message)] struct Ping { #[prost(string, tag = "1")] msg: String }
//! # async fn demo(listener: wego_netpoll::Listener) -> Result<(), Status> {
//! let router = GrpcRouter::new().unary("/demo.Svc/Ping", |req: Request<Ping>| async move {
//!     Ok(Response::new(req.into_inner()))
//! });
//! let addr = listener.local_addr().clone();
//! let server = GrpcServer::default();
//! wego_netpoll::rt::spawn(async move { server.serve(listener, router).await });
//! let ch = Channel::connect(&addr).await?;
//! let r: Response<Ping> = ch.unary("/demo.Svc/Ping", Request::new(Ping { msg: "hi".into() })).await?;
//! assert_eq!(r.get_ref().msg, "hi");
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! ```text
//!  governance/   wego-governance's traits for gRPC types, streaming governance  (feature `governance`)
//!     │     ╲
//!  server/   client/   GrpcServer, GrpcRouter, RequestStream / Channel, GrpcCall, ResponseStream
//!     │     ╱
//!  conn/         HTTP/2 plumbing both sides share: write coalescing, keepalive, send, recv
//!  codec/        sans-IO: length-prefixed messages, message codecs, grpc-timeout
//!  status, metadata, request, metainfo   the vocabulary of a call
//! ```
//!
//! A module depends only on those below it; `tests/layout.rs` checks that
//! no two modules import each other, at any level.

mod client;
pub mod codec;
mod conn;
#[cfg(feature = "governance")]
pub(crate) mod governance;
pub mod health;
mod metadata;
pub mod metainfo;
mod request;
mod server;
mod status;

pub use client::{
    CallFuture, Channel, ChannelBuilder, GovernedClient, GrpcCall, LazyChannel, ResponseStream,
};
pub use codec::message::{
    Codec, MessageDecoder, MessageEncoder, ProstCodec, ProstDecoder, ProstEncoder,
};
pub use codec::timeout::{TimeoutError, format_timeout, parse_timeout};
pub use codec::{Encoding, MessageError};
#[cfg(feature = "governance")]
pub use governance::{
    GovernedStreams, GrpcStreamCall, ServerTrace, ServerTraceLayer, StreamCall, StreamEnd,
    StreamScope, TracedResponse,
};
pub use metadata::{Metadata, MetadataError};
pub use request::{BoxStream, Request, Response};
pub use server::{
    GrpcRouter, GrpcServer, GrpcServerBuilder, Http2Handler, RawRequest, RawResponse, RequestStream,
};
pub use status::{Code, Status, decode_message, encode_message};
