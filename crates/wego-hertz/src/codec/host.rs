//! The `Host` field's grammar (RFC 9112 §3.2, RFC 3986 §3.2.2–3.2.3):
//!
//! ```text
//! Host        = uri-host [ ":" port ]
//! uri-host    = IP-literal / IPv4address / reg-name
//! IP-literal  = "[" ( IPv6address / IPvFuture ) "]"
//! IPvFuture   = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
//! reg-name    = *( unreserved / pct-encoded / sub-delims )
//! port        = *DIGIT
//! ```
//!
//! An IPv4 address is a reg-name as far as the grammar goes, so it needs no
//! rule of its own. An empty value is valid: RFC 9110 §7.2 has clients send
//! one when the target has no authority.

/// Whether `value` matches `uri-host [":" port]`.
pub(crate) fn is_valid_host(value: &[u8]) -> bool {
    if let Some(rest) = value.strip_prefix(b"[") {
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        return is_ip_literal(&rest[..close]) && is_port(&rest[close + 1..]);
    }
    // A reg-name: one table look-up per byte in a tight scan (this runs on
    // every request), then the rarer bytes one by one.
    let mut i = 0;
    loop {
        i += value[i..]
            .iter()
            .position(|&b| !REG_NAME[usize::from(b)])
            .unwrap_or(value.len() - i);
        match value.get(i) {
            None => return true,
            // pct-encoded = "%" HEXDIG HEXDIG
            Some(b'%')
                if value
                    .get(i + 1..i + 3)
                    .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) =>
            {
                i += 3;
            }
            // A reg-name holds no ':', so the first one starts the port.
            Some(b':') => return is_port(&value[i..]),
            Some(_) => return false,
        }
    }
}

/// Empty, or `":" *DIGIT`.
fn is_port(rest: &[u8]) -> bool {
    match rest.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// The bytes a reg-name holds besides pct-encoded ones: unreserved and
/// sub-delims.
static REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_unreserved(b as u8) || is_sub_delim(b as u8);
        b += 1;
    }
    table
};

/// RFC 3986 §2.3.
const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §2.2.
const fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// The inside of `[...]`: an IPv6 address or IPvFuture.
fn is_ip_literal(inner: &[u8]) -> bool {
    if let Some(future) = inner
        .strip_prefix(b"v")
        .or_else(|| inner.strip_prefix(b"V"))
    {
        let Some(dot) = future.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, rest) = (&future[..dot], &future[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !rest.is_empty()
            && rest
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    // RFC 3986's IPv6address is the textual form std parses (no zone id,
    // which RFC 3986 does not allow either).
    std::str::from_utf8(inner).is_ok_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::is_valid_host;

    #[test]
    fn accepts_every_uri_host_form() {
        for ok in [
            "",
            "example.com",
            "example.com:8080",
            "example.com:",
            "localhost:1",
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "[2001:db8::ff00:42:8329]",
            "[::ffff:192.0.2.1]:443",
            "[v1.fe80::a+en1]",
            "xn--bcher-kva.example",
            "a_b-c~d.e",
            "ex%41mple.com",
            "!$&'()*+,;=",
        ] {
            assert!(is_valid_host(ok.as_bytes()), "{ok:?} rejected");
        }
    }

    #[test]
    fn rejects_values_that_are_not_uri_host() {
        for bad in [
            "exa mple.com",
            "a/b",
            "[::1",
            "::1",
            "[::1]x",
            "[::1]:x",
            "[]",
            "[not-an-ip]",
            "[v.x]",
            "[v1.]",
            "[::1%25eth0]",
            "example.com:80:80",
            "example.com:8o",
            "user@example.com",
            "a\\b",
            "a?b",
            "a#b",
            "%4",
            "%zz",
            "a\tb",
            "é.example",
            "a\"b",
            "<a>",
        ] {
            assert!(!is_valid_host(bad.as_bytes()), "{bad:?} accepted");
        }
    }
}
