//! Transports: [`Listener`], [`Conn`] and [`Dialer`] over TCP and Unix domain
//! sockets, addressed by [`Address`].
//!
//! A [`Conn`] implements tokio's `AsyncRead` and `AsyncWrite`; protocol
//! crates drive it through those traits only, so a codec never names a socket
//! type and a transport never names a message type.

mod address;
mod conn;
mod connect;
mod dialer;
mod info;
mod listener;
mod options;
mod prefixed;
mod tls_info;

pub use address::Address;
pub use conn::Conn;
#[cfg(feature = "tokio")]
pub(crate) use conn::DetachedConn;
pub(crate) use conn::{Stream, peek_is_active};
pub use connect::{BoxConnect, BoxIo, Connect, Io};
pub use dialer::Dialer;
pub use info::{ConnInfo, WithInfo};
pub use listener::{Listener, ListenerBuilder};
pub use options::KeepAlive;
pub use prefixed::Prefixed;
pub use tls_info::{TlsInfo, TlsVersion};
