//! The client side: the opening handshake over wego's HTTP client, then
//! the [`WebSocket`] on the connection its `101` hands back.

use http::{HeaderName, HeaderValue, Request, Uri, header};

use super::deflate::{PerMessageDeflate, Transport, negotiate};
use super::handshake::{self, HandshakeError, VERSION};
use super::socket::{Limits, WebSocket};
use crate::client::{self, Client};
use crate::{Body, Error};

/// Why a client could not open a WebSocket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URI is not `ws://` or `wss://` with a host.
    #[error("invalid websocket uri: {0}")]
    InvalidUri(&'static str),
    /// The HTTP exchange failed (connecting, a timeout, a malformed
    /// response, or taking the connection after the `101`).
    #[error("the websocket handshake request failed")]
    Http(#[source] Error),
    /// The server's answer is not a valid handshake.
    #[error("the server refused the websocket handshake")]
    Handshake(#[source] HandshakeError),
}

/// Opens a WebSocket to `uri` (`ws://` or `wss://`) through `client`, with
/// no subprotocol and the default limits; see [`Connector`] for more.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use wego_hertz::Client;
/// use wego_hertz::ws::{self, Message};
///
/// let client = Client::builder().build()?;
/// let mut socket = ws::connect(&client, "ws://127.0.0.1:8080/ws").await?;
/// socket.send(Message::text("hello")).await?;
/// let echoed = socket.recv().await;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// A [`ConnectError`].
pub async fn connect(client: &Client, uri: &str) -> Result<WebSocket, ConnectError> {
    Connector::new(uri).connect(client).await
}

/// The options of a client's opening handshake: subprotocols, extra
/// request headers (`Origin`, authorization), and size limits.
#[derive(Debug, Clone)]
pub struct Connector {
    uri: String,
    protocols: Vec<Box<str>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    limits: Limits,
    deflate: Option<PerMessageDeflate>,
}

impl Connector {
    /// A handshake with `uri`.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            protocols: Vec::new(),
            headers: Vec::new(),
            limits: Limits::default(),
            deflate: None,
        }
    }

    /// Offers these subprotocols, most preferred first; the server must
    /// choose one of them or none.
    pub fn with_protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Box<str>>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a request header (`Origin`, `Authorization`, a cookie).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The largest message accepted from the server (16 MiB by default).
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.limits.max_message = bytes;
        self
    }

    /// The largest frame payload accepted from the server (16 MiB by
    /// default).
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.limits.max_frame = bytes;
        self
    }

    /// Offers permessage-deflate (RFC 7692); when the server agrees, data
    /// messages are compressed both ways
    /// ([`WebSocket::is_compressed`]). Off by default.
    pub fn with_deflate(mut self, config: PerMessageDeflate) -> Self {
        self.deflate = Some(config);
        self
    }

    /// Sends the handshake through `client`, checks the `101` (accept key,
    /// subprotocol, the extension answer) and returns the socket.
    ///
    /// The handshake always goes over HTTP/1.1: for `wss://` the TLS
    /// connection offers only `http/1.1` by ALPN, so servers that also
    /// offer `h2` answer it (RFC 8441's WebSocket over HTTP/2 is not
    /// implemented).
    ///
    /// # Errors
    ///
    /// A [`ConnectError`].
    pub async fn connect(self, client: &Client) -> Result<WebSocket, ConnectError> {
        let uri = http_uri(&self.uri)?;
        let key = handshake::new_key();
        let mut req = Request::get(uri)
            .body(Body::empty())
            .map_err(|_| ConnectError::InvalidUri("the uri does not parse"))?;
        let headers = req.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static(VERSION),
        );
        headers.insert(header::SEC_WEBSOCKET_KEY, key.clone());
        if !self.protocols.is_empty() {
            let list = self.protocols.join(", ");
            let value = HeaderValue::from_str(&list)
                .map_err(|_| ConnectError::InvalidUri("a subprotocol is not a header value"))?;
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
        }
        if let Some(config) = &self.deflate {
            headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, negotiate::offer(config));
        }
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        let mut resp = client.request(req).await.map_err(ConnectError::Http)?;
        let protocol =
            handshake::check_response_head(resp.status(), resp.headers(), &key, &self.protocols)
                .map_err(ConnectError::Handshake)?;
        let agreed = match &self.deflate {
            Some(config) => negotiate::check_answer(resp.headers(), config)
                .map_err(|_| ConnectError::Handshake(HandshakeError::InvalidExtension))?
                .map(|agreed| (*config, agreed)),
            None if resp
                .headers()
                .contains_key(header::SEC_WEBSOCKET_EXTENSIONS) =>
            {
                return Err(ConnectError::Handshake(HandshakeError::ExtensionNotOffered));
            }
            None => None,
        };
        let io = client::upgrade::on(&mut resp)
            .await
            .map_err(ConnectError::Http)?;
        let limits = self.limits;
        let io = match agreed {
            Some((config, agreed)) => Transport::deflate(
                io,
                false,
                &config,
                agreed,
                limits.max_frame,
                limits.max_message,
            ),
            None => Transport::plain(io),
        };
        Ok(WebSocket::from_upgraded(io, false, limits, protocol).await)
    }
}

/// The `http`/`https` URI of a `ws`/`wss` one.
fn http_uri(uri: &str) -> Result<Uri, ConnectError> {
    let rest = if let Some(rest) = uri.strip_prefix("ws://") {
        format!("http://{rest}")
    } else if let Some(rest) = uri.strip_prefix("wss://") {
        format!("https://{rest}")
    } else {
        return Err(ConnectError::InvalidUri("the scheme must be ws or wss"));
    };
    let uri: Uri = rest
        .parse()
        .map_err(|_| ConnectError::InvalidUri("the uri does not parse"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(ConnectError::InvalidUri("the uri has no host"));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_uris_become_http_uris() {
        assert_eq!(
            http_uri("ws://h:1/a?b").unwrap().to_string(),
            "http://h:1/a?b"
        );
        assert_eq!(http_uri("wss://h/").unwrap().scheme_str(), Some("https"));
        for bad in ["http://h/", "ws://", "ws:// x", "h/ws"] {
            assert!(
                matches!(http_uri(bad), Err(ConnectError::InvalidUri(_))),
                "{bad}"
            );
        }
    }
}
