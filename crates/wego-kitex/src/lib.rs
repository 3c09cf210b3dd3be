//! wego's RPC framework, in the role Kitex plays for CloudWeGo.
//!
//! A request passes these layers, each replaceable:
//!
//! ```text
//!  generated stub ─ tower::Service stack ─ codec ─ framing ─ Conn
//! ```
//!
//! See `docs/rpc.md` for the pipeline and how to add a codec or a framing.
//!
//! | module | what |
//! |--------|------|
//! | [`thrift`] | Thrift envelopes (binary strict/non-strict, compact), struct bodies through pilota, `TApplicationException` |
//! | [`ttheader`] | TTHeader (Kitex) and THeader (Apache) frames, public for Kitex Protobuf |
//! | [`transport`] | framings as stackable frame codecs (TTHeader, THeader, Framed, Buffered, yours), first-bytes detection, [`transport::Prefixed`] |
//! | [`server`] | one port for every framing, several services, limits, graceful shutdown, the HTTP/2 and payload hand-offs |
//! | [`client`] | short, pooled and multiplexed connections, connect and RPC timeouts |
//! | [`metainfo`] | `RpcInfo` and Kitex-style persistent/transient metainfo of the call being served |
//! | [`grpc`], [`protobuf`] | gRPC over HTTP/2 and Kitex Protobuf |
//! | `generic` (feature `generic`) | generic call: Thrift IDL loaded at run time, JSON / dynamic values / raw payloads, no generated code; HTTP requests mapped onto calls by `api.*` annotations |
//!
//! Code generation lives in `wego-build`; its output calls the
//! `#[doc(hidden)]` `codegen` module, which is outside semver.
//!
//! ```no_run
//! use wego_kitex::client::{Client, ClientRequest};
//! # async fn demo(args: bytes::Bytes) -> Result<(), wego_kitex::BoxError> {
//! // A raw call: `args` is an encoded argument struct; generated clients do this for you.
//! let client = Client::builder("127.0.0.1:8888".parse()?).build()?;
//! let reply = client.call(ClientRequest::new("Echo", args)).await?;
//! # let _ = reply; Ok(()) }
//! ```

mod contain;
mod error;
#[cfg(feature = "generic")]
pub mod generic;
pub mod grpc;
pub mod metainfo;
pub mod protobuf;
pub mod thrift;
pub mod transport;
pub mod ttheader;

pub use error::{Error, Result};
pub use wego_netpoll::{BoxError, BoxFuture};
pub mod client;
#[doc(hidden)]
pub mod codegen;
pub mod server;
