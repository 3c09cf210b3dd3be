//! The opening handshake (RFC 6455 §4), sans-IO: the server's checks of a
//! request, the client's checks of a `101`, and the key transform.
//!
//! Every field is bounded by the HTTP head limits of the server or client
//! that parsed it; nothing here allocates more than the fields it reads.

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};

use crate::response::{IntoResponse, Response, text};
use crate::upgrade::has_token;

/// The only protocol version of RFC 6455 (§4.1).
pub(crate) const VERSION: &str = "13";

/// Why a request or a response is not a valid WebSocket opening
/// handshake.
///
/// As a rejection it renders as [`status`](Self::status) with the
/// [`Display`](std::fmt::Display) text as a `text/plain` body; a 426 also
/// names what the server speaks (`Upgrade: websocket`, or
/// `Sec-WebSocket-Version: 13`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The request's method is not `GET` (405).
    #[error("a websocket handshake must be a GET request")]
    MethodNotGet,
    /// The request is not HTTP/1.1 (426: WebSocket over HTTP/2, RFC 8441,
    /// is not served).
    #[error("a websocket handshake needs HTTP/1.1")]
    HttpVersion,
    /// `Upgrade` does not list `websocket` (426).
    #[error("the upgrade header must list websocket")]
    UpgradeNotWebSocket,
    /// `Connection` does not list `upgrade` (400).
    #[error("the connection header must list upgrade")]
    ConnectionNotUpgrade,
    /// `Sec-WebSocket-Version` is missing or not `13` (426).
    #[error("sec-websocket-version must be 13")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing, repeated, or not 16 bytes in base64
    /// (400).
    #[error("sec-websocket-key must be 16 bytes in base64, sent once")]
    InvalidKey,
    /// The server offered no upgrade for this request: it has a body, or
    /// an earlier extractor took the connection (400).
    #[error("this request cannot switch protocols")]
    NotUpgradable,
    /// The `Origin` is not allowed (403).
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// The response is not `101 Switching Protocols` (a client check).
    #[error("the server answered {0} instead of switching protocols")]
    NotSwitching(StatusCode),
    /// `Sec-WebSocket-Accept` does not match the key sent (a client check).
    #[error("sec-websocket-accept does not match the key")]
    AcceptMismatch,
    /// The server chose a subprotocol the client did not offer, or chose
    /// none when the client requires one (a client check).
    #[error("the server chose a subprotocol that was not offered")]
    ProtocolMismatch,
    /// The server accepted an extension the client did not offer (a client
    /// check, RFC 6455 §4.1).
    #[error("the server accepted an extension that was not offered")]
    ExtensionNotOffered,
    /// The server's `Sec-WebSocket-Extensions` answer to a
    /// permessage-deflate offer is not one RFC 7692 allows (a client
    /// check).
    #[error("the server's permessage-deflate answer is not valid")]
    InvalidExtension,
}

impl HandshakeError {
    /// The status code a server answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotGet => StatusCode::METHOD_NOT_ALLOWED,
            Self::HttpVersion | Self::UpgradeNotWebSocket | Self::UnsupportedVersion => {
                StatusCode::UPGRADE_REQUIRED
            }
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::ConnectionNotUpgrade
            | Self::InvalidKey
            | Self::NotUpgradable
            | Self::NotSwitching(_)
            | Self::AcceptMismatch
            | Self::ProtocolMismatch
            | Self::ExtensionNotOffered
            | Self::InvalidExtension => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for HandshakeError {
    fn into_response(self) -> Response {
        let mut res = text(self.status(), self.to_string());
        let headers = res.headers_mut();
        match self {
            Self::MethodNotGet => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
            }
            // RFC 9110 §15.5.22: a 426 names the protocols to switch to.
            Self::HttpVersion | Self::UpgradeNotWebSocket => {
                headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            }
            // RFC 6455 §4.4: the versions the server speaks.
            Self::UnsupportedVersion => {
                headers.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static(VERSION),
                );
            }
            _ => {}
        }
        res
    }
}

/// What a valid opening request carries, checked by [`check_request`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientHandshake {
    /// The `Sec-WebSocket-Accept` value answering the request's key.
    pub accept: HeaderValue,
}

/// Checks an opening request (RFC 6455 §4.2.1): `GET` over HTTP/1.1,
/// `Upgrade` listing `websocket` and `Connection` listing `upgrade` (tokens
/// compared case-insensitively within comma-separated lists),
/// `Sec-WebSocket-Version: 13`, and one `Sec-WebSocket-Key` of 16 bytes in
/// base64.
///
/// ```
/// use http::{HeaderMap, Method, Version};
/// use wego_hertz::ws::check_request;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("upgrade", "websocket".parse().unwrap());
/// headers.insert("connection", "keep-alive, Upgrade".parse().unwrap());
/// headers.insert("sec-websocket-version", "13".parse().unwrap());
/// headers.insert("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap());
/// let ok = check_request(&Method::GET, Version::HTTP_11, &headers).unwrap();
/// // RFC 6455 §1.3's example.
/// assert_eq!(ok.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
///
/// # Errors
///
/// The first [`HandshakeError`] found, in the order above.
pub fn check_request(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<ClientHandshake, HandshakeError> {
    if method != Method::GET {
        return Err(HandshakeError::MethodNotGet);
    }
    if version != Version::HTTP_11 {
        return Err(HandshakeError::HttpVersion);
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(HandshakeError::UpgradeNotWebSocket);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(HandshakeError::ConnectionNotUpgrade);
    }
    let mut versions = headers.get_all(header::SEC_WEBSOCKET_VERSION).iter();
    match (versions.next(), versions.next()) {
        (Some(v), None) if v.as_bytes().trim_ascii() == VERSION.as_bytes() => {}
        _ => return Err(HandshakeError::UnsupportedVersion),
    }
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    let key = match (keys.next(), keys.next()) {
        (Some(k), None) if valid_key(k.as_bytes()) => k,
        _ => return Err(HandshakeError::InvalidKey),
    };
    Ok(ClientHandshake {
        accept: accept_key(key.as_bytes()),
    })
}

/// Whether `key` is 16 bytes in base64 (RFC 6455 §4.1: a 24-character
/// value).
fn valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|k| k.len() == 16)
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455
/// §4.2.2: base64 of SHA-1 over the key and the protocol's GUID).
pub fn accept_key(key: &[u8]) -> HeaderValue {
    let accept = tungstenite::handshake::derive_accept_key(key);
    // Base64 is always a valid header value.
    HeaderValue::from_str(&accept).expect("invariant: base64 is a valid header value")
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes in base64.
pub(crate) fn new_key() -> HeaderValue {
    let key = tungstenite::handshake::client::generate_key();
    HeaderValue::from_str(&key).expect("invariant: base64 is a valid header value")
}

/// The subprotocol to answer with: the first of `ours` (the server's order
/// of preference) that the client lists in `Sec-WebSocket-Protocol`.
pub(crate) fn select_protocol<'a>(headers: &HeaderMap, ours: &'a [Box<str>]) -> Option<&'a str> {
    ours.iter()
        .map(|p| &**p)
        .find(|p| listed(headers, header::SEC_WEBSOCKET_PROTOCOL, p))
}

/// Whether a comma-separated field lists `token`, case-sensitively as
/// subprotocol names compare (RFC 6455 §4.1).
fn listed(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim() == token))
    })
}

/// Checks a server's answer to an opening request with `key`, offering
/// `protocols` (RFC 6455 §4.1, the client's side): `101`, `Upgrade:
/// websocket`, `Connection: upgrade`, the matching
/// `Sec-WebSocket-Accept`, no extension (none is offered) and a
/// subprotocol among those offered, if any. Returns the subprotocol.
///
/// # Errors
///
/// The first [`HandshakeError`] found.
pub fn check_response(
    status: StatusCode,
    headers: &HeaderMap,
    key: &HeaderValue,
    protocols: &[Box<str>],
) -> Result<Option<String>, HandshakeError> {
    let protocol = check_response_head(status, headers, key, protocols)?;
    if headers.contains_key(header::SEC_WEBSOCKET_EXTENSIONS) {
        return Err(HandshakeError::ExtensionNotOffered);
    }
    Ok(protocol)
}

/// [`check_response`] without the extension check, which the caller does
/// against what it offered.
pub(crate) fn check_response_head(
    status: StatusCode,
    headers: &HeaderMap,
    key: &HeaderValue,
    protocols: &[Box<str>],
) -> Result<Option<String>, HandshakeError> {
    if status != StatusCode::SWITCHING_PROTOCOLS {
        return Err(HandshakeError::NotSwitching(status));
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(HandshakeError::UpgradeNotWebSocket);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(HandshakeError::ConnectionNotUpgrade);
    }
    let mut accepts = headers.get_all(header::SEC_WEBSOCKET_ACCEPT).iter();
    match (accepts.next(), accepts.next()) {
        (Some(a), None) if *a == accept_key(key.as_bytes()) => {}
        _ => return Err(HandshakeError::AcceptMismatch),
    }
    let mut chosen = headers.get_all(header::SEC_WEBSOCKET_PROTOCOL).iter();
    match (chosen.next(), chosen.next()) {
        (None, _) => Ok(None),
        (Some(p), None) => {
            let p = p
                .to_str()
                .map_err(|_| HandshakeError::ProtocolMismatch)?
                .trim();
            if protocols.iter().any(|o| **o == *p) {
                Ok(Some(p.to_owned()))
            } else {
                Err(HandshakeError::ProtocolMismatch)
            }
        }
        (Some(_), Some(_)) => Err(HandshakeError::ProtocolMismatch),
    }
}

/// Whether `origin` is in `allowed`, compared as ASCII case-insensitive
/// serialized origins (RFC 6454 §6.2).
pub(crate) fn origin_listed(origin: &str, allowed: &[Box<str>]) -> bool {
    allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        h
    }

    fn check(h: &HeaderMap) -> Result<ClientHandshake, HandshakeError> {
        check_request(&Method::GET, Version::HTTP_11, h)
    }

    #[test]
    fn accepts_the_rfc_example_with_the_rfc_accept_value() {
        let ok = check(&valid()).unwrap();
        assert_eq!(ok.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn tokens_match_case_insensitively_within_lists() {
        let mut h = valid();
        h.insert(
            header::UPGRADE,
            HeaderValue::from_static("foo/1, WebSocket"),
        );
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        h.append(
            header::CONNECTION,
            HeaderValue::from_static(" x , UPGRADE "),
        );
        check(&h).unwrap();
    }

    #[test]
    fn rejects_other_methods_and_versions() {
        let e = check_request(&Method::POST, Version::HTTP_11, &valid()).unwrap_err();
        assert_eq!(e, HandshakeError::MethodNotGet);
        assert_eq!(e.status(), StatusCode::METHOD_NOT_ALLOWED);
        let e = check_request(&Method::GET, Version::HTTP_10, &valid()).unwrap_err();
        assert_eq!(e, HandshakeError::HttpVersion);
        let e = check_request(&Method::GET, Version::HTTP_2, &valid()).unwrap_err();
        assert_eq!(e.status(), StatusCode::UPGRADE_REQUIRED);
    }

    #[test]
    fn rejects_missing_upgrade_and_connection_tokens() {
        let mut h = valid();
        h.insert(header::UPGRADE, HeaderValue::from_static("websockets"));
        assert_eq!(check(&h).unwrap_err(), HandshakeError::UpgradeNotWebSocket);
        let mut h = valid();
        h.remove(header::UPGRADE);
        assert_eq!(
            check(&h).unwrap_err().status(),
            StatusCode::UPGRADE_REQUIRED
        );
        let mut h = valid();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrades"));
        assert_eq!(check(&h).unwrap_err(), HandshakeError::ConnectionNotUpgrade);
    }

    #[test]
    fn rejects_other_versions_with_426_naming_13() {
        for v in ["8", "14", "13, 8", ""] {
            let mut h = valid();
            h.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_str(v).unwrap(),
            );
            let e = check(&h).unwrap_err();
            assert_eq!(e, HandshakeError::UnsupportedVersion, "{v:?}");
            let res = e.into_response();
            assert_eq!(res.status(), StatusCode::UPGRADE_REQUIRED);
            assert_eq!(res.headers()[header::SEC_WEBSOCKET_VERSION], "13");
        }
        let mut h = valid();
        h.append(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        assert_eq!(check(&h).unwrap_err(), HandshakeError::UnsupportedVersion);
    }

    #[test]
    fn rejects_bad_keys() {
        // 15 and 17 bytes, not base64, padding wrong, empty, twice.
        let bad = [
            "AAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "!!!!!!!!!!!!!!!!!!!!!!==",
            "AAAAAAAAAAAAAAAAAAAAAA=A",
            "",
        ];
        for k in bad {
            let mut h = valid();
            h.insert(header::SEC_WEBSOCKET_KEY, HeaderValue::from_str(k).unwrap());
            assert_eq!(check(&h).unwrap_err(), HandshakeError::InvalidKey, "{k:?}");
        }
        let mut h = valid();
        h.append(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        assert_eq!(check(&h).unwrap_err(), HandshakeError::InvalidKey);
        let mut h = valid();
        h.remove(header::SEC_WEBSOCKET_KEY);
        assert_eq!(check(&h).unwrap_err().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn selects_the_servers_first_protocol_the_client_lists() {
        let mut h = valid();
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("chat, superchat"),
        );
        let ours: Vec<Box<str>> = vec!["superchat".into(), "chat".into()];
        assert_eq!(select_protocol(&h, &ours), Some("superchat"));
        let upper: Vec<Box<str>> = vec!["CHAT".into()];
        assert_eq!(
            select_protocol(&h, &upper),
            None,
            "names are case-sensitive"
        );
        assert_eq!(select_protocol(&valid(), &ours), None);
    }

    #[test]
    fn client_checks_the_servers_answer() {
        let key = HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ==");
        let mut h = HeaderMap::new();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_static("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        );
        let ours: Vec<Box<str>> = vec!["chat".into()];
        assert_eq!(
            check_response(StatusCode::SWITCHING_PROTOCOLS, &h, &key, &ours),
            Ok(None)
        );
        assert_eq!(
            check_response(StatusCode::OK, &h, &key, &ours),
            Err(HandshakeError::NotSwitching(StatusCode::OK))
        );
        let other = HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAA==");
        assert_eq!(
            check_response(StatusCode::SWITCHING_PROTOCOLS, &h, &other, &ours),
            Err(HandshakeError::AcceptMismatch)
        );
        let mut p = h.clone();
        p.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("chat"),
        );
        assert_eq!(
            check_response(StatusCode::SWITCHING_PROTOCOLS, &p, &key, &ours),
            Ok(Some("chat".to_owned()))
        );
        p.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("mqtt"),
        );
        assert_eq!(
            check_response(StatusCode::SWITCHING_PROTOCOLS, &p, &key, &ours),
            Err(HandshakeError::ProtocolMismatch)
        );
        let mut x = h.clone();
        x.insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_static("permessage-deflate"),
        );
        assert_eq!(
            check_response(StatusCode::SWITCHING_PROTOCOLS, &x, &key, &ours),
            Err(HandshakeError::ExtensionNotOffered)
        );
    }

    #[test]
    fn origins_compare_case_insensitively() {
        let allowed: Vec<Box<str>> = vec!["https://Example.com".into()];
        assert!(origin_listed("https://example.COM", &allowed));
        assert!(!origin_listed("https://example.com:8443", &allowed));
        assert!(!origin_listed("null", &allowed));
    }
}
