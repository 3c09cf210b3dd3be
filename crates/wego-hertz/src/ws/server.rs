//! The server side: an extractor that checks the opening handshake and
//! answers `101`, then runs a callback with the [`WebSocket`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use http::request::Parts;
use http::{HeaderValue, StatusCode, header};

use super::deflate::{PerMessageDeflate, Transport, negotiate};
use super::handshake::{self, HandshakeError};
use super::socket::{Limits, WebSocket};
use crate::Body;
use crate::extract::FromRequestParts;
use crate::response::Response;
use crate::upgrade::{self, OnUpgrade};

type OriginCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Extracts a WebSocket opening handshake; [`on_upgrade`](Self::on_upgrade)
/// answers it and runs a callback with the socket (axum's
/// `WebSocketUpgrade` shape).
///
/// Extraction checks the request (see [`check_request`](super::check_request))
/// and rejects it with a [`HandshakeError`]: 405, 426 or 400 with a
/// `text/plain` body saying what is wrong. Subprotocols and an `Origin`
/// allowlist are set on the extracted value before `on_upgrade`.
///
/// ```
/// use wego_hertz::Router;
/// use wego_hertz::ws::{Message, WebSocketUpgrade};
///
/// let app: Router = Router::new().get("/ws", |ws: WebSocketUpgrade| async move {
///     ws.with_protocols(["echo"]).on_upgrade(|mut socket| async move {
///         while let Some(Ok(msg)) = socket.recv().await {
///             if msg.is_data() && socket.send(msg).await.is_err() {
///                 break;
///             }
///         }
///     })
/// });
/// ```
pub struct WebSocketUpgrade {
    parts: Parts,
    accept: HeaderValue,
    on_upgrade: OnUpgrade,
    protocols: Vec<Box<str>>,
    origin_check: Option<OriginCheck>,
    limits: Limits,
    deflate: Option<PerMessageDeflate>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("uri", &self.parts.uri)
            .field("protocols", &self.protocols)
            .field("limits", &self.limits)
            .field("deflate", &self.deflate)
            .finish_non_exhaustive()
    }
}

impl FromRequestParts for WebSocketUpgrade {
    type Rejection = HandshakeError;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, HandshakeError> {
        let ok = handshake::check_request(&parts.method, parts.version, &parts.headers)?;
        if !upgrade::offered(&parts.extensions) {
            return Err(HandshakeError::NotUpgradable);
        }
        let on_upgrade = upgrade::on(&mut *parts);
        // The head is kept for the origin and subprotocol choices made in
        // `on_upgrade`; extensions stay with the request.
        let mut head = http::Request::new(());
        *head.method_mut() = parts.method.clone();
        *head.uri_mut() = parts.uri.clone();
        *head.version_mut() = parts.version;
        *head.headers_mut() = parts.headers.clone();
        Ok(Self {
            parts: head.into_parts().0,
            accept: ok.accept,
            on_upgrade,
            protocols: Vec::new(),
            origin_check: None,
            limits: Limits::default(),
            deflate: None,
        })
    }
}

impl WebSocketUpgrade {
    /// The subprotocols the server speaks, most preferred first; the first
    /// that the client lists in `Sec-WebSocket-Protocol` is chosen
    /// (names compare case-sensitively). With none chosen the handshake
    /// goes on without a subprotocol, and the client decides whether to
    /// stay.
    pub fn with_protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Box<str>>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Accepts only these `Origin` values (compared ASCII
    /// case-insensitively, as serialized origins such as
    /// `https://example.com`); others are answered 403. A request without
    /// `Origin` (not from a browser) is accepted.
    pub fn with_allowed_origins<I, O>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<Box<str>>,
    {
        let allowed: Vec<Box<str>> = origins.into_iter().map(Into::into).collect();
        self.with_origin_check(move |origin| handshake::origin_listed(origin, &allowed))
    }

    /// Accepts a request whose `Origin` passes `check`; others are
    /// answered 403. A request without `Origin` (not from a browser) is
    /// accepted, and one whose `Origin` is not text is refused.
    pub fn with_origin_check<F>(mut self, check: F) -> Self
    where
        F: Fn(&str) -> bool + Send + Sync + 'static,
    {
        self.origin_check = Some(Arc::new(check));
        self
    }

    /// The largest message accepted, reassembled from its fragments
    /// (16 MiB by default); a larger one fails the connection with 1009.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.limits.max_message = bytes;
        self
    }

    /// The largest frame payload accepted (16 MiB by default); a larger
    /// one fails the connection with 1009.
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.limits.max_frame = bytes;
        self
    }

    /// Agrees to permessage-deflate (RFC 7692) when the client offers it:
    /// data messages are then compressed both ways. Off by default. An
    /// offer the server cannot honour (one asking the server for a window
    /// under 32 KiB, or with unknown parameters) is declined, and the
    /// socket speaks uncompressed frames.
    pub fn with_deflate(mut self, config: PerMessageDeflate) -> Self {
        self.deflate = Some(config);
        self
    }

    /// The subprotocols the client offered, in its order.
    pub fn offered_protocols(&self) -> impl Iterator<Item = &str> {
        self.parts
            .headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
    }

    /// Answers the handshake with `101 Switching Protocols` and, once the
    /// server has handed the connection over, runs `callback` with the
    /// socket on a task of its own. Returns the response for the handler
    /// to return: the `101`, or 403 when the origin is refused.
    ///
    /// The socket's task is not part of the server's graceful shutdown;
    /// end it from the callback (a shutdown signal of the application's,
    /// a close frame with [`close_code::AWAY`](super::close_code::AWAY)).
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if let Some(check) = &self.origin_check
            && let Some(origin) = self.parts.headers.get(header::ORIGIN)
            && !origin.to_str().is_ok_and(|o| check(o))
        {
            return crate::response::IntoResponse::into_response(HandshakeError::OriginNotAllowed);
        }
        let protocol =
            handshake::select_protocol(&self.parts.headers, &self.protocols).map(str::to_owned);
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = res.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, self.accept);
        if let Some(p) = protocol.as_deref()
            && let Ok(v) = HeaderValue::from_str(p)
        {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, v);
        }
        let agreed = self.deflate.and_then(|config| {
            negotiate::choose_offer(&self.parts.headers, &config).map(|a| (config, a))
        });
        if let Some((_, (answer, _))) = &agreed {
            headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, answer.clone());
        }
        let limits = self.limits;
        let on_upgrade = self.on_upgrade;
        wego_netpoll::rt::spawn(async move {
            match on_upgrade.await {
                Ok(io) => {
                    let io = match agreed {
                        Some((config, (_, agreed))) => Transport::deflate(
                            io,
                            true,
                            &config,
                            agreed,
                            limits.max_frame,
                            limits.max_message,
                        ),
                        None => Transport::plain(io),
                    };
                    let socket = WebSocket::from_upgraded(io, true, limits, protocol).await;
                    callback(socket).await;
                }
                Err(e) => tracing::debug!(error = %e, "websocket upgrade did not happen"),
            }
        });
        res
    }
}
