//! Kitex Protobuf: Kitex's protobuf message format (a magic, the method
//! name and sequence id, then the protobuf body) over TTHeader or Framed.
//!
//! - [`codec`]: the sans-IO payload encoder and decoder.
//! - [`ProtobufHandler`]: serves calls from a gRPC [`Router`](crate::grpc::Router)'s
//!   unary methods, plugged into Kitex's one-port server
//!   (`server::Builder::with_payload_handler`) or on its own connection.
//! - [`Client`]: calls over TTHeader or Framed.

mod client;
pub mod codec;
mod framing;
mod server;

pub use client::{Client, ClientBuilder};
pub use codec::{ErrorProto, Message, MessageType, ProtobufError};
pub use framing::Framing;
pub use server::ProtobufHandler;
