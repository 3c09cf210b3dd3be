//! Dialing connections.

use std::time::Duration;

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use super::options::{ConnOptions, KeepAlive};
use super::{Address, Conn, Stream};
use crate::rt::sys::{self, Which};
use crate::{Error, Result};

/// Connects on the backend of the current runtime.
async fn connect_tcp(addr: SocketAddr) -> io::Result<Stream> {
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => sys::tokio::net::connect_tcp(addr).await.map(Stream::Tokio),
        #[cfg(feature = "polling")]
        Which::Polling => sys::polling::net::connect_tcp(addr)
            .await
            .map(Stream::Polling),
    }
}

async fn connect_unix(path: &Path) -> io::Result<Stream> {
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => sys::tokio::net::connect_unix(path).await.map(Stream::Tokio),
        #[cfg(feature = "polling")]
        Which::Polling => sys::polling::net::connect_unix(path)
            .await
            .map(Stream::Polling),
    }
}

/// Opens connections, with a connect timeout and socket options.
#[derive(Debug, Clone)]
pub struct Dialer {
    connect_timeout: Duration,
    options: ConnOptions,
}

impl Default for Dialer {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            options: ConnOptions::default(),
        }
    }
}

impl Dialer {
    /// A dialer with a 5 s connect timeout and `TCP_NODELAY` on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the connect timeout (default 5 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets `TCP_NODELAY` (default on).
    pub fn with_nodelay(mut self, on: bool) -> Self {
        self.options.nodelay = on;
        self
    }

    /// Enables TCP keepalive (default off).
    pub fn with_keepalive(mut self, keepalive: Option<KeepAlive>) -> Self {
        self.options.keepalive = keepalive;
        self
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Connects to `addr` within the connect timeout.
    ///
    /// # Errors
    ///
    /// [`Error::is_connect`] if the peer refused or is unreachable,
    /// [`Error::is_timeout`] if the timeout passed first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future closes the half-open socket.
    pub async fn dial(&self, addr: &Address) -> Result<Conn> {
        let attempt = async {
            match addr {
                Address::Tcp(sa) => {
                    let stream = connect_tcp(*sa).await?;
                    let conn = Conn::from_tcp(stream, None, Some(*sa))?;
                    self.options.apply(socket2::SockRef::from(&conn))?;
                    conn.note_nodelay(self.options.nodelay);
                    Ok(conn)
                }
                Address::Unix(path) => {
                    let stream = connect_unix(path).await?;
                    let local = Address::Unix(Default::default());
                    let mut conn = Conn::from_unix(stream, local);
                    conn.set_peer(addr.clone());
                    Ok(conn)
                }
            }
        };
        match crate::rt::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(Error::connect(format!("cannot connect to {addr}"), e)),
            Err(_) => Err(Error::timeout(format!(
                "connect to {addr} timed out after {:?}",
                self.connect_timeout
            ))),
        }
    }
}
