//! Telling a TLS client from a plaintext one by its first bytes (sans-IO).

/// The TLS record content type of a handshake record (RFC 8446 §5.1).
const HANDSHAKE: u8 = 0x16;

/// Whether a connection's first bytes start a TLS handshake.
///
/// Every TLS client opens with a handshake record: content type `0x16`,
/// then a legacy version whose major byte is `3` (RFC 8446 §5.1, the same
/// in TLS 1.0 to 1.3). `prefix` is what the connection has sent so far,
/// peeked, not consumed:
///
/// - `None`: nothing to judge yet (empty), read more;
/// - `Some(true)`: a TLS handshake record (one byte `0x16` is taken as
///   TLS; a second byte confirms the version);
/// - `Some(false)`: anything else: HTTP/1 (`G`, `P`...), the HTTP/2
///   preface (`P`), a Thrift or TTHeader frame.
///
/// ```
/// use wego_netpoll::tls::looks_like_tls;
///
/// assert_eq!(looks_like_tls(&[0x16, 0x03, 0x01, 0x02, 0x00]), Some(true));
/// assert_eq!(looks_like_tls(b"GET / HTTP/1.1\r\n"), Some(false));
/// assert_eq!(looks_like_tls(b""), None);
/// ```
pub fn looks_like_tls(prefix: &[u8]) -> Option<bool> {
    match prefix {
        [] => None,
        [first] => Some(*first == HANDSHAKE),
        [first, major, ..] => Some(*first == HANDSHAKE && *major == 0x03),
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_tls;

    #[test]
    fn a_client_hello_record_is_tls() {
        // TLS 1.2/1.3 ClientHello records carry legacy version 3.1 in the
        // record header; older ones 3.0 to 3.3.
        for minor in 0..=4 {
            assert_eq!(looks_like_tls(&[0x16, 0x03, minor, 0x00, 0x2f]), Some(true));
        }
        assert_eq!(looks_like_tls(&[0x16]), Some(true));
    }

    #[test]
    fn plaintext_protocols_are_not_tls() {
        for prefix in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            &[0x80, 0x01, 0x00, 0x01],       // Thrift binary, strict
            &[0x00, 0x00, 0x00, 0x10, 0x0f], // a framed length, TTHeader
            &[0x15, 0x03, 0x03],             // a TLS alert record, not a hello
            &[0x16, 0x02],                   // 0x16 but no TLS version
        ] {
            assert_eq!(looks_like_tls(prefix), Some(false), "{prefix:?}");
        }
    }

    #[test]
    fn nothing_read_yet_is_undecided() {
        assert_eq!(looks_like_tls(&[]), None);
    }
}
