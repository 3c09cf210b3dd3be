//! permessage-deflate (RFC 7692): negotiation in the opening handshake
//! and compression of data messages.
//!
//! tungstenite knows no extension, so compression sits under it, on the
//! byte stream: [`Transport`] inflates the peer's compressed frames into
//! plain ones before tungstenite reads them, and compresses the data
//! frames tungstenite writes. Frames it does not rewrite pass through
//! unchanged, so tungstenite's checks (reserved bits, masking, opcodes,
//! UTF-8, sizes) still fail a connection that breaks the protocol.

mod frames;
mod io;
pub(crate) mod negotiate;

pub(crate) use io::Transport;

/// permessage-deflate settings for a server route
/// ([`WebSocketUpgrade::with_deflate`](super::WebSocketUpgrade::with_deflate))
/// or a client ([`Connector::with_deflate`](super::Connector::with_deflate)).
///
/// The defaults: compression level 1 (fastest; text such as JSON shrinks
/// most of the way there at a fraction of level 6's CPU), and the
/// compressor keeps its window between messages (context takeover), so
/// repeated field names compress across messages at the cost of about
/// 300 KiB of compressor state per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMessageDeflate {
    pub(crate) level: u32,
    pub(crate) no_context_takeover: bool,
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        Self {
            level: 1,
            no_context_takeover: false,
        }
    }
}

impl PerMessageDeflate {
    /// The compression level, 0 (store) to 9 (smallest); larger values
    /// mean 9.
    pub fn with_level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }

    /// Resets this side's compressor after every message
    /// (`server_no_context_takeover` on a server,
    /// `client_no_context_takeover` on a client): less compression for
    /// messages that repeat each other, and no window kept between them.
    pub fn with_no_context_takeover(mut self, reset: bool) -> Self {
        self.no_context_takeover = reset;
        self
    }
}

/// Why a compressed message was refused; the connection is failed with
/// [`close_code`](DeflateError::close_code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DeflateError {
    /// A frame's payload is over the frame limit (1009).
    #[error("a websocket frame is over the size limit")]
    FrameTooBig,
    /// A compressed message inflates past the message limit (1009).
    #[error("a compressed websocket message inflates past the size limit")]
    MessageTooBig,
    /// A compressed message is not valid DEFLATE data (1002).
    #[error("a compressed websocket message is not valid deflate data")]
    Corrupt,
}

impl DeflateError {
    /// Whether the error is a size limit (1009) rather than bad data
    /// (1002).
    pub(crate) fn is_too_big(self) -> bool {
        matches!(self, Self::FrameTooBig | Self::MessageTooBig)
    }
}

/// The `ws_deflate` fuzz target's entry: `data` as a peer's frame stream
/// (cut at `split`, read by a server and by a client) decodes or fails
/// with an error, and `data` sent as a compressed message comes back
/// unchanged. Panics only if that round trip breaks.
#[doc(hidden)]
pub fn fuzz_frames(data: &[u8], split: usize) {
    frames::fuzz(data, split);
}

/// The `ws_deflate` fuzz target's second entry: an extension list in a
/// `Sec-WebSocket-Extensions` field goes through the server's choice and
/// the client's check without a panic, and an accepted offer's answer is
/// one the client accepts.
#[doc(hidden)]
pub fn fuzz_negotiation(field: &[u8]) {
    let Ok(value) = http::HeaderValue::from_bytes(field) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::SEC_WEBSOCKET_EXTENSIONS, value);
    let config = PerMessageDeflate::default();
    let _ = negotiate::check_answer(&headers, &config);
    if let Some((answer, _)) = negotiate::choose_offer(&headers, &config) {
        let mut back = http::HeaderMap::new();
        back.insert(http::header::SEC_WEBSOCKET_EXTENSIONS, answer);
        assert!(
            negotiate::check_answer(&back, &config).is_ok(),
            "a server's answer is one a client accepts"
        );
    }
}
