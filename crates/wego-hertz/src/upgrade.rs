//! Protocol upgrades on the server: after a `101 Switching Protocols`
//! answer on HTTP/1.1, the connection belongs to the handler as an
//! [`Upgraded`] IO.
//!
//! The shape is hyper's `upgrade::on`. The server puts an upgrade slot in
//! the extensions of every HTTP/1.1 request that can switch protocols (it
//! lists `upgrade` among its `Connection` options, has an `Upgrade` field
//! and no body); [`on`] takes it out as an [`OnUpgrade`] future. When the
//! handler answers `101`, the server writes that head, stops speaking HTTP
//! on the connection and resolves the future with the IO; any other
//! answer resolves it with an error and the connection goes on as HTTP.
//! The driver knows nothing of the protocol that follows: WebSocket
//! ([`crate::ws`], feature `ws`) is one user of this hook.
//!
//! ```
//! use http::{Request, Response, StatusCode, header};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use wego_hertz::{Body, upgrade};
//!
//! async fn handler(mut req: Request<Body>) -> Response<Body> {
//!     let on_upgrade = upgrade::on(&mut req);
//!     wego_netpoll::rt::spawn(async move {
//!         if let Ok(mut io) = on_upgrade.await {
//!             let mut buf = [0; 4];
//!             if io.read_exact(&mut buf).await.is_ok() {
//!                 let _ = io.write_all(&buf).await;
//!             }
//!         }
//!     });
//!     Response::builder()
//!         .status(StatusCode::SWITCHING_PROTOCOLS)
//!         .header(header::CONNECTION, "upgrade")
//!         .header(header::UPGRADE, "echo")
//!         .body(Body::empty())
//!         .unwrap()
//! }
//! ```
//!
//! The upgraded connection leaves the server: its header-read, idle and
//! write timeouts and its graceful shutdown no longer apply; the
//! protocol that takes it over bounds its own reads and writes.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::{HeaderMap, Request, Version, header};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use wego_netpoll::net::{Address, BoxIo, ConnInfo, TlsInfo};

use crate::{Body, Error, Result};

/// The connection of a request answered `101 Switching Protocols`: the IO,
/// with the bytes the server had already read past the request's head
/// returned first.
///
/// Implements tokio's `AsyncRead` and `AsyncWrite`, and netpoll's
/// [`ConnInfo`] (forwarded to the connection).
pub struct Upgraded {
    io: BoxIo,
    read_buf: Bytes,
}

impl Upgraded {
    pub(crate) fn new(io: BoxIo, read_buf: Bytes) -> Self {
        Self { io, read_buf }
    }

    /// The connection and the bytes read from it past the request's head,
    /// which come before anything read from the connection from now on.
    pub fn into_parts(self) -> (BoxIo, Bytes) {
        (self.io, self.read_buf)
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("buffered", &self.read_buf.len())
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.read_buf.is_empty() {
            let n = self.read_buf.len().min(buf.remaining());
            buf.put_slice(&self.read_buf[..n]);
            self.read_buf.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl ConnInfo for Upgraded {
    fn peer_addr(&self) -> Option<Address> {
        self.io.peer_addr()
    }

    fn local_addr(&self) -> Option<Address> {
        self.io.local_addr()
    }

    fn is_active(&self) -> bool {
        // Bytes still buffered are input the caller has not read yet.
        !self.read_buf.is_empty() || self.io.is_active()
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        self.io.tls_info()
    }
}

/// The server's side of an offered upgrade: it sends the connection once a
/// `101` is written, or drops this to refuse.
pub(crate) struct Pending(oneshot::Sender<Upgraded>);

impl Pending {
    /// Hands the connection over; the handler may have stopped waiting.
    pub(crate) fn fulfil(self, upgraded: Upgraded) {
        let _ = self.0.send(upgraded);
    }
}

/// The upgrade slot in a request's extensions until [`on`] takes it.
/// Extensions need `Clone`: clones share the one slot.
#[derive(Clone)]
struct Slot(Arc<Mutex<Option<oneshot::Receiver<Upgraded>>>>);

/// Whether an HTTP/1.1 request may switch protocols: `upgrade` among its
/// `Connection` options and an `Upgrade` field (RFC 9110 §7.8). The caller
/// checks that it has no body.
pub(crate) fn requested(version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_11
        && headers.contains_key(header::UPGRADE)
        && has_token(headers, header::CONNECTION, "upgrade")
}

/// Puts an upgrade slot in `ext`; the returned [`Pending`] fills it.
pub(crate) fn offer(ext: &mut http::Extensions) -> Pending {
    let (tx, rx) = oneshot::channel();
    ext.insert(Slot(Arc::new(Mutex::new(Some(rx)))));
    Pending(tx)
}

/// Whether a comma-separated field of `name` lists `token`,
/// case-insensitively.
pub(crate) fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// The connection of a request, as a future of an [`Upgraded`]; take it
/// out of the request with [`on`].
///
/// It resolves once the server has written the handler's `101` answer.
///
/// # Errors
///
/// [`Error::is_upgrade`] when the request cannot switch protocols (not
/// HTTP/1.1, no `Connection: upgrade`, a body, or its slot already
/// taken), when the handler answered something other than `101`, or when
/// the connection failed while the `101` was written.
///
/// # Cancel safety
///
/// Dropping it before it resolves closes the connection once it is
/// handed over.
#[must_use = "futures do nothing unless polled"]
pub struct OnUpgrade {
    rx: Option<oneshot::Receiver<Upgraded>>,
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnUpgrade")
            .field("offered", &self.rx.is_some())
            .finish()
    }
}

impl OnUpgrade {
    fn from_extensions(ext: &mut http::Extensions) -> Self {
        let rx = ext
            .remove::<Slot>()
            .and_then(|s| s.0.lock().unwrap_or_else(PoisonError::into_inner).take());
        Self { rx }
    }

    /// Whether the server offered an upgrade for this request (it is
    /// HTTP/1.1, asks to switch and has no body); when not, the future
    /// fails at once.
    pub fn is_offered(&self) -> bool {
        self.rx.is_some()
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(Err(Error::upgrade("the request cannot switch protocols")));
        };
        let out = std::task::ready!(Pin::new(rx).poll(cx));
        self.rx = None;
        Poll::Ready(out.map_err(|_| Error::upgrade("the connection did not switch protocols")))
    }
}

mod sealed {
    /// What [`on`](super::on) takes an upgrade from.
    pub trait CanUpgrade {
        fn on_upgrade(self) -> super::OnUpgrade;
    }
}

impl sealed::CanUpgrade for Request<Body> {
    fn on_upgrade(mut self) -> OnUpgrade {
        OnUpgrade::from_extensions(self.extensions_mut())
    }
}

impl sealed::CanUpgrade for &mut Request<Body> {
    fn on_upgrade(self) -> OnUpgrade {
        OnUpgrade::from_extensions(self.extensions_mut())
    }
}

impl sealed::CanUpgrade for &mut http::request::Parts {
    fn on_upgrade(self) -> OnUpgrade {
        OnUpgrade::from_extensions(&mut self.extensions)
    }
}

/// Takes the upgrade of a request, by value, from `&mut Request<Body>` or
/// from `&mut http::request::Parts` (what an extractor sees).
///
/// A request the server offered no upgrade for gives a future that fails
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
    fn a_request_without_an_offer_does_not_upgrade() {
        let mut req = Request::new(Body::empty());
        let on_upgrade = on(&mut req);
        assert!(!on_upgrade.is_offered());
        let e = wego_netpoll::rt::block_on(on_upgrade).unwrap().unwrap_err();
        assert!(e.is_upgrade(), "{e}");
        assert_eq!(
            e.to_string(),
            "upgrade failed: the request cannot switch protocols"
        );
    }

    #[test]
    fn a_refused_offer_fails_and_a_taken_slot_is_gone() {
        let mut req = Request::new(Body::empty());
        let pending = offer(req.extensions_mut());
        let first = on(&mut req);
        assert!(first.is_offered());
        assert!(!on(&mut req).is_offered(), "the slot is taken once");
        drop(pending);
        let e = wego_netpoll::rt::block_on(first).unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "upgrade failed: the connection did not switch protocols"
        );
    }

    #[test]
    fn requested_needs_http11_an_upgrade_field_and_the_connection_token() {
        let parts = |version, conn: Option<&str>, upgrade: bool| {
            let mut b = Request::get("/").version(version);
            if let Some(c) = conn {
                b = b.header(header::CONNECTION, c);
            }
            if upgrade {
                b = b.header(header::UPGRADE, "websocket");
            }
            let req = b.body(()).unwrap();
            requested(req.version(), req.headers())
        };
        assert!(parts(Version::HTTP_11, Some("keep-alive, Upgrade"), true));
        assert!(!parts(Version::HTTP_10, Some("upgrade"), true));
        assert!(!parts(Version::HTTP_11, Some("keep-alive"), true));
        assert!(!parts(Version::HTTP_11, None, true));
        assert!(!parts(Version::HTTP_11, Some("upgrade"), false));
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
