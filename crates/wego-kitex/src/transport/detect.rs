//! First-bytes detection of framing and protocol.
//!
//! | first bytes | meaning |
//! |-------------|---------|
//! | `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` | HTTP/2 (gRPC), handed to the HTTP/2 handler |
//! | `[len:4] 10 00` ... `[len:4] 80 01` | TTHeader around Framed (the payload's own length equals the rest) |
//! | `[len:4] 10 00` | TTHeader |
//! | `[len:4] 0f ff` | THeader |
//! | `[len:4] 80 01` / `[len:4] 82` | Framed binary / compact |
//! | `[len:4] 90 01` | Framed Kitex Protobuf (frames go to the payload handler) |
//! | `80 01` / `82` | Buffered binary (strict) / compact |
//! | `[len:4] 00 00` | Framed binary, non-strict |
//! | `[len:4] [` | Framed TJSON (each call is answered `INVALID_PROTOCOL`) |
//! | `[namelen:4] name type` | Buffered binary, non-strict |
//!
//! A non-strict Buffered message and a Framed frame both start with a
//! 4-byte big-endian number, so the non-strict guess also asks that the
//! name read so far be an identifier (letters, digits, `_`, `.`, and `:`
//! for multiplexed names) and, for a short name, that a message type
//! follow it. A frame whose payload is no known protocol then reads as
//! [`Detection::Unknown`] and its connection closes at once, instead of
//! waiting for the rest of a "name" as long as the frame.

use super::Framing;
use crate::thrift::Protocol;

/// The first two bytes of a Kitex Protobuf message, as a big-endian word's
/// high half (the low half is the message type).
pub(crate) const KITEX_PROTOBUF_MAGIC: u32 = 0x9001_0000;
/// The bits of the first word [`KITEX_PROTOBUF_MAGIC`] covers.
pub(crate) const KITEX_PROTOBUF_MAGIC_MASK: u32 = 0xffff_0000;

/// Whether `payload` starts with the Kitex Protobuf magic.
pub(crate) fn is_kitex_protobuf(payload: &[u8]) -> bool {
    payload.len() >= 4
        && u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
            & KITEX_PROTOBUF_MAGIC_MASK
            == KITEX_PROTOBUF_MAGIC
}

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a connection say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detection {
    /// Too few bytes to tell.
    NeedMore,
    /// The HTTP/2 preface.
    Http2,
    /// Thrift (or a TTHeader payload) with this framing; the protocol is the
    /// envelope's (for TTHeader/THeader it is read per frame).
    Thrift(Framing, Protocol),
    /// Nothing wego serves.
    Unknown,
}

/// Most bytes read before a connection is declared unknown, but for a
/// TTHeader frame, whose header (up to 256 KiB) is read to see whether its
/// payload is framed again.
pub const SNIFF_LIMIT: usize = 64;

/// Detects the framing and protocol from the first bytes of a connection.
///
/// [`Detection::NeedMore`] is bounded: past [`SNIFF_LIMIT`] bytes (or, for
/// TTHeader, past the first frame's header and 6 payload bytes) the answer
/// is always decided.
pub fn detect(buf: &[u8]) -> Detection {
    match detect_prefix(buf) {
        Detection::NeedMore if buf.len() >= SNIFF_LIMIT && !is_ttheader(buf) => Detection::Unknown,
        d => d,
    }
}

fn is_ttheader(buf: &[u8]) -> bool {
    buf.get(4..6) == Some(&[0x10, 0x00])
}

fn detect_prefix(buf: &[u8]) -> Detection {
    if buf.is_empty() {
        return Detection::NeedMore;
    }
    if buf[0] == b'P' {
        let n = buf.len().min(HTTP2_PREFACE.len());
        return if buf[..n] != HTTP2_PREFACE[..n] {
            Detection::Unknown
        } else if n < HTTP2_PREFACE.len() {
            Detection::NeedMore
        } else {
            Detection::Http2
        };
    }
    if buf[0] == 0x80 {
        return match buf.get(1) {
            None => Detection::NeedMore,
            Some(1) => Detection::Thrift(Framing::Buffered, Protocol::Binary),
            Some(_) => Detection::Unknown,
        };
    }
    if buf[0] == 0x82 {
        return Detection::Thrift(Framing::Buffered, Protocol::Compact);
    }
    let Some(b) = buf.get(4..6) else {
        return Detection::NeedMore;
    };
    match (b[0], b[1]) {
        (0x10, 0x00) => ttheader(buf),
        (0x0f, 0xff) => Detection::Thrift(Framing::THeader, Protocol::Binary),
        (0x80, 0x01) => Detection::Thrift(Framing::Framed, Protocol::Binary),
        // Kitex Protobuf: same framing; the server passes each frame whose
        // payload starts with the Kitex Protobuf magic to its payload handler.
        (0x90, 0x01) => Detection::Thrift(Framing::Framed, Protocol::Binary),
        (0x82, _) => Detection::Thrift(Framing::Framed, Protocol::Compact),
        (0x00, 0x00) if buf[0] == 0 => Detection::Thrift(Framing::Framed, Protocol::Binary),
        // A JSON array: TJSONProtocol, which the connection driver answers
        // per frame with a TJSON `INVALID_PROTOCOL` exception.
        (b'[', _) => Detection::Thrift(Framing::Framed, Protocol::Binary),
        _ if buf[0] == 0 && buf[1] == 0 => non_strict(buf),
        _ => Detection::Unknown,
    }
}

/// TTHeader, or TTHeader around Framed when the first frame's payload
/// starts with a 4-byte length equal to the rest of it and an envelope.
fn ttheader(buf: &[u8]) -> Detection {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let total = 4 + be32(buf);
    let Some(hs) = buf.get(12..14) else {
        return Detection::NeedMore;
    };
    let payload_at = 14 + usize::from(u16::from_be_bytes([hs[0], hs[1]])) * 4;
    let plain = Detection::Thrift(Framing::TtHeader, Protocol::Binary);
    if payload_at + 6 > total {
        // No room for a framed payload (or a malformed frame the codec rejects).
        return plain;
    }
    let Some(p) = buf.get(payload_at..payload_at + 6) else {
        return Detection::NeedMore;
    };
    let envelope = (p[4] == 0x80 && p[5] == 0x01) || p[4] == 0x82;
    if envelope && be32(p) == total - payload_at - 4 {
        Detection::Thrift(Framing::TtHeaderFramed, Protocol::Binary)
    } else {
        plain
    }
}

/// How much of a non-strict name is checked before deciding.
const NAME_CHECK: usize = 32;

/// Buffered non-strict binary (`[namelen:4] name type:1 seqid:4`), judged
/// on the name's first [`NAME_CHECK`] bytes and, when the name is that
/// short, the message type after it.
fn non_strict(buf: &[u8]) -> Detection {
    let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if n == 0 {
        return Detection::Unknown;
    }
    let checked = n.min(NAME_CHECK);
    let name = &buf[4..buf.len().min(4 + checked)];
    let ident = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':');
    if !name.iter().all(ident) {
        return Detection::Unknown;
    }
    if name.len() < checked {
        return Detection::NeedMore;
    }
    if n <= NAME_CHECK {
        match buf.get(4 + n) {
            None => return Detection::NeedMore,
            Some(1..=4) => {}
            Some(_) => return Detection::Unknown,
        }
    }
    Detection::Thrift(Framing::Buffered, Protocol::Binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_every_framing() {
        let cases: &[(&[u8], Detection)] = &[
            (b"", Detection::NeedMore),
            (b"PRI * HT", Detection::NeedMore),
            (HTTP2_PREFACE, Detection::Http2),
            (b"GET / HTTP/1.1\r\n", Detection::Unknown),
            (&[0, 0, 0, 20, 0x10, 0], Detection::NeedMore),
            (
                &[
                    0, 0, 0, 20, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0x80, 1,
                ],
                Detection::NeedMore,
            ),
            (
                &[
                    0, 0, 0, 20, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0x80, 1, 0, 1, 0, 0,
                ],
                Detection::Thrift(Framing::TtHeader, Protocol::Binary),
            ),
            (
                &[
                    0, 0, 0, 22, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 0x80, 1,
                ],
                Detection::Thrift(Framing::TtHeaderFramed, Protocol::Binary),
            ),
            (
                &[
                    0, 0, 0, 22, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0x80, 1,
                ],
                Detection::Thrift(Framing::TtHeader, Protocol::Binary),
            ),
            // A header claiming more than the frame holds: the codec rejects it.
            (
                &[0, 0, 0, 10, 0x10, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff],
                Detection::Thrift(Framing::TtHeader, Protocol::Binary),
            ),
            (
                &[0, 0, 0, 20, 0x0f, 0xff],
                Detection::Thrift(Framing::THeader, Protocol::Binary),
            ),
            (
                &[0, 0, 0, 20, 0x80, 1],
                Detection::Thrift(Framing::Framed, Protocol::Binary),
            ),
            (
                &[0, 0, 0, 20, 0x82, 0x21],
                Detection::Thrift(Framing::Framed, Protocol::Compact),
            ),
            (
                &[0, 0, 0, 20, 0x90, 0x01],
                Detection::Thrift(Framing::Framed, Protocol::Binary),
            ),
            (
                &[0x80, 1, 0, 1],
                Detection::Thrift(Framing::Buffered, Protocol::Binary),
            ),
            (
                &[0x82, 0x21],
                Detection::Thrift(Framing::Buffered, Protocol::Compact),
            ),
            (&[0, 0, 0, 4, b'p', b'i'], Detection::NeedMore),
            (
                &[0, 0, 0, 4, b'p', b'i', b'n', b'g', 1],
                Detection::Thrift(Framing::Buffered, Protocol::Binary),
            ),
            (
                b"\0\0\0\x28Svc:a_very_long_method_name_beyond_the_check",
                Detection::Thrift(Framing::Buffered, Protocol::Binary),
            ),
            // A Framed frame of TJSON, of text, of a name-like payload with
            // no message type after it.
            (
                b"\0\0\0\x14[1,\"m\",1,0,{}]",
                Detection::Thrift(Framing::Framed, Protocol::Binary),
            ),
            (b"\0\0\0\x0bhello world", Detection::Unknown),
            (b"\0\0\0\x04ping\x09", Detection::Unknown),
            (b"\0\0\0\0ab", Detection::Unknown),
            (
                &[0, 0, 0, 20, 0, 0],
                Detection::Thrift(Framing::Framed, Protocol::Binary),
            ),
            (&[0, 0, 0], Detection::NeedMore),
            (&[0x16, 3, 1, 0, 0, 0], Detection::Unknown),
            (&[b'P'; 64], Detection::Unknown),
        ];
        for (bytes, want) in cases {
            assert_eq!(detect(bytes), *want, "{bytes:?}");
        }
    }

    #[test]
    fn a_ttheader_sniff_waits_for_the_header_and_no_longer() {
        // A 1 KiB header: undecided through it, decided 6 bytes after.
        let mut buf = vec![0, 0, 0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 1, 1, 0];
        buf.resize(14 + 1024 + 5, 0);
        assert_eq!(detect(&buf), Detection::NeedMore);
        buf.push(0);
        assert_eq!(
            detect(&buf),
            Detection::Thrift(Framing::TtHeader, Protocol::Binary)
        );
    }
}
