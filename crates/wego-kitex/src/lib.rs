//! wego's RPC framework, in the role Kitex plays for CloudWeGo.
//!
//! A request passes these layers, each replaceable:
//!
//! ```text
//!  generated stub ─ tower::Service stack ─ codec ─ framing ─ Conn
//! ```
//!
//! See `docs/rpc.md` for the pipeline and how to add a codec or a framing.

mod error;
pub mod grpc;
pub mod metainfo;
pub mod protobuf;
pub mod thrift;
pub mod transport;
pub mod ttheader;

pub use error::{BoxError, Error, Result};
pub mod client;
#[doc(hidden)]
pub mod codegen;
pub mod server;
