//! The header rewrites of a hop: hop-by-hop fields removed in both
//! directions (RFC 9110 §7.6.1), and the forwarding fields a proxy adds
//! (`X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host` and
//! RFC 7239's `Forwarded`).

use std::fmt::Write as _;
use std::net::IpAddr;

use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};
use wego_netpoll::Address;

/// `X-Forwarded-For`: the chain of client addresses, ours appended.
pub(crate) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`: the scheme the client used to reach the proxy.
pub(crate) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: the host the client asked the proxy for.
pub(crate) static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// Removes the fields that concern one connection only: `Connection` and
/// every field it names, `Keep-Alive`, `Proxy-*` (`Proxy-Connection`,
/// `Proxy-Authorization`, `Proxy-Authenticate`), `TE`, `Trailer`,
/// `Transfer-Encoding`, and `Upgrade` unless `upgrade` (the exchange is a
/// protocol switch the proxy passes through; the caller sets `Connection:
/// upgrade` again).
///
/// Returns whether the removed `TE` listed `trailers`: a request that
/// said so may say it again to the next hop (RFC 9110 §10.1.4).
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) -> bool {
    // Read before the fields Connection names go: a sender of TE lists it
    // in Connection (RFC 9110 §10.1.4).
    let te_trailers = crate::upgrade::has_token(headers, header::TE, "trailers");
    // Fields named in Connection (RFC 9110 §7.6.1); a name that is not a
    // valid field name names nothing we could hold.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        if !(upgrade && name == header::UPGRADE) {
            headers.remove(&name);
        }
    }
    headers.remove(header::CONNECTION);
    headers.remove(&KEEP_ALIVE);
    headers.remove(header::TE);
    headers.remove(header::TRAILER);
    headers.remove(header::TRANSFER_ENCODING);
    if !upgrade {
        headers.remove(header::UPGRADE);
    }
    let proxy: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("proxy-"))
        .cloned()
        .collect();
    for name in proxy {
        headers.remove(&name);
    }
    te_trailers
}

/// What the proxy knows of the client's hop: its address, the scheme it
/// used, and the host it asked for.
#[derive(Debug)]
pub(crate) struct Hop<'a> {
    pub(crate) client: Option<&'a Address>,
    pub(crate) https: bool,
    pub(crate) host: Option<&'a HeaderValue>,
}

impl Hop<'_> {
    fn proto(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }
}

/// Adds the forwarding fields for `hop`: the client's IP appended to
/// `X-Forwarded-For` (a client on a Unix socket has none and adds
/// nothing there), `X-Forwarded-Proto` and `X-Forwarded-Host` set, and an
/// element appended to `Forwarded` (RFC 7239 §4).
pub(crate) fn add_forwarding(headers: &mut HeaderMap, hop: &Hop<'_>) {
    let ip = hop.client.and_then(Address::as_tcp).map(|a| a.ip());
    if let Some(ip) = ip {
        let mut chain = joined(headers, &X_FORWARDED_FOR);
        if !chain.is_empty() {
            chain.push_str(", ");
        }
        let _ = write!(chain, "{ip}");
        if let Ok(v) = HeaderValue::try_from(chain) {
            headers.insert(X_FORWARDED_FOR.clone(), v);
        }
    }
    headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(hop.proto()),
    );
    match hop.host {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST.clone(), host.clone());
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
    let element = forwarded_element(ip, hop);
    let mut all = joined(headers, &header::FORWARDED);
    if !all.is_empty() {
        all.push_str(", ");
    }
    all.push_str(&element);
    if let Ok(v) = HeaderValue::try_from(all) {
        headers.insert(header::FORWARDED, v);
    }
}

/// One `Forwarded` element: `for=...;proto=...;host=...` (RFC 7239 §4,
/// §5). An IPv6 address is bracketed and quoted (§6); a client without an
/// IP (a Unix socket) is `unknown` (§6.3).
fn forwarded_element(ip: Option<IpAddr>, hop: &Hop<'_>) -> String {
    let mut out = String::with_capacity(64);
    match ip {
        Some(IpAddr::V4(v4)) => {
            let _ = write!(out, "for={v4}");
        }
        Some(IpAddr::V6(v6)) => {
            let _ = write!(out, "for=\"[{v6}]\"");
        }
        None => out.push_str("for=unknown"),
    }
    out.push_str(";proto=");
    out.push_str(hop.proto());
    if let Some(host) = hop.host.and_then(|h| h.to_str().ok()) {
        out.push_str(";host=");
        push_value(&mut out, host);
    }
    out
}

/// A `Forwarded` parameter value: a token as it is, anything else as a
/// quoted-string with `"` and `\` escaped (RFC 7239 §4, RFC 9110 §5.6.4).
fn push_value(out: &mut String, value: &str) {
    if !value.is_empty() && value.bytes().all(is_tchar) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Every line of `name` joined with `, ` (lines that are not text are
/// skipped).
fn joined(headers: &HeaderMap, name: &HeaderName) -> String {
    let mut out = String::new();
    for v in headers.get_all(name) {
        if let Ok(s) = v.to_str() {
            let s = s.trim();
            if s.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn removes_hop_by_hop_fields_and_those_connection_names() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret, , bad name"),
            ("connection", "x-other"),
            ("x-secret", "1"),
            ("x-other", "2"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic eA=="),
            ("te", "gzip"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-kept", "yes"),
            ("content-type", "text/plain"),
        ]);
        assert!(!remove_hop_by_hop(&mut h, false));
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "x-kept"]);
    }

    #[test]
    fn keeps_upgrade_for_a_protocol_switch_and_reports_te_trailers() {
        let mut h = map(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("te", "trailers, gzip"),
        ]);
        assert!(remove_hop_by_hop(&mut h, true));
        assert_eq!(h.len(), 1);
        assert_eq!(h["upgrade"], "websocket");
    }

    #[test]
    fn appends_to_the_forwarding_chain() {
        let mut h = map(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-for", "198.51.100.2"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "for=203.0.113.7;proto=https"),
        ]);
        let client = Address::Tcp("192.0.2.60:4711".parse().unwrap());
        let host = HeaderValue::from_static("example.com:8080");
        add_forwarding(
            &mut h,
            &Hop {
                client: Some(&client),
                https: false,
                host: Some(&host),
            },
        );
        assert_eq!(
            h["x-forwarded-for"],
            "203.0.113.7, 198.51.100.2, 192.0.2.60"
        );
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example.com:8080");
        assert_eq!(
            h["forwarded"],
            "for=203.0.113.7;proto=https, for=192.0.2.60;proto=http;host=\"example.com:8080\""
        );
    }

    #[test]
    fn quotes_ipv6_and_says_unknown_without_an_ip() {
        let mut h = HeaderMap::new();
        let client = Address::Tcp("[2001:db8:cafe::17]:4711".parse().unwrap());
        let host = HeaderValue::from_static("example.com");
        add_forwarding(
            &mut h,
            &Hop {
                client: Some(&client),
                https: true,
                host: Some(&host),
            },
        );
        assert_eq!(h["x-forwarded-for"], "2001:db8:cafe::17");
        assert_eq!(
            h["forwarded"],
            "for=\"[2001:db8:cafe::17]\";proto=https;host=example.com"
        );

        let mut h = map(&[("x-forwarded-host", "spoofed")]);
        let unix = Address::Unix("/tmp/s".into());
        add_forwarding(
            &mut h,
            &Hop {
                client: Some(&unix),
                https: false,
                host: None,
            },
        );
        assert!(h.get("x-forwarded-for").is_none());
        assert!(h.get("x-forwarded-host").is_none());
        assert_eq!(h["forwarded"], "for=unknown;proto=http");
    }

    #[test]
    fn escapes_quoted_values() {
        let mut out = String::new();
        push_value(&mut out, "a\"b\\c d");
        assert_eq!(out, "\"a\\\"b\\\\c d\"");
        let mut out = String::new();
        push_value(&mut out, "");
        assert_eq!(out, "\"\"");
    }
}
