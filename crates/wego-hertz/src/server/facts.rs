//! What the server learns about a connection once, at its start, and hands
//! to every request on it.

use http::Extensions;
use wego_netpoll::net::{ConnInfo, TlsInfo};

use super::{ClientAddr, DEFAULT_BODY_LIMIT, RequestBodyLimit};

/// The ALPN protocol ID of HTTP/2 over TLS (RFC 9113 §3.2).
const ALPN_H2: &[u8] = b"h2";

/// A connection's facts as request extensions: the peer's address
/// ([`ClientAddr`]) and, on a TLS connection, what its handshake settled
/// ([`TlsInfo`]). Read once from the IO's [`ConnInfo`]; both are reference
/// counted or small, so a clone per request is cheap.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnFacts {
    peer: Option<ClientAddr>,
    tls: Option<TlsInfo>,
}

impl ConnFacts {
    /// The facts `io` knows.
    pub(crate) fn of(io: &impl ConnInfo) -> Self {
        Self {
            peer: io.peer_addr().map(ClientAddr),
            tls: io.tls_info().cloned(),
        }
    }

    /// Whether the TLS handshake chose HTTP/2 by ALPN: the client then
    /// speaks HTTP/2 from its first byte (RFC 9113 §3.2).
    pub(crate) fn negotiated_h2(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|tls| tls.alpn_protocol() == Some(ALPN_H2))
    }

    /// Fills a request's `extensions` with the server's own entries:
    /// [`ClientAddr`], [`TlsInfo`] on a TLS connection, and
    /// [`RequestBodyLimit`] when `body_limit` is not the default.
    ///
    /// Empty `extensions` (a parsed request's) are first replaced with a
    /// map from the thread's pool ([`crate::recycle`]), which may still
    /// hold these entries from an earlier request on another connection,
    /// and says which ([`Held`]): each is set to exactly this request's
    /// value, overwritten in place (no allocation), inserted, or removed
    /// when this request must not have it. An entry the map is known not
    /// to hold and this request does not have costs no look-up.
    pub(crate) fn fill(&self, extensions: &mut Extensions, body_limit: usize) {
        let held = crate::recycle::refill_extensions(extensions);
        set(extensions, held.peer, self.peer.as_ref());
        set(extensions, held.tls, self.tls.as_ref());
        let limit = (body_limit != DEFAULT_BODY_LIMIT).then_some(RequestBodyLimit(body_limit));
        set(extensions, held.limit, limit.as_ref());
    }
}

/// Which of the server's own entries an extension map holds: for each,
/// `Some(true)` or `Some(false)` when known, `None` when the map must be
/// asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) peer: Option<bool>,
    pub(crate) tls: Option<bool>,
    pub(crate) limit: Option<bool>,
}

impl Held {
    /// Nothing known: every entry is looked up.
    pub(crate) const UNKNOWN: Self = Self {
        peer: None,
        tls: None,
        limit: None,
    };
    /// None of the entries (an empty map).
    pub(crate) const NONE: Self = Self {
        peer: Some(false),
        tls: Some(false),
        limit: Some(false),
    };
}

/// Which of the entries [`ConnFacts::fill`] sets `extensions` holds, if it
/// holds those and nothing else: a map given back with only these need not
/// be cleared. Looks up no more entries than the map has.
pub(crate) fn server_entries(extensions: &Extensions) -> Option<Held> {
    let len = extensions.len();
    let mut held = Held::NONE;
    let mut found = 0;
    let peer = extensions.get::<ClientAddr>().is_some();
    found += usize::from(peer);
    held.peer = Some(peer);
    if found < len {
        let tls = extensions.get::<TlsInfo>().is_some();
        found += usize::from(tls);
        held.tls = Some(tls);
    }
    if found < len {
        let limit = extensions.get::<RequestBodyLimit>().is_some();
        found += usize::from(limit);
        held.limit = Some(limit);
    }
    (found == len).then_some(held)
}

/// Makes `extensions` hold `value` as its `T`, or no `T` at all; `held`:
/// whether it holds a `T` now, if known.
fn set<T: Clone + Send + Sync + 'static>(
    extensions: &mut Extensions,
    held: Option<bool>,
    value: Option<&T>,
) {
    if held == Some(false) {
        if let Some(value) = value {
            extensions.insert(value.clone());
        }
        return;
    }
    match (value, extensions.get_mut::<T>()) {
        (Some(value), Some(slot)) => slot.clone_from(value),
        (Some(value), None) => {
            extensions.insert(value.clone());
        }
        (None, Some(_)) => {
            extensions.remove::<T>();
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wego_netpoll::net::{TlsVersion, WithInfo};

    fn facts(tls: Option<TlsInfo>) -> ConnFacts {
        let (io, _other) = tokio::io::duplex(64);
        let io = WithInfo::new(io).with_peer_addr("127.0.0.1:9".parse().unwrap());
        match tls {
            Some(tls) => ConnFacts::of(&io.with_tls_info(tls)),
            None => ConnFacts::of(&io),
        }
    }

    #[test]
    fn only_alpn_h2_means_http2() {
        let tls = TlsInfo::new(TlsVersion::Tls13);
        assert!(facts(Some(tls.clone().with_alpn_protocol(&b"h2"[..]))).negotiated_h2());
        assert!(!facts(Some(tls.clone().with_alpn_protocol(&b"http/1.1"[..]))).negotiated_h2());
        assert!(!facts(Some(tls.clone().with_alpn_protocol(&b"h2c"[..]))).negotiated_h2());
        assert!(!facts(Some(tls)).negotiated_h2());
        assert!(!facts(None).negotiated_h2());
    }

    #[test]
    fn sets_the_peer_and_the_tls_facts() {
        let tls = TlsInfo::new(TlsVersion::Tls13).with_server_name("a.test");
        let mut ext = Extensions::new();
        facts(Some(tls.clone())).fill(&mut ext, DEFAULT_BODY_LIMIT);
        assert_eq!(ext.get::<TlsInfo>(), Some(&tls));
        assert_eq!(
            ext.get::<ClientAddr>(),
            Some(&ClientAddr("127.0.0.1:9".parse().unwrap()))
        );
        assert_eq!(
            ext.get::<RequestBodyLimit>(),
            None,
            "the default is left out"
        );
        let held = server_entries(&ext).expect("only the server's entries");
        assert_eq!(
            (held.peer, held.tls, held.limit),
            (Some(true), Some(true), Some(false))
        );
        let mut ext = Extensions::new();
        facts(None).fill(&mut ext, 10);
        assert_eq!(ext.get::<TlsInfo>(), None);
        assert!(ext.get::<ClientAddr>().is_some());
        assert_eq!(ext.get::<RequestBodyLimit>(), Some(&RequestBodyLimit(10)));
    }

    #[test]
    fn overwrites_and_removes_what_another_connection_left() {
        // A map as a TLS connection with a body limit leaves it, with a
        // value a handler changed.
        let tls = TlsInfo::new(TlsVersion::Tls13).with_server_name("tls.test");
        let mut ext = Extensions::new();
        facts(Some(tls)).fill(&mut ext, 10);
        ext.get_mut::<ClientAddr>().unwrap().0 = "10.0.0.1:1".parse().unwrap();

        // A plaintext connection with the default limit takes it.
        let (io, _other) = tokio::io::duplex(64);
        let plain = WithInfo::new(io).with_peer_addr("127.0.0.2:8".parse().unwrap());
        ConnFacts::of(&plain).fill(&mut ext, DEFAULT_BODY_LIMIT);
        assert_eq!(
            ext.get::<ClientAddr>(),
            Some(&ClientAddr("127.0.0.2:8".parse().unwrap()))
        );
        assert_eq!(
            ext.get::<TlsInfo>(),
            None,
            "no TLS facts on a plaintext request"
        );
        assert_eq!(ext.get::<RequestBodyLimit>(), None);
        assert_eq!(ext.len(), 1);

        // An IO that knows no peer: no address either.
        let (io, _other) = tokio::io::duplex(64);
        ConnFacts::of(&WithInfo::new(io)).fill(&mut ext, DEFAULT_BODY_LIMIT);
        assert!(ext.is_empty(), "{ext:?}");
    }

    #[test]
    fn a_pooled_map_is_set_to_this_requests_entries() {
        use crate::router::MatchedPath;
        crate::recycle::drain();
        // A TLS request with a body limit, routed, gives its map back.
        let tls = TlsInfo::new(TlsVersion::Tls13).with_server_name("tls.test");
        let mut ext = Extensions::new();
        facts(Some(tls.clone())).fill(&mut ext, 10);
        ext.insert(MatchedPath("/a".into()));
        crate::recycle::give_back_extensions(ext);

        // A plaintext request with the default limit takes it.
        let mut ext = Extensions::new();
        facts(None).fill(&mut ext, DEFAULT_BODY_LIMIT);
        assert_eq!(ext.len(), 1, "{ext:?}");
        assert!(ext.get::<ClientAddr>().is_some());
        crate::recycle::give_back_extensions(ext);

        // The next TLS request with a limit has all three again.
        let mut ext = Extensions::new();
        facts(Some(tls.clone())).fill(&mut ext, 10);
        assert_eq!(ext.get::<TlsInfo>(), Some(&tls));
        assert_eq!(ext.get::<RequestBodyLimit>(), Some(&RequestBodyLimit(10)));
        assert_eq!(ext.len(), 3);
        crate::recycle::drain();
    }
}
