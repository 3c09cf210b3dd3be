//! TLS over any transport, with rustls (feature `tls`).
//!
//! TLS plugs into the two seams every wego protocol already uses, so HTTPS,
//! gRPC and Thrift over TLS need no special case:
//!
//! - **Servers** take any [`Io`](crate::Io) through `serve_connection(io, …)`.
//!   [`TlsAcceptor::accept`] turns an accepted IO into a [`TlsStream`],
//!   which is again an `Io`: the server serves it unchanged, and finds the
//!   negotiated ALPN protocol, the SNI name and the client's certificate
//!   through [`ConnInfo::tls_info`](crate::ConnInfo::tls_info).
//!   [`TlsAcceptor::incoming`] does the same for a whole
//!   [`Listener`](crate::Listener), handshaking concurrently, for a
//!   server's `serve_incoming(stream, …)`.
//! - **Clients** open connections through a [`Connect`](crate::Connect).
//!   [`TlsConnector`] wraps another connector ([`Dialer`](crate::Dialer) by
//!   default) and yields [`TlsStream`]s.
//!
//! Certificates come from PEM ([`Identity`] for a chain and its key,
//! [`RootCerts`] for trust anchors). A server holds a [`CertificateSet`]
//! (a default and one identity per SNI name) that
//! [`TlsAcceptor::reload`] swaps while it runs.
//!
//! Cryptography is rustls's `ring` provider, pinned per configuration
//! rather than installed process-wide, so that another library's choice of
//! provider never changes wego's. [`looks_like_tls`] tells a TLS client
//! from a plaintext one by its first bytes, for serving both on one port.
//!
//! ```
//! # fn certs() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
//! #     let key = rcgen::KeyPair::generate().unwrap();
//! #     let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
//! #     let cert = params.self_signed(&key).unwrap();
//! #     (cert.pem().into_bytes(), key.serialize_pem().into_bytes(), cert.pem().into_bytes())
//! # }
//! use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
//! use wego_netpoll::tls::{Identity, RootCerts, TlsAcceptor, TlsConnector};
//! use wego_netpoll::{Connect, Listener, rt};
//!
//! let (chain_pem, key_pem, ca_pem) = certs();
//! let acceptor = TlsAcceptor::builder()
//!     .with_identity(Identity::from_pem(&chain_pem, &key_pem)?)
//!     .build()?;
//! let connector = TlsConnector::builder()
//!     .with_roots(RootCerts::from_pem(&ca_pem)?)
//!     .with_server_name("localhost")
//!     .build()?;
//! rt::block_on(async move {
//!     let listener = Listener::bind(&"127.0.0.1:0".parse()?).await?;
//!     let addr = listener.local_addr().clone();
//!     rt::spawn(async move {
//!         let mut tls = acceptor.accept(listener.accept().await?).await?;
//!         tls.write_all(b"hello").await?;
//!         tls.shutdown().await?;
//!         Ok::<_, wego_netpoll::BoxError>(())
//!     });
//!     let mut tls = connector.connect(&addr).await?;
//!     let mut got = String::new();
//!     tls.read_to_string(&mut got).await?;
//!     assert_eq!(got, "hello");
//!     Ok::<_, wego_netpoll::BoxError>(())
//! })??;
//! # Ok::<_, wego_netpoll::BoxError>(())
//! ```

mod acceptor;
mod certs;
mod connector;
mod detect;
mod either;
mod incoming;
mod session;
mod stream;

use std::io;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;

pub use crate::net::{TlsInfo, TlsVersion};
pub use acceptor::{ClientAuth, DEFAULT_MAX_PENDING_HANDSHAKES, TlsAcceptor, TlsAcceptorBuilder};
pub use certs::{CertificateSet, Identity, RootCerts};
pub use connector::{TlsConnector, TlsConnectorBuilder};
pub use detect::looks_like_tls;
pub use either::MaybeTls;
pub use incoming::TlsIncoming;
pub use stream::TlsStream;

/// The handshake deadline when a builder sets none.
pub const DEFAULT_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The crypto provider every wego TLS configuration uses: rustls's `ring`.
///
/// rustls 0.23.48 deprecates it because ring has no post-quantum key
/// exchange (X25519MLKEM768); it stays the choice because it builds with
/// only a C compiler, where aws-lc-rs brings a far larger C build
/// (docs/netpoll.md, "TLS").
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls error as the `io::Error` this crate's [`Error`](crate::Error)
/// carries as its cause.
fn rustls_io(err: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err)
}
