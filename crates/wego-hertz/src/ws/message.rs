//! Messages and close frames (RFC 6455 §5.5, §5.6, §7.4).
//!
//! Wrappers over tungstenite's types, so that its 0.x version stays out of
//! wego's API; conversions move the payload's `Bytes`, never copy it.

use std::fmt;

use bytes::Bytes;

/// A text payload: UTF-8 checked once, shared as `Bytes`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Utf8Bytes(tungstenite::Utf8Bytes);

impl Utf8Bytes {
    /// Text from a static string, with no copy.
    pub const fn from_static(s: &'static str) -> Self {
        Self(tungstenite::Utf8Bytes::from_static(s))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::ops::Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(s.into())
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;

    fn try_from(b: Bytes) -> Result<Self, Self::Error> {
        b.try_into().map(Self)
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(t: Utf8Bytes) -> Self {
        t.0.into()
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Close codes of RFC 6455 §7.4.1 (the IANA registry's first entries).
pub mod close_code {
    /// Normal closure: the purpose of the connection is fulfilled.
    pub const NORMAL: u16 = 1000;
    /// An endpoint is going away (a server shutting down).
    pub const AWAY: u16 = 1001;
    /// A protocol error: an unmasked client frame, a reserved opcode or
    /// bit, an oversized or fragmented control frame.
    pub const PROTOCOL: u16 = 1002;
    /// A message of a type the endpoint cannot accept.
    pub const UNSUPPORTED: u16 = 1003;
    /// A message whose data does not fit its type: text that is not UTF-8.
    pub const INVALID: u16 = 1007;
    /// A message that violates the endpoint's policy.
    pub const POLICY: u16 = 1008;
    /// A message too big to process.
    pub const SIZE: u16 = 1009;
    /// The client expected an extension the server did not negotiate.
    pub const EXTENSION: u16 = 1010;
    /// The server met an unexpected condition.
    pub const ERROR: u16 = 1011;
}

/// The code and reason of a close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code ([`close_code`]).
    pub code: u16,
    /// Why, at most 123 bytes of UTF-8 (the frame's 125 less the code).
    pub reason: Utf8Bytes,
}

/// A WebSocket message: a whole (reassembled) data message or a control
/// frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message, valid UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping; the pong is sent automatically.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame, maybe with a code and reason. Received, it is
    /// answered automatically; sent, it starts the closing handshake.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(t: impl Into<Utf8Bytes>) -> Self {
        Self::Text(t.into())
    }

    /// A binary message.
    pub fn binary(b: impl Into<Bytes>) -> Self {
        Self::Binary(b.into())
    }

    /// Whether this is a text or binary message.
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Text(_) | Self::Binary(_))
    }

    pub(crate) fn into_tungstenite(self) -> tungstenite::Message {
        use tungstenite::Message as T;
        match self {
            Self::Text(t) => T::Text(t.0),
            Self::Binary(b) => T::Binary(b),
            Self::Ping(b) => T::Ping(b),
            Self::Pong(b) => T::Pong(b),
            Self::Close(c) => T::Close(c.map(|c| tungstenite::protocol::CloseFrame {
                code: c.code.into(),
                reason: c.reason.0,
            })),
        }
    }

    /// `None` for a raw frame, which tungstenite only yields when asked
    /// to, and wego never asks.
    pub(crate) fn from_tungstenite(m: tungstenite::Message) -> Option<Self> {
        use tungstenite::Message as T;
        Some(match m {
            T::Text(t) => Self::Text(Utf8Bytes(t)),
            T::Binary(b) => Self::Binary(b),
            T::Ping(b) => Self::Ping(b),
            T::Pong(b) => Self::Pong(b),
            T::Close(c) => Self::Close(c.map(|c| CloseFrame {
                code: c.code.into(),
                reason: Utf8Bytes(c.reason),
            })),
            T::Frame(_) => return None,
        })
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Self::text(s)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Self::text(s)
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Self::Binary(b)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Self::Binary(b.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_tungstenite() {
        let all = [
            Message::text("héllo"),
            Message::binary(vec![0, 1, 2]),
            Message::Ping(Bytes::from_static(b"p")),
            Message::Pong(Bytes::new()),
            Message::Close(None),
            Message::Close(Some(CloseFrame {
                code: close_code::SIZE,
                reason: "too big".into(),
            })),
        ];
        for m in all {
            let back = Message::from_tungstenite(m.clone().into_tungstenite());
            assert_eq!(back, Some(m));
        }
    }

    #[test]
    fn text_rejects_invalid_utf8() {
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xff")).is_err());
        let t = Utf8Bytes::try_from(Bytes::from_static(b"ok")).unwrap();
        assert_eq!(t, "ok");
        assert_eq!(Bytes::from(t), Bytes::from_static(b"ok"));
    }
}
