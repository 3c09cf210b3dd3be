//! `Upgrade: h2c` (RFC 7540 §3.2; RFC 9113 deprecates it, clients such as
//! curl still send it).
//!
//! A request asking for it is answered `101 Switching Protocols`, then
//! served as stream 1 of the HTTP/2 connection that follows. h2 has no way
//! to start a server connection with stream 1 open, so the request is
//! encoded as the HEADERS frame the client would have sent on stream 1
//! (HPACK literals that leave the dynamic table alone) and placed after
//! the client's first SETTINGS frame (`rewind.rs`); h2 then answers it
//! like any other stream.
//!
//! Only a request with no body upgrades: a body would have to be read on
//! HTTP/1.1 before the switch and replayed into stream 1, and clients that
//! upload with `Upgrade: h2c` (curl does not; it upgrades only bodiless
//! requests) get the same answer on HTTP/1.1. The `HTTP2-Settings` header
//! must be present once and decode (base64url) to whole settings, else
//! the request is served on HTTP/1.1; its values are not applied on their
//! own, since the client repeats them in the SETTINGS frame that must
//! follow its preface, which h2 reads before stream 1.

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Request, Version, header};

use crate::codec::{BodyFraming, HeadInfo};
use crate::upgrade::has_token;

/// The answer to an upgrading request.
pub(crate) const SWITCHING: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

/// The largest frame payload placed for stream 1: the protocol's default
/// `SETTINGS_MAX_FRAME_SIZE`, which every server accepts.
const MAX_FRAME: usize = 16 * 1024;
/// HEADERS frame type and flags (RFC 9113 §6.2).
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// Fields that do not carry over to HTTP/2 (RFC 9113 §8.2.2), and those of
/// the upgrade itself.
const DROPPED: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
    "host",
];

/// Whether `req` (parsed as `info` says) asks to upgrade to h2c and may: an
/// HTTP/1.1 request with no body, `Upgrade: h2c`, `upgrade` among its
/// `Connection` options, one valid `HTTP2-Settings`, and nothing pipelined
/// after it (`rest`).
pub(crate) fn wants_h2c<B>(req: &Request<B>, info: &HeadInfo, rest: &[u8]) -> bool {
    let headers = req.headers();
    info.upgrade
        && req.version() == Version::HTTP_11
        && info.framing == BodyFraming::Empty
        && rest.is_empty()
        && has_token(headers, header::UPGRADE, "h2c")
        && has_token(headers, header::CONNECTION, "upgrade")
        && valid_settings(headers)
}

/// Whether `HTTP2-Settings` appears once and holds whole settings
/// (RFC 7540 §3.2.1: a SETTINGS payload in base64url).
fn valid_settings(headers: &HeaderMap) -> bool {
    let mut all = headers.get_all("http2-settings").iter();
    let (Some(value), None) = (all.next(), all.next()) else {
        return false;
    };
    let text = value.as_bytes();
    let trimmed = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .is_ok_and(|payload| payload.len() % 6 == 0)
}

/// The frames of stream 1 carrying the upgrading request: HEADERS with
/// END_STREAM, and CONTINUATION frames when the block is larger than a
/// frame.
pub(crate) fn stream_one(parts: &http::request::Parts) -> Bytes {
    let mut block = BytesMut::new();
    literal(&mut block, b":method", parts.method.as_str().as_bytes());
    literal(&mut block, b":scheme", b"http");
    if let Some(host) = parts.headers.get(header::HOST) {
        literal(&mut block, b":authority", host.as_bytes());
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    literal(&mut block, b":path", path.as_bytes());
    for (name, value) in &parts.headers {
        let name = name.as_str();
        if DROPPED.contains(&name) || (name == "te" && value != "trailers") {
            continue;
        }
        literal(&mut block, name.as_bytes(), value.as_bytes());
    }
    let mut frames = BytesMut::with_capacity(block.len() + 9 * (block.len() / MAX_FRAME + 1));
    let mut chunks = block.chunks(MAX_FRAME).peekable();
    let mut kind = HEADERS;
    let mut flags = END_STREAM;
    // An empty block still needs its HEADERS frame.
    let empty: &[u8] = &[];
    if chunks.peek().is_none() {
        frame(&mut frames, kind, flags | END_HEADERS, empty);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        frame(
            &mut frames,
            kind,
            flags | if last { END_HEADERS } else { 0 },
            chunk,
        );
        kind = CONTINUATION;
        flags = 0;
    }
    frames.freeze()
}

/// Appends one frame of stream 1 (RFC 9113 §4.1).
fn frame(dst: &mut BytesMut, kind: u8, flags: u8, payload: &[u8]) {
    let len = payload.len();
    // Below 2^24 by construction (at most `MAX_FRAME`).
    dst.put_uint(len as u64, 3);
    dst.put_u8(kind);
    dst.put_u8(flags);
    dst.put_u32(1);
    dst.put_slice(payload);
}

/// Appends a literal field without indexing, with a literal name
/// (RFC 7541 §6.2.2), no Huffman coding.
fn literal(dst: &mut BytesMut, name: &[u8], value: &[u8]) {
    dst.put_u8(0);
    string(dst, name);
    string(dst, value);
}

/// Appends a string literal (RFC 7541 §5.2) with H = 0.
fn string(dst: &mut BytesMut, s: &[u8]) {
    integer(dst, 7, s.len());
    dst.put_slice(s);
}

/// Appends an integer with an `prefix`-bit prefix (RFC 7541 §5.1), the
/// prefix's high bits zero.
fn integer(dst: &mut BytesMut, prefix: u8, value: usize) {
    let max = (1usize << prefix) - 1;
    if value < max {
        // Below 2^7 here.
        dst.put_u8(value as u8);
        return;
    }
    dst.put_u8(max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        dst.put_u8((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    dst.put_u8(rest as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_rfc_7541_c_1() {
        // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with a 5-bit prefix.
        let mut b = BytesMut::new();
        integer(&mut b, 5, 10);
        assert_eq!(&b[..], &[10]);
        let mut b = BytesMut::new();
        integer(&mut b, 5, 1337);
        assert_eq!(&b[..], &[31, 154, 10]);
    }

    #[test]
    fn a_large_request_spans_continuation_frames() {
        let req = Request::get("/x?y=1")
            .header("host", "example.com")
            .header("x-big", "v".repeat(40_000))
            .header("connection", "Upgrade, HTTP2-Settings")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let frames = stream_one(&parts);
        // HEADERS with END_STREAM but not END_HEADERS, on stream 1.
        assert_eq!(frames[3], HEADERS);
        assert_eq!(frames[4], END_STREAM);
        assert_eq!(&frames[5..9], &[0, 0, 0, 1]);
        let mut at = 0;
        let mut kinds = Vec::new();
        while at < frames.len() {
            let len = usize::from(frames[at]) << 16
                | usize::from(frames[at + 1]) << 8
                | usize::from(frames[at + 2]);
            assert!(len <= MAX_FRAME);
            kinds.push((frames[at + 3], frames[at + 4]));
            at += 9 + len;
        }
        assert_eq!(at, frames.len());
        assert_eq!(kinds.len(), 3);
        assert_eq!(kinds[2], (CONTINUATION, END_HEADERS));
        assert!(!frames.windows(10).any(|w| w == b"connection"));
    }

    #[test]
    fn settings_must_be_one_whole_base64url_payload() {
        let with = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("http2-settings", v.parse().unwrap());
            }
            valid_settings(&h)
        };
        // curl's: SETTINGS_MAX_CONCURRENT_STREAMS 100, INITIAL_WINDOW_SIZE.
        assert!(with(&["AAMAAABkAAQAoAAAAAIAAAAA"]));
        assert!(with(&[""]));
        assert!(!with(&[]));
        assert!(!with(&["AAMAAABk", "AAMAAABk"]));
        assert!(!with(&["AAMAAA"]));
        assert!(!with(&["not base64!"]));
    }
}
