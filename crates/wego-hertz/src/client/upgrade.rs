//! Protocol upgrades: after a `101 Switching Protocols` response on
//! HTTP/1.1 the connection belongs to the caller, as an [`Upgraded`] IO.
//!
//! The shape is hyper's `upgrade::on`: the response carries an
//! [`OnUpgrade`] in its extensions, and [`on`] takes it out. A WebSocket
//! client, say, sends `GET` with `Connection: upgrade` and
//! `Upgrade: websocket`, checks the 101's headers, then speaks its own
//! protocol on the IO:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use http::{Request, StatusCode};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use wego_hertz::client::{self, Client};
//! use wego_hertz::Body;
//!
//! let client = Client::builder().build()?;
//! let req = Request::get("http://127.0.0.1:8080/chat")
//!     .header("connection", "upgrade")
//!     .header("upgrade", "echo")
//!     .body(Body::empty())?;
//! let mut resp = client.request(req).await?;
//! assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
//! let mut io = client::upgrade::on(&mut resp).await?;
//! io.write_all(b"ping").await?;
//! let mut pong = [0; 4];
//! io.read_exact(&mut pong).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The client's timeouts end with the 101: reads and writes on the
//! upgraded IO are bounded by the caller. The connection never returns to
//! the pool.
//!
//! A request with `Connection: upgrade` and an `Upgrade` field always
//! goes over HTTP/1.1, never on the origin's HTTP/2 connection; over TLS
//! its connection offers only `http/1.1` by ALPN, so a server that also
//! offers `h2` still sees the upgrade.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wego_netpoll::net::{Address, BoxIo, ConnInfo, Prefixed, TlsInfo};

use super::h1::Pending;
use crate::{Body, BoxFuture, Error, Result};

/// The connection of a response that switched protocols: the IO, with the
/// bytes the client had already read past the 101's head returned first.
///
/// Implements tokio's `AsyncRead` and `AsyncWrite`, and netpoll's
/// [`ConnInfo`] (forwarded to the connection).
pub struct Upgraded(Prefixed<BoxIo>);

impl Upgraded {
    pub(crate) fn new(io: BoxIo, read_buf: Bytes) -> Self {
        Self(Prefixed::new(read_buf, io))
    }

    /// The connection and the bytes read from it past the 101's head,
    /// which come before anything read from the connection from now on.
    pub fn into_parts(self) -> (BoxIo, Bytes) {
        let (read_buf, io) = self.0.into_parts();
        (io, read_buf)
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("buffered", &self.0.prefix().len())
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl ConnInfo for Upgraded {
    fn peer_addr(&self) -> Option<Address> {
        self.0.peer_addr()
    }

    fn local_addr(&self) -> Option<Address> {
        self.0.local_addr()
    }

    fn is_active(&self) -> bool {
        self.0.is_active()
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        self.0.tls_info()
    }
}

/// The connection a 101 response carries in its extensions until [`on`]
/// takes it. Extensions need `Clone`: clones share the one connection.
#[derive(Clone)]
pub(crate) struct Slot(Arc<Mutex<Option<Pending>>>);

impl Slot {
    pub(crate) fn new(pending: Pending) -> Self {
        Self(Arc::new(Mutex::new(Some(pending))))
    }
}

/// The connection of a 101 response, as a future of an [`Upgraded`]; take
/// it out of the response with [`on`].
///
/// It resolves once the request body (if the request had one still being
/// written) has been sent; usually at once.
///
/// # Errors
///
/// [`Error::is_upgrade`] when the response did not switch protocols (not a
/// 101 on HTTP/1.1) or its connection was already taken;
/// [`Error::is_body`] when the request body failed;
/// [`Error::is_closed`] when the connection failed while it was written.
///
/// # Cancel safety
///
/// Dropping it closes the connection.
#[must_use = "futures do nothing unless polled"]
pub struct OnUpgrade {
    state: State,
}

enum State {
    Taken(Option<Pending>),
    Running(BoxFuture<'static, Result<Upgraded>>),
    /// Not an upgrade, or already resolved.
    None,
}

impl OnUpgrade {
    /// An upgrade that `fut` resolves: the server's side
    /// ([`crate::upgrade`]), where the driver hands the connection over.
    pub(crate) fn from_future(fut: BoxFuture<'static, Result<Upgraded>>) -> Self {
        Self {
            state: State::Running(fut),
        }
    }

    fn from_slot(slot: Option<Slot>) -> Self {
        let pending = slot.and_then(|s| s.0.lock().unwrap_or_else(PoisonError::into_inner).take());
        Self {
            state: match pending {
                Some(p) => State::Taken(Some(p)),
                None => State::None,
            },
        }
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnUpgrade").finish_non_exhaustive()
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match &mut self.state {
                State::Taken(pending) => {
                    self.state = match pending.take() {
                        Some(p) => State::Running(Box::pin(p.finish())),
                        None => State::None,
                    };
                }
                State::Running(fut) => {
                    let out = std::task::ready!(fut.as_mut().poll(cx));
                    self.state = State::None;
                    return Poll::Ready(out);
                }
                State::None => {
                    return Poll::Ready(Err(Error::upgrade(
                        "the response did not switch protocols",
                    )));
                }
            }
        }
    }
}

mod sealed {
    /// What [`on`](super::on) takes a connection from.
    pub trait CanUpgrade {
        fn on_upgrade(self) -> super::OnUpgrade;
    }
}

impl sealed::CanUpgrade for Response<Body> {
    fn on_upgrade(mut self) -> OnUpgrade {
        (&mut self).on_upgrade()
    }
}

impl sealed::CanUpgrade for &mut Response<Body> {
    fn on_upgrade(self) -> OnUpgrade {
        OnUpgrade::from_slot(self.extensions_mut().remove::<Slot>())
    }
}

/// Takes the connection of a `101 Switching Protocols` response, by value
/// or from `&mut Response<Body>` (which keeps the head for the caller).
///
/// A response that did not switch protocols gives a future that fails
/// with [`Error::is_upgrade`].
pub fn on<T: sealed::CanUpgrade>(msg: T) -> OnUpgrade {
    msg.on_upgrade()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn futures_and_io_are_send() {
        fn send<T: Send>() {}
        send::<OnUpgrade>();
        send::<Upgraded>();
    }

    #[test]
    fn a_response_without_a_connection_does_not_upgrade() {
        let mut resp = Response::new(Body::empty());
        let e = wego_netpoll::rt::block_on(on(&mut resp))
            .unwrap()
            .unwrap_err();
        assert!(e.is_upgrade(), "{e}");
        assert_eq!(
            e.to_string(),
            "upgrade failed: the response did not switch protocols"
        );
    }

    #[test]
    fn buffered_bytes_are_read_before_the_connection() {
        wego_netpoll::rt::block_on(buffered_first()).unwrap();
    }

    async fn buffered_first() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut up = Upgraded::new(Box::new(a), Bytes::from_static(b"early "));
        assert!(up.is_active());
        b.write_all(b"late").await.unwrap();
        drop(b);
        let mut got = Vec::new();
        up.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"early late");
        let (_, rest) = up.into_parts();
        assert!(rest.is_empty());
    }
}
