//! An open WebSocket: messages in and out over an upgraded connection.
//!
//! Framing is tungstenite's (through tokio-tungstenite): masking, fragment
//! reassembly, control frames, automatic pongs and close replies, and the
//! frame and message size limits. tungstenite reports a peer's protocol
//! violation as an error and leaves the close to its caller; this type
//! fails the connection with the code RFC 6455 §7.4.1 asks for before it
//! yields the error: 1002 for protocol errors (an unmasked client frame, a
//! reserved opcode or bit, a control frame over 125 bytes or fragmented),
//! 1007 for text that is not UTF-8, 1009 for a frame or message over the
//! limit.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_util::{Sink, SinkExt, StreamExt};
use tokio::io::AsyncWrite;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{Role, WebSocketConfig};

use super::deflate::{DeflateError, Transport};
use super::message::{CloseFrame, Message, close_code};

/// Size limits of a WebSocket, with safe defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The largest message, reassembled from its fragments (16 MiB).
    pub(crate) max_message: usize,
    /// The largest frame payload (16 MiB).
    pub(crate) max_frame: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message: 16 << 20,
            max_frame: 16 << 20,
        }
    }
}

impl Limits {
    fn config(self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message))
            .max_frame_size(Some(self.max_frame))
            // RFC 6455 §5.1: a server must fail on an unmasked frame.
            .accept_unmasked_frames(false)
    }
}

/// Why reading or writing a WebSocket failed. Ask with the `is_*`
/// methods; the cause is in [`source`](std::error::Error::source).
pub struct WebSocketError {
    kind: Kind,
    cause: Option<tungstenite::Error>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The connection is closed (the closing handshake is done, or it was
    /// closed before).
    Closed,
    /// The peer broke the protocol (1002).
    Protocol,
    /// A text message or close reason that is not UTF-8 (1007).
    Utf8,
    /// A frame or message over the limit (1009).
    TooBig,
    /// The connection failed.
    Io,
    /// Anything else tungstenite reports.
    Other,
}

impl WebSocketError {
    fn from_tungstenite(e: tungstenite::Error) -> Self {
        use tungstenite::Error as E;
        use tungstenite::error::ProtocolError as P;
        let kind = match &e {
            E::ConnectionClosed | E::AlreadyClosed => Kind::Closed,
            E::Protocol(P::SendAfterClosing | P::ReceivedAfterClosing) => Kind::Closed,
            // The peer dropped the connection without a close frame.
            E::Protocol(P::ResetWithoutClosingHandshake) => Kind::Io,
            E::Protocol(_) => Kind::Protocol,
            E::Utf8(_) => Kind::Utf8,
            E::Capacity(_) => Kind::TooBig,
            // permessage-deflate's refusals come up through the IO.
            E::Io(io) => match io.get_ref().and_then(|e| e.downcast_ref::<DeflateError>()) {
                Some(d) if d.is_too_big() => Kind::TooBig,
                Some(_) => Kind::Protocol,
                None => Kind::Io,
            },
            E::WriteBufferFull(_) => Kind::Io,
            _ => Kind::Other,
        };
        Self {
            kind,
            cause: Some(e),
        }
    }

    fn closed() -> Self {
        Self {
            kind: Kind::Closed,
            cause: None,
        }
    }

    /// The connection is closed: the closing handshake is done, or the
    /// socket was used after it.
    pub fn is_closed(&self) -> bool {
        self.kind == Kind::Closed
    }

    /// The peer broke the protocol; the connection was failed with 1002.
    pub fn is_protocol(&self) -> bool {
        self.kind == Kind::Protocol
    }

    /// A text message or close reason was not UTF-8; the connection was
    /// failed with 1007.
    pub fn is_utf8(&self) -> bool {
        self.kind == Kind::Utf8
    }

    /// A frame or message was over the limit; the connection was failed
    /// with 1009.
    pub fn is_too_big(&self) -> bool {
        self.kind == Kind::TooBig
    }

    /// Reading from or writing to the connection failed, or the peer
    /// dropped it without a close frame.
    pub fn is_io(&self) -> bool {
        self.kind == Kind::Io
    }

    /// The close code this error fails the connection with, if it is the
    /// peer's fault.
    pub fn close_code(&self) -> Option<u16> {
        match self.kind {
            Kind::Protocol => Some(close_code::PROTOCOL),
            Kind::Utf8 => Some(close_code::INVALID),
            Kind::TooBig => Some(close_code::SIZE),
            _ => None,
        }
    }
}

impl fmt::Debug for WebSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketError")
            .field("kind", &self.kind)
            .field("cause", &self.cause)
            .finish()
    }
}

impl fmt::Display for WebSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            Kind::Closed => "websocket closed",
            Kind::Protocol => "websocket protocol violation",
            Kind::Utf8 => "websocket text is not utf-8",
            Kind::TooBig => "websocket message over the limit",
            Kind::Io => "websocket connection failed",
            Kind::Other => "websocket error",
        })
    }
}

impl std::error::Error for WebSocketError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What reading does besides reading.
enum ReadState {
    /// Reading messages.
    Open,
    /// A peer's close arrived: flushing the automatic reply before the
    /// close is yielded.
    Replying(Option<CloseFrame>),
    /// The peer broke the protocol: sending our close frame with the code,
    /// then yielding the error.
    Failing {
        sent: bool,
        error: Option<WebSocketError>,
    },
    /// The closing handshake is done: shutting the connection down (a
    /// TLS connection sends `close_notify`) before the end is yielded.
    ShuttingDown,
    /// The stream is over.
    Done,
}

/// An open WebSocket connection: a [`Stream`] of received [`Message`]s and
/// a [`Sink`] of messages to send, or [`recv`](Self::recv) and
/// [`send`](Self::send).
///
/// Pings are answered, and a peer's close frame is replied to, before the
/// ping or close is yielded. A peer that breaks the protocol gets a close
/// frame with the matching code, then the error is yielded and the stream
/// ends.
pub struct WebSocket {
    inner: WebSocketStream<Transport>,
    protocol: Option<String>,
    read: ReadState,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// Starts speaking WebSocket on `io`, whose handshake is done.
    pub(crate) async fn from_upgraded(
        io: Transport,
        server: bool,
        limits: Limits,
        protocol: Option<String>,
    ) -> Self {
        let role = if server { Role::Server } else { Role::Client };
        let inner = WebSocketStream::from_raw_socket(io, role, Some(limits.config())).await;
        Self {
            inner,
            protocol,
            read: ReadState::Open,
        }
    }

    /// Whether permessage-deflate was agreed in the handshake: data
    /// messages are then compressed both ways.
    pub fn is_compressed(&self) -> bool {
        self.inner.get_ref().is_deflate()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Receives the next message; `None` once the connection is closed.
    /// After the closing handshake the connection is shut down (a TLS
    /// connection sends `close_notify`) before `None` is yielded.
    ///
    /// # Errors
    ///
    /// A [`WebSocketError`]: the peer broke the protocol (the connection
    /// was failed with [`close_code`](WebSocketError::close_code)) or the
    /// connection failed. The stream ends after an error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message is never lost by dropping the future.
    pub async fn recv(&mut self) -> Option<Result<Message, WebSocketError>> {
        self.next().await
    }

    /// Sends a message and flushes it.
    ///
    /// # Errors
    ///
    /// [`WebSocketError::is_closed`] after a close frame was sent or
    /// received; [`WebSocketError::is_io`] when the connection failed.
    pub async fn send(&mut self, msg: Message) -> Result<(), WebSocketError> {
        SinkExt::send(self, msg).await
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123
    /// bytes); read on until `recv` yields `None` to see the peer's reply.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), WebSocketError> {
        self.send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await
    }

    fn poll_fail(&mut self, cx: &mut Context<'_>, sent: bool) -> Poll<bool> {
        let ReadState::Failing { error, .. } = &self.read else {
            return Poll::Ready(true);
        };
        let code = error.as_ref().and_then(WebSocketError::close_code);
        let mut inner = Pin::new(&mut self.inner);
        if !sent {
            if let Some(code) = code {
                if ready!(inner.as_mut().poll_ready(cx)).is_err() {
                    return Poll::Ready(true);
                }
                let frame = tungstenite::protocol::CloseFrame {
                    code: code.into(),
                    reason: "".into(),
                };
                if inner
                    .as_mut()
                    .start_send(tungstenite::Message::Close(Some(frame)))
                    .is_err()
                {
                    return Poll::Ready(true);
                }
            }
            self.read = match std::mem::replace(&mut self.read, ReadState::Done) {
                ReadState::Failing { error, .. } => ReadState::Failing { sent: true, error },
                other => other,
            };
        }
        // The close frame goes out whole, or the connection has failed.
        let _ = ready!(Pin::new(&mut self.inner).poll_flush(cx));
        Poll::Ready(true)
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, WebSocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.read {
                ReadState::Done => return Poll::Ready(None),
                ReadState::Replying(_) => {
                    // Flush the automatic close reply; a failed flush
                    // leaves nothing more to do for it.
                    let _ = ready!(Pin::new(&mut this.inner).poll_flush(cx));
                    let ReadState::Replying(frame) =
                        std::mem::replace(&mut this.read, ReadState::Open)
                    else {
                        unreachable!("invariant: matched Replying above")
                    };
                    return Poll::Ready(Some(Ok(Message::Close(frame))));
                }
                ReadState::Failing { sent, .. } => {
                    let sent = *sent;
                    ready!(this.poll_fail(cx, sent));
                    let ReadState::Failing { error, .. } =
                        std::mem::replace(&mut this.read, ReadState::Done)
                    else {
                        unreachable!("invariant: matched Failing above")
                    };
                    return Poll::Ready(error.map(Err));
                }
                ReadState::ShuttingDown => {
                    // RFC 6455 §7.1.1: the closing handshake ends with the
                    // connection's close; a failed shutdown leaves nothing
                    // more to do for it.
                    let _ = ready!(Pin::new(this.inner.get_mut()).poll_shutdown(cx));
                    this.read = ReadState::Done;
                    return Poll::Ready(None);
                }
                ReadState::Open => {}
            }
            match ready!(this.inner.poll_next_unpin(cx)) {
                None => this.read = ReadState::ShuttingDown,
                Some(Ok(m)) => match Message::from_tungstenite(m) {
                    Some(Message::Close(frame)) => this.read = ReadState::Replying(frame),
                    Some(m) => return Poll::Ready(Some(Ok(m))),
                    None => {}
                },
                Some(Err(e)) => {
                    let error = WebSocketError::from_tungstenite(e);
                    if let Some(code) = error.close_code() {
                        tracing::debug!(error = %error, code, "failing the websocket");
                        this.read = ReadState::Failing {
                            sent: false,
                            error: Some(error),
                        };
                    } else {
                        this.read = ReadState::Done;
                        return Poll::Ready(Some(Err(error)));
                    }
                }
            }
        }
    }
}

impl Sink<Message> for WebSocket {
    type Error = WebSocketError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_ready(cx)
            .map_err(WebSocketError::from_tungstenite)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        if matches!(self.read, ReadState::Failing { .. }) {
            return Err(WebSocketError::closed());
        }
        Pin::new(&mut self.inner)
            .start_send(item.into_tungstenite())
            .map_err(WebSocketError::from_tungstenite)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_flush(cx)
            .map_err(WebSocketError::from_tungstenite)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_close(cx)
            .map_err(WebSocketError::from_tungstenite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_and_error_are_send() {
        fn send<T: Send + 'static>() {}
        send::<WebSocket>();
        send::<WebSocketError>();
    }

    #[test]
    fn errors_map_to_close_codes() {
        use tungstenite::error::{CapacityError, ProtocolError};
        let e = WebSocketError::from_tungstenite(tungstenite::Error::Protocol(
            ProtocolError::UnmaskedFrameFromClient,
        ));
        assert!(e.is_protocol());
        assert_eq!(e.close_code(), Some(1002));
        let e = WebSocketError::from_tungstenite(tungstenite::Error::Capacity(
            CapacityError::MessageTooLong {
                size: 2,
                max_size: 1,
            },
        ));
        assert!(e.is_too_big());
        assert_eq!(e.close_code(), Some(1009));
        // permessage-deflate's refusals arrive as IO errors carrying the
        // codec's error.
        let deflate = |d: DeflateError| {
            WebSocketError::from_tungstenite(tungstenite::Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                d,
            )))
        };
        assert_eq!(deflate(DeflateError::Corrupt).close_code(), Some(1002));
        assert_eq!(
            deflate(DeflateError::MessageTooBig).close_code(),
            Some(1009)
        );
        assert_eq!(deflate(DeflateError::FrameTooBig).close_code(), Some(1009));
        let e = WebSocketError::from_tungstenite(tungstenite::Error::Io(
            std::io::ErrorKind::ConnectionReset.into(),
        ));
        assert!(e.is_io());
        assert_eq!(e.close_code(), None);
        let e = WebSocketError::from_tungstenite(tungstenite::Error::ConnectionClosed);
        assert!(e.is_closed());
        assert_eq!(e.close_code(), None);
        assert_eq!(e.to_string(), "websocket closed");
    }
}
