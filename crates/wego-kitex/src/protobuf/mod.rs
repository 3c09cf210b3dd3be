//! Kitex Protobuf: Kitex's protobuf message format (a magic, the method
//! name and sequence id, then the protobuf body) over TTHeader or Framed.
//!
//! - [`codec`]: the sans-IO payload encoder and decoder.
//! - [`ProtobufHandler`]: serves calls from a gRPC [`GrpcRouter`](crate::grpc::GrpcRouter)'s
//!   unary methods, plugged into Kitex's one-port server
//!   (`server::ServerBuilder::with_payload_handler`) or on its own connection.
//! - [`ProtobufClient`]: calls over TTHeader or Framed.

mod client;
pub mod codec;
mod framing;
mod server;

pub use client::{ProtobufClient, ProtobufClientBuilder};
pub use codec::{ErrorProto, ProtobufError, ProtobufMessage, ProtobufMessageType};
pub use framing::ProtobufFraming;
pub use server::ProtobufHandler;
