//! The gRPC client.
//!
//! ```text
//!  call.rs        GrpcCall, LazyChannel, GovernedClient: the tower::Service path
//!     │
//!  builder.rs     ChannelBuilder, Channel::builder / connect
//!     │
//!  channel.rs     Channel: calls as HTTP/2 streams, redial
//!     │      ╲
//!  stream.rs  connection.rs   ResponseStream (messages, then trailers) / dial + handshake + driver
//!     │      ╱
//!  pump.rs        sends a call's request stream
//! ```
//!
//! Each file depends only on those below it and on the shared modules
//! (`codec/`, `conn/`, `status`, `metadata`, `request`).

mod builder;
mod call;
mod channel;
mod connection;
mod pump;
mod stream;

pub use builder::ChannelBuilder;
#[cfg(feature = "governance")]
pub(crate) use call::split_path;
pub use call::{CallFuture, GovernedClient, GrpcCall, LazyChannel};
#[cfg(feature = "governance")]
pub(crate) use channel::Body;
pub use channel::Channel;
pub use stream::ResponseStream;
