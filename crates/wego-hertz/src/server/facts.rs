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
    /// hold these entries from an earlier request on another connection:
    /// each is set to exactly this request's value, overwritten in place
    /// (no allocation), inserted, or removed when this request must not
    /// have it.
    pub(crate) fn fill(&self, extensions: &mut Extensions, body_limit: usize) {
        crate::recycle::refill_extensions(extensions);
        set(extensions, self.peer.as_ref());
        set(extensions, self.tls.as_ref());
        let limit = (body_limit != DEFAULT_BODY_LIMIT).then_some(RequestBodyLimit(body_limit));
        set(extensions, limit.as_ref());
    }
}

/// How many of the entries [`ConnFacts::fill`] sets `extensions` holds:
/// a map given back with these and nothing else need not be cleared.
pub(crate) fn server_entries(extensions: &Extensions) -> usize {
    usize::from(extensions.get::<ClientAddr>().is_some())
        + usize::from(extensions.get::<TlsInfo>().is_some())
        + usize::from(extensions.get::<RequestBodyLimit>().is_some())
}

/// Makes `extensions` hold `value` as its `T`, or no `T` at all.
fn set<T: Clone + Send + Sync + 'static>(extensions: &mut Extensions, value: Option<&T>) {
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
        assert_eq!(server_entries(&ext), 2);
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
}
