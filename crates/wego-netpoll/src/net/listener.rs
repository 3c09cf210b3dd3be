//! Listening sockets.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use super::options::{ConnOptions, KeepAlive};
use super::{Address, Conn, Stream};
#[cfg(feature = "polling")]
use crate::rt::sys::polling;
#[cfg(feature = "tokio")]
use crate::rt::sys::tokio as tokio_rt;
use crate::rt::sys::{self, Which};
use crate::{Error, Result};

/// A bound, listening socket that accepts [`Conn`]s.
#[derive(Debug)]
pub struct Listener {
    inner: Inner,
    tcp: bool,
    local: Address,
    options: ConnOptions,
}

/// The backend's listener, and whether it is TCP.
#[derive(Debug)]
enum Inner {
    #[cfg(feature = "tokio")]
    Tokio(tokio_rt::net::Listener),
    #[cfg(feature = "polling")]
    Polling(polling::net::Listener),
    /// One `SO_REUSEPORT` socket and acceptor per loop.
    #[cfg(feature = "polling")]
    PerLoop(polling::PerLoopListener),
}

impl Inner {
    fn tcp(l: std::net::TcpListener) -> io::Result<Self> {
        match sys::current() {
            #[cfg(feature = "tokio")]
            Which::Tokio => tokio_rt::net::Listener::from_tcp(l).map(Inner::Tokio),
            #[cfg(feature = "polling")]
            Which::Polling => polling::net::Listener::from_tcp(l).map(Inner::Polling),
        }
    }

    fn unix(l: std::os::unix::net::UnixListener) -> io::Result<Self> {
        match sys::current() {
            #[cfg(feature = "tokio")]
            Which::Tokio => tokio_rt::net::Listener::from_unix(l).map(Inner::Tokio),
            #[cfg(feature = "polling")]
            Which::Polling => polling::net::Listener::from_unix(l).map(Inner::Polling),
        }
    }

    /// Accepts a connection, with the peer's address for TCP.
    async fn accept(&self) -> io::Result<(Stream, Option<SocketAddr>)> {
        match self {
            #[cfg(feature = "tokio")]
            Inner::Tokio(l) => l.accept().await.map(|(s, peer)| (Stream::Tokio(s), peer)),
            #[cfg(feature = "polling")]
            Inner::Polling(l) => std::future::poll_fn(|cx| l.poll_accept(cx))
                .await
                .map(|(s, peer)| (Stream::Polling(s), peer)),
            #[cfg(feature = "polling")]
            Inner::PerLoop(l) => std::future::poll_fn(|cx| l.poll_accept(cx))
                .await
                .map(|(s, peer)| (Stream::Polling(s), peer)),
        }
    }
}

impl Listener {
    /// Binds with the default options (address reuse on, backlog 1024,
    /// `TCP_NODELAY` on accepted connections).
    ///
    /// # Errors
    ///
    /// Fails if the address cannot be bound.
    pub async fn bind(addr: &Address) -> Result<Self> {
        Self::builder().bind(addr).await
    }

    /// Returns a builder for the socket options.
    pub fn builder() -> ListenerBuilder {
        ListenerBuilder::default()
    }

    /// The bound address (with the OS-chosen port if port 0 was asked for).
    pub fn local_addr(&self) -> &Address {
        &self.local
    }

    /// Accepts the next connection.
    ///
    /// # Errors
    ///
    /// Fails if accept fails, e.g. when the process runs out of file
    /// descriptors; the listener stays usable.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `accept()` loses no connection.
    pub async fn accept(&self) -> Result<Conn> {
        let (stream, peer) = self.inner.accept().await.map_err(Error::accept)?;
        if self.tcp {
            // A wildcard listener's connections each have their own local
            // address: the socket says which one the peer reached.
            let local = match &self.local {
                Address::Tcp(a) if !a.ip().is_unspecified() => Some(*a),
                _ => None,
            };
            let conn = Conn::from_tcp(stream, local, peer).map_err(Error::accept)?;
            let sock = socket2::SockRef::from(&conn);
            // A failing option on one connection is no reason to drop it.
            match self.options.apply(sock) {
                Ok(()) => conn.note_nodelay(self.options.nodelay),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot set socket options on accepted connection");
                }
            }
            Ok(conn)
        } else {
            Ok(Conn::from_unix(stream, self.local.clone()))
        }
    }
}

/// Options for [`Listener`].
#[derive(Debug, Clone)]
pub struct ListenerBuilder {
    reuse_address: bool,
    reuse_port: bool,
    per_loop: bool,
    backlog: u32,
    options: ConnOptions,
}

impl Default for ListenerBuilder {
    fn default() -> Self {
        Self {
            reuse_address: true,
            reuse_port: false,
            per_loop: false,
            backlog: 1024,
            options: ConnOptions::default(),
        }
    }
}

impl ListenerBuilder {
    /// Sets `SO_REUSEADDR` (default on).
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// Sets `SO_REUSEPORT` (default off), so several listeners share a port.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Polling backend, TCP: binds one `SO_REUSEPORT` socket per event loop
    /// on the address, each accepting on its own loop, instead of one
    /// socket (default off).
    ///
    /// The kernel spreads new connections over the sockets; each is served
    /// by the loop that accepted it when handed to
    /// [`rt::spawn_connection`](crate::rt::spawn_connection), rather than
    /// by the loop with the fewest live connections. [`Listener::accept`]
    /// returns the connections of every loop. Other backends and Unix
    /// sockets bind one socket as usual. docs/netpoll.md compares the two.
    pub fn per_loop(mut self, on: bool) -> Self {
        self.per_loop = on;
        self
    }

    /// Sets the accept backlog (default 1024).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Sets `TCP_NODELAY` on accepted connections (default on).
    pub fn nodelay(mut self, on: bool) -> Self {
        self.options.nodelay = on;
        self
    }

    /// Enables TCP keepalive on accepted connections (default off).
    pub fn keepalive(mut self, keepalive: Option<KeepAlive>) -> Self {
        self.options.keepalive = keepalive;
        self
    }

    /// Binds and listens.
    ///
    /// # Errors
    ///
    /// Fails if the socket cannot be created, configured or bound.
    pub async fn bind(self, addr: &Address) -> Result<Listener> {
        let ctx = || format!("cannot listen on {addr}");
        match addr {
            #[cfg(feature = "polling")]
            Address::Tcp(sa) if self.per_loop && matches!(sys::current(), Which::Polling) => {
                self.bind_per_loop(*sa).map_err(|e| Error::bind(ctx(), e))
            }
            Address::Tcp(sa) => {
                let std = self.bind_tcp(*sa).map_err(|e| Error::bind(ctx(), e))?;
                let local = Address::Tcp(std.local_addr().map_err(|e| Error::bind(ctx(), e))?);
                let inner = Inner::tcp(std).map_err(|e| Error::bind(ctx(), e))?;
                Ok(Listener {
                    inner,
                    tcp: true,
                    local,
                    options: self.options,
                })
            }
            Address::Unix(path) => {
                let std = self.bind_unix(path).map_err(|e| Error::bind(ctx(), e))?;
                let inner = Inner::unix(std).map_err(|e| Error::bind(ctx(), e))?;
                Ok(Listener {
                    inner,
                    tcp: false,
                    local: addr.clone(),
                    options: self.options,
                })
            }
        }
    }

    /// One `SO_REUSEPORT` socket per loop, the first choosing the port if
    /// `addr` asks for port 0.
    #[cfg(feature = "polling")]
    fn bind_per_loop(&self, addr: SocketAddr) -> io::Result<Listener> {
        let per_socket = Self {
            reuse_port: true,
            ..self.clone()
        };
        let mut bound = addr;
        let inner = polling::bind_per_loop(|k| {
            let l = per_socket.bind_tcp(bound)?;
            if k == 0 {
                bound = l.local_addr()?;
            }
            Ok(l)
        })?;
        Ok(Listener {
            inner: Inner::PerLoop(inner),
            tcp: true,
            local: Address::Tcp(bound),
            options: self.options,
        })
    }

    fn bind_tcp(&self, addr: SocketAddr) -> io::Result<std::net::TcpListener> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(self.reuse_address)?;
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(i32::try_from(self.backlog).unwrap_or(i32::MAX))?;
        Ok(socket.into())
    }

    fn bind_unix(&self, path: &Path) -> io::Result<std::os::unix::net::UnixListener> {
        use socket2::{Domain, SockAddr, Socket, Type};
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.bind(&SockAddr::unix(path)?)?;
        socket.listen(i32::try_from(self.backlog).unwrap_or(i32::MAX))?;
        Ok(socket.into())
    }
}
