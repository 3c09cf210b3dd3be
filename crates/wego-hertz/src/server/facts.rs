//! What the server learns about a connection once, at its start, and hands
//! to every request on it.

use http::Extensions;
use wego_netpoll::net::{ConnInfo, TlsInfo};

use super::ClientAddr;

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

    /// Adds the facts to a request's extensions.
    pub(crate) fn insert_into(&self, extensions: &mut Extensions) {
        if let Some(peer) = &self.peer {
            extensions.insert(peer.clone());
        }
        if let Some(tls) = &self.tls {
            extensions.insert(tls.clone());
        }
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
    fn inserts_the_peer_and_the_tls_facts() {
        let tls = TlsInfo::new(TlsVersion::Tls13).with_server_name("a.test");
        let mut ext = Extensions::new();
        facts(Some(tls.clone())).insert_into(&mut ext);
        assert_eq!(ext.get::<TlsInfo>(), Some(&tls));
        assert_eq!(
            ext.get::<ClientAddr>(),
            Some(&ClientAddr("127.0.0.1:9".parse().unwrap()))
        );
        let mut ext = Extensions::new();
        facts(None).insert_into(&mut ext);
        assert_eq!(ext.get::<TlsInfo>(), None);
        assert!(ext.get::<ClientAddr>().is_some());
    }
}
