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
//! (the `ws` module, feature `ws`) is one user of this hook.
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

use std::sync::{Arc, Mutex, PoisonError};

use http::{HeaderMap, Request, Response, Version, header};
use tokio::sync::oneshot;

use crate::{Body, Error};

/// The IO and the future of an upgrade are the client's types: one
/// [`Upgraded`] whichever side switched.
pub use crate::client::upgrade::{OnUpgrade, Upgraded};

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

/// Whether the server offered an upgrade for the request whose extensions
/// are `ext` (it is HTTP/1.1, asks to switch and has no body) and [`on`]
/// has not taken it yet: an extractor asks this before answering `101`.
pub fn offered(ext: &http::Extensions) -> bool {
    ext.get::<Slot>().is_some()
}

fn from_extensions(ext: &mut http::Extensions) -> OnUpgrade {
    let rx = ext
        .remove::<Slot>()
        .and_then(|s| s.0.lock().unwrap_or_else(PoisonError::into_inner).take());
    OnUpgrade::from_future(Box::pin(async move {
        match rx {
            Some(rx) => rx
                .await
                .map_err(|_| Error::upgrade("the connection did not switch protocols")),
            None => Err(Error::upgrade("the request cannot switch protocols")),
        }
    }))
}

mod sealed {
    /// What [`on`](super::on) takes an upgrade from.
    pub trait CanUpgrade {
        fn on_upgrade(self) -> super::OnUpgrade;
    }
}

impl sealed::CanUpgrade for Request<Body> {
    fn on_upgrade(mut self) -> OnUpgrade {
        from_extensions(self.extensions_mut())
    }
}

impl sealed::CanUpgrade for &mut Request<Body> {
    fn on_upgrade(self) -> OnUpgrade {
        from_extensions(self.extensions_mut())
    }
}

impl sealed::CanUpgrade for &mut http::request::Parts {
    fn on_upgrade(self) -> OnUpgrade {
        from_extensions(&mut self.extensions)
    }
}

impl sealed::CanUpgrade for Response<Body> {
    fn on_upgrade(self) -> OnUpgrade {
        crate::client::upgrade::on(self)
    }
}

impl sealed::CanUpgrade for &mut Response<Body> {
    fn on_upgrade(self) -> OnUpgrade {
        crate::client::upgrade::on(self)
    }
}

/// Takes the upgrade of a request on the server (by value, from
/// `&mut Request<Body>`, or from `&mut http::request::Parts`, what an
/// extractor sees), or of a client's response (as
/// [`client::upgrade::on`](crate::client::upgrade::on)).
///
/// A request the server offered no upgrade for, or a response that did not
/// switch, gives a future that fails with [`Error::is_upgrade`].
pub fn on<T: sealed::CanUpgrade>(msg: T) -> OnUpgrade {
    msg.on_upgrade()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_an_offer_does_not_upgrade() {
        let mut req = Request::new(Body::empty());
        assert!(!offered(req.extensions()));
        let e = wego_netpoll::rt::block_on(on(&mut req))
            .unwrap()
            .unwrap_err();
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
        assert!(offered(req.extensions()));
        let first = on(&mut req);
        assert!(!offered(req.extensions()), "the slot is taken once");
        drop(pending);
        let e = wego_netpoll::rt::block_on(first).unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "upgrade failed: the connection did not switch protocols"
        );
    }

    #[test]
    fn a_fulfilled_offer_resolves_with_the_io() {
        let mut req = Request::new(Body::empty());
        let pending = offer(req.extensions_mut());
        let fut = on(req);
        let (a, _b) = tokio::io::duplex(8);
        pending.fulfil(Upgraded::new(Box::new(a), bytes::Bytes::from_static(b"x")));
        let up = wego_netpoll::rt::block_on(fut).unwrap().unwrap();
        assert_eq!(up.into_parts().1, "x");
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
}
