//! The client-side seam: a [`Connect`]or turns an [`Address`] into an IO.
//!
//! Clients in wego-hertz and wego-kitex open connections only through this
//! trait, with [`Dialer`] as the default. TLS, a test transport or a proxy
//! is a connector of its own that wraps another one; the pools and
//! multiplexers above never change.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{Address, Conn, ConnInfo, Dialer};
use crate::Result;

/// Anything a protocol can run over: tokio's byte-stream traits plus the
/// connection facts of [`ConnInfo`]. Implemented for every type that has
/// them.
pub trait Io: AsyncRead + AsyncWrite + ConnInfo + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + ConnInfo + Unpin + Send + 'static> Io for T {}

/// A type-erased [`Io`], for code that stores connections from connectors
/// of different types.
pub type BoxIo = Box<dyn Io>;

/// Opens connections to an [`Address`].
///
/// ```
/// use wego_netpoll::net::{Address, Connect, ConnInfo};
/// use wego_netpoll::Result;
///
/// /// Serves every address from an in-memory pipe.
/// #[derive(Clone)]
/// struct Pipe;
///
/// impl Connect for Pipe {
///     type Io = tokio::io::DuplexStream;
///     async fn connect(&self, _addr: &Address) -> Result<Self::Io> {
///         let (client, _server) = tokio::io::duplex(1024);
///         Ok(client)
///     }
/// }
/// ```
pub trait Connect: Send + Sync + 'static {
    /// The connection this connector yields.
    type Io: Io;

    /// Opens a connection to `addr`.
    ///
    /// # Errors
    ///
    /// The connector's own: [`Error::is_connect`](crate::Error::is_connect)
    /// and [`Error::is_timeout`](crate::Error::is_timeout) by convention.
    fn connect(&self, addr: &Address) -> impl Future<Output = Result<Self::Io>> + Send;
}

impl Connect for Dialer {
    type Io = Conn;

    fn connect(&self, addr: &Address) -> impl Future<Output = Result<Conn>> + Send {
        self.dial(addr)
    }
}

/// A [`Connect`] with its type erased, so that a client can hold any
/// connector without a type parameter. Build one with [`BoxConnect::new`];
/// clones share the connector.
#[derive(Clone)]
pub struct BoxConnect {
    inner: Arc<dyn DynConnect>,
}

impl BoxConnect {
    /// Erases `connector`'s type; its connections become [`BoxIo`].
    pub fn new<C: Connect>(connector: C) -> Self {
        Self {
            inner: Arc::new(connector),
        }
    }
}

impl std::fmt::Debug for BoxConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxConnect").finish_non_exhaustive()
    }
}

impl Connect for BoxConnect {
    type Io = BoxIo;

    async fn connect(&self, addr: &Address) -> Result<BoxIo> {
        self.inner.connect_boxed(addr).await
    }
}

/// The object-safe twin of [`Connect`] behind [`BoxConnect`].
trait DynConnect: Send + Sync + 'static {
    fn connect_boxed<'a>(
        &'a self,
        addr: &'a Address,
    ) -> Pin<Box<dyn Future<Output = Result<BoxIo>> + Send + 'a>>;
}

impl<C: Connect> DynConnect for C {
    fn connect_boxed<'a>(
        &'a self,
        addr: &'a Address,
    ) -> Pin<Box<dyn Future<Output = Result<BoxIo>> + Send + 'a>> {
        Box::pin(async move {
            let io = Connect::connect(self, addr).await?;
            Ok(Box::new(io) as BoxIo)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn a_boxed_dialer_connects_and_keeps_the_peer_address() {
        crate::rt::block_on(async {
            let listener = crate::Listener::bind(&"127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            let addr = listener.local_addr().clone();
            let connector = BoxConnect::new(Dialer::new());
            let (client, server) = tokio::join!(connector.connect(&addr), listener.accept());
            let (mut client, mut server) = (client.unwrap(), server.unwrap());
            assert_eq!(client.peer_addr(), Some(addr));
            client.write_all(b"hi").await.unwrap();
            let mut buf = [0u8; 2];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hi");
        })
        .unwrap();
    }
}
