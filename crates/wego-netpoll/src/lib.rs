//! wego's network layer: transports, a runtime facade and a zero-copy buffer.
//!
//! `wego-netpoll` is the bottom layer of wego, in the role CloudWeGo Netpoll
//! plays for Hertz and Kitex. It knows bytes, sockets, timers and buffers and
//! nothing else: no HTTP, Thrift or protobuf type appears here.
//!
//! - [`net`]: [`Listener`], [`Conn`] and [`Dialer`] over TCP and Unix domain
//!   sockets, addressed by [`Address`]. A [`Conn`] is tokio's
//!   [`AsyncRead`](tokio::io::AsyncRead) + [`AsyncWrite`](tokio::io::AsyncWrite),
//!   so h2, rustls and tungstenite run on it unchanged.
//! - [`rt`]: the runtime facade (`spawn`, `spawn_connection`, `sleep`,
//!   `timeout`, `interval`, [`Runtime`](rt::Runtime)), thread-per-core by
//!   default or work-stealing ([`rt::Flavor`]). Upper crates call only this, never tokio's
//!   runtime directly, so that the backend can be swapped.
//! - [`buffer`]: [`LinkBuffer`], a chain of [`bytes::Bytes`] blocks that codecs
//!   decode from without copying payloads.
//! - [`Shutdown`]: the graceful-shutdown primitive servers share.
//! - `tls` (feature `tls`): TLS as an IO wrapper and a connector, for
//!   every protocol above.
//!
//! # Features
//!
//! | feature | default | what it brings |
//! |---------|---------|----------------|
//! | `tokio` | yes     | the tokio backend: per-core `current_thread` runtimes or tokio's multi-thread runtime ([`rt::Flavor`]), and `tokio::net` |
//! | `polling` | no    | the polling backend: wego's own event loops, one per core, on an epoll of their own (Linux) or the `polling` crate's kqueue; no tokio runtime. Unix only |
//! | `test-util` | no  | a paused, advanceable clock for tests (`rt::pause`, `rt::advance`) on every backend |
//! | `tls` | no        | [`tls`]: TLS over any transport with rustls and its `ring` provider (acceptor with SNI, ALPN, mutual TLS and certificate reload; a connector) |
//! | `signal` | no     | `signal::terminated`: SIGTERM or ctrl-c as a future, on either backend (awaited on a one-thread tokio runtime of its own) |
//!
//! With both backends on, [`rt::Builder::backend`] picks one at run time.
//! `--no-default-features --features polling` builds without tokio's
//! runtime (only its I/O traits and `tokio::sync` remain).
//!
//! # Example
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use wego_netpoll::{Address, Dialer, Listener, rt};
//!
//! rt::block_on(async {
//!     let listener = Listener::bind(&"127.0.0.1:0".parse::<Address>()?).await?;
//!     let addr = listener.local_addr().clone();
//!     rt::spawn(async move {
//!         let mut conn = listener.accept().await?;
//!         let mut buf = [0u8; 5];
//!         conn.read_exact(&mut buf).await?;
//!         conn.write_all(&buf).await?;
//!         Ok::<_, std::io::Error>(())
//!     });
//!     let mut conn = Dialer::new().dial(&addr).await?;
//!     conn.write_all(b"hello").await?;
//!     let mut buf = [0u8; 5];
//!     conn.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"hello");
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })
//! .unwrap();
//! ```
//!
//! # Stability
//!
//! Items documented as backend internals and anything behind `--cfg
//! wego_unstable` are outside semver.

#[cfg(not(any(feature = "tokio", feature = "polling")))]
compile_error!("wego-netpoll needs a network backend: enable the `tokio` or `polling` feature");
#[cfg(all(feature = "polling", not(unix)))]
compile_error!("the `polling` backend of wego-netpoll is Unix-only (epoll, kqueue)");

pub mod buffer;
mod error;
pub mod net;
pub mod rt;
mod shutdown;
#[cfg(feature = "signal")]
pub mod signal;
#[cfg(feature = "tls")]
pub mod tls;

pub use buffer::LinkBuffer;
pub use error::{Error, Result};
pub use net::{Address, BoxIo, Conn, ConnInfo, Connect, Dialer, Io, Listener};

/// A boxed error, as tower's services return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed `Send` future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub use shutdown::{Shutdown, ShutdownReport, Watcher};

/// Re-export of the tokio I/O traits that [`Conn`] implements.
pub mod io {
    pub use tokio::io::{
        AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf, split,
    };
}
