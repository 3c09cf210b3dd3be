//! What the HTTP/2 whole-connection targets check in a server's output:
//! that it is a sequence of whole frames (RFC 9113 §4.1) that a client
//! can read, starting with the server's SETTINGS.

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Checks `out`, the bytes a server wrote after the client's preface:
/// whole frames only, the first a SETTINGS frame that is not an ack, no
/// frame larger than the 16,384 bytes a client allows unless it said
/// otherwise (`max_frame`), control frames on stream 0 with their fixed
/// lengths, DATA and HEADERS on a client-opened (odd) stream, and nothing
/// after a GOAWAY but other GOAWAYs.
pub fn check(out: &[u8], max_frame: usize) {
    let mut rest = out;
    let mut first = true;
    let mut gone = false;
    while !rest.is_empty() {
        let Some((head, after)) = rest.split_first_chunk::<9>() else {
            panic!("a frame header cut short: {rest:?}");
        };
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        assert!(
            len <= max_frame,
            "a frame of {len} bytes, over the client's {max_frame}"
        );
        assert!(
            after.len() >= len,
            "a frame cut short: type {kind}, {len} bytes announced, {} sent",
            after.len()
        );
        let payload = &after[..len];
        if first {
            assert!(
                kind == 0x4 && flags & 0x1 == 0,
                "the server's first frame is type {kind} flags {flags}, not SETTINGS"
            );
            first = false;
        }
        assert!(!gone || kind == 0x7, "a frame of type {kind} after GOAWAY");
        match kind {
            // DATA, HEADERS, CONTINUATION: on a stream the client opened
            // (the server pushes nothing).
            0x0 | 0x1 | 0x9 => {
                assert!(stream % 2 == 1, "a frame of type {kind} on stream {stream}");
            }
            // RST_STREAM: on any stream but 0 (a server may reset a stream
            // a client named wrongly), four bytes.
            0x3 => {
                assert_ne!(stream, 0, "RST_STREAM on stream 0");
                assert_eq!(len, 4, "RST_STREAM of {len} bytes");
            }
            // SETTINGS: stream 0, six bytes a setting, an ack empty.
            0x4 => {
                assert_eq!(stream, 0, "SETTINGS on stream {stream}");
                assert!(len % 6 == 0, "SETTINGS of {len} bytes");
                assert!(
                    flags & 0x1 == 0 || len == 0,
                    "a SETTINGS ack with a payload"
                );
            }
            // PING: stream 0, eight bytes.
            0x6 => {
                assert_eq!(stream, 0, "PING on stream {stream}");
                assert_eq!(len, 8, "PING of {len} bytes");
            }
            // GOAWAY: stream 0, a last stream id and a code at least.
            0x7 => {
                assert_eq!(stream, 0, "GOAWAY on stream {stream}");
                assert!(len >= 8, "GOAWAY of {len} bytes");
                gone = true;
            }
            // WINDOW_UPDATE: four bytes, an increment of at least one.
            0x8 => {
                assert_eq!(len, 4, "WINDOW_UPDATE of {len} bytes");
                let inc = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                    & 0x7fff_ffff;
                assert!(inc > 0, "WINDOW_UPDATE of 0 on stream {stream}");
            }
            // PRIORITY and PUSH_PROMISE are never sent by these servers.
            other => panic!("the server sent a frame of type {other}"),
        }
        rest = &after[len..];
    }
}
