//! WebSocket (RFC 6455) on wego-hertz's server and client, feature `ws`.
//!
//! - [`WebSocketUpgrade`]: an extractor that checks the opening handshake
//!   (`GET` over HTTP/1.1, `Upgrade: websocket`, `Connection: upgrade`,
//!   `Sec-WebSocket-Version: 13`, a 16-byte base64 `Sec-WebSocket-Key`)
//!   and rejects a bad one with 405, 426 or 400 and a body saying why;
//!   [`WebSocketUpgrade::on_upgrade`] answers `101` (with a chosen
//!   subprotocol, after an optional `Origin` check) and runs a callback
//!   with the [`WebSocket`] once the server hands the connection over
//!   ([`crate::upgrade`]).
//! - [`WebSocket`]: a `Stream` of [`Message`]s and a `Sink` of them. Text,
//!   binary and fragmented messages, pings answered with pongs, the
//!   closing handshake, frame and message size limits; a peer that breaks
//!   the protocol gets a close frame with the code of RFC 6455 §7.4.1.
//!
//! - [`connect`] and [`Connector`]: the client's handshake over
//!   [`crate::Client`], checked (accept key, subprotocol, no extension),
//!   then the same [`WebSocket`] on the connection the `101` hands back.
//!
//! - [`PerMessageDeflate`]: compression of data messages (RFC 7692),
//!   opt-in on a route ([`WebSocketUpgrade::with_deflate`]) and on a
//!   client ([`Connector::with_deflate`]).
//!
//! The handshake is wego's ([`check_request`], [`check_response`]); the
//! framing is tungstenite's, behind wego's own types, and
//! permessage-deflate is wego's, on the frames under tungstenite. See
//! `docs/http.md`, "WebSocket".

mod client;
mod deflate;
mod handshake;
mod message;
mod server;
mod socket;

pub use client::{ConnectError, Connector, connect};
pub use deflate::PerMessageDeflate;
#[doc(hidden)]
pub use deflate::{fuzz_frames, fuzz_negotiation};
pub use handshake::{ClientHandshake, HandshakeError, accept_key, check_request, check_response};
pub use message::{CloseFrame, Message, Utf8Bytes, close_code};
pub use server::WebSocketUpgrade;
pub use socket::{WebSocket, WebSocketError};
