//! TLS over loopback and in-memory pipes: handshake and echo, SNI, ALPN,
//! mutual TLS, refused certificates, plaintext clients, reload, the
//! handshake timeout, and openssl/curl as outside clients. Certificates
//! are made in the test with rcgen.
#![cfg(feature = "tls")]

mod auth;
mod incoming;
mod peers;

use bytes::Bytes;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::sync::mpsc;
use wego_netpoll::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use wego_netpoll::net::ConnInfo;
use wego_netpoll::tls::{
    Identity, RootCerts, TlsAcceptor, TlsConnector, TlsInfo, TlsStream, TlsVersion,
};
use wego_netpoll::{Address, Connect, Listener, Result, rt};
use wego_test_support::{each_backend, loopback};

/// A certificate authority made for one test.
pub(crate) struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    pub(crate) fn pem(&self) -> String {
        self.issuer.pem()
    }

    pub(crate) fn roots(&self) -> RootCerts {
        RootCerts::from_pem(self.pem()).unwrap()
    }

    /// A leaf for `names` (DNS names, IPs or `spiffe://` URIs), with its
    /// chain and key as PEM.
    pub(crate) fn leaf_pem_with(
        &self,
        names: &[&str],
        edit: impl FnOnce(&mut CertificateParams),
    ) -> (String, String) {
        let (dns, uris): (Vec<&str>, Vec<&str>) = names.iter().partition(|n| !n.contains("://"));
        let mut params =
            CertificateParams::new(dns.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap();
        for uri in uris {
            params
                .subject_alt_names
                .push(rcgen::SanType::URI(uri.try_into().unwrap()));
        }
        edit(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    pub(crate) fn leaf(&self, names: &[&str]) -> Identity {
        let (chain, key) = self.leaf_pem_with(names, |_| {});
        Identity::from_pem(chain, key).unwrap()
    }
}

/// The DER of an identity's end-entity certificate.
pub(crate) fn leaf_der(id: &Identity) -> Bytes {
    Bytes::copy_from_slice(id.chain_der().next().unwrap())
}

/// Accepts TLS connections forever; reports each handshake's outcome on
/// the channel and echoes every connection that succeeded.
pub(crate) fn serve_echo(
    listener: Listener,
    acceptor: TlsAcceptor,
) -> mpsc::UnboundedReceiver<Result<TlsInfo>> {
    let (tx, rx) = mpsc::unbounded_channel();
    rt::spawn(async move {
        while let Ok(conn) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            rt::spawn(async move {
                match acceptor.accept(conn).await {
                    Ok(tls) => {
                        let _ = tx.send(Ok(tls.info().clone()));
                        echo(tls).await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        }
    });
    rx
}

pub(crate) async fn echo<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = io.shutdown().await;
                return;
            }
            Ok(n) => {
                if io.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

pub(crate) async fn round_trip<IO: AsyncRead + AsyncWrite + Unpin>(io: &mut IO, payload: &[u8]) {
    io.write_all(payload).await.unwrap();
    let mut back = vec![0u8; payload.len()];
    io.read_exact(&mut back).await.unwrap();
    assert_eq!(back, payload);
}

pub(crate) fn connector(ca: &Ca, name: &str) -> TlsConnector {
    TlsConnector::builder()
        .with_roots(ca.roots())
        .with_server_name(name)
        .build()
        .unwrap()
}

each_backend!(handshake_and_echo_over_loopback, |_backend| async move {
    let ca = Ca::new("wego test ca");
    let server = ca.leaf(&["localhost"]);
    let acceptor = TlsAcceptor::builder()
        .with_identity(server.clone())
        .build()
        .unwrap();
    let listener = loopback().await;
    let addr = listener.local_addr().clone();
    let mut handshakes = serve_echo(listener, acceptor);

    let mut tls = connector(&ca, "localhost").connect(&addr).await.unwrap();
    let info = ConnInfo::tls_info(&tls).unwrap().clone();
    assert_eq!(info.version(), TlsVersion::Tls13);
    assert_eq!(info.server_name(), Some("localhost"));
    assert_eq!(info.peer_certificate(), Some(&leaf_der(&server)));
    assert_eq!(info.peer_dns_names(), ["localhost"]);
    assert_eq!(ConnInfo::peer_addr(&tls), Some(addr.clone()));
    assert!(ConnInfo::local_addr(&tls).is_some());
    assert!(ConnInfo::is_active(&tls));

    round_trip(&mut tls, b"hello over tls").await;
    // Vectored writes pass through the TLS layer.
    let parts = [
        std::io::IoSlice::new(b"two "),
        std::io::IoSlice::new(b"parts"),
    ];
    let n = tls.write_vectored(&parts).await.unwrap();
    tls.write_all(&b"two parts"[n..]).await.unwrap();
    let mut back = [0u8; 9];
    tls.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"two parts");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = wego_netpoll::io::split(tls);
    let writer = rt::spawn({
        let big = big.clone();
        async move {
            w.write_all(&big).await.unwrap();
            w
        }
    });
    let mut back = vec![0u8; big.len()];
    r.read_exact(&mut back).await.unwrap();
    assert_eq!(back, big);
    let _ = writer.await.unwrap();

    let server_info = handshakes.recv().await.unwrap().unwrap();
    assert_eq!(server_info.server_name(), Some("localhost"));
    assert!(server_info.peer_certificates().is_empty());
});

/// Hands out in-memory pipes; the server ends go to the test's acceptor.
#[derive(Clone)]
pub(crate) struct Pipe {
    pub(crate) servers: mpsc::UnboundedSender<tokio::io::DuplexStream>,
}

impl Connect for Pipe {
    type Io = tokio::io::DuplexStream;

    async fn connect(&self, _addr: &Address) -> Result<Self::Io> {
        let (client, server) = tokio::io::duplex(64 * 1024);
        self.servers.send(server).unwrap();
        Ok(client)
    }
}

#[test]
fn handshake_and_echo_over_an_in_memory_pipe() {
    rt::block_on(async {
        let ca = Ca::new("wego test ca");
        let acceptor = TlsAcceptor::builder()
            .with_identity(ca.leaf(&["pipe.test"]))
            .build()
            .unwrap();
        let (servers, mut incoming) = mpsc::unbounded_channel();
        rt::spawn(async move {
            while let Some(io) = incoming.recv().await {
                let tls: TlsStream<_> = acceptor.accept(io).await.unwrap();
                // A pipe has no addresses; TLS adds its own facts.
                assert_eq!(ConnInfo::peer_addr(&tls), None);
                assert!(ConnInfo::tls_info(&tls).is_some());
                rt::spawn(echo(tls));
            }
        });
        let connector = TlsConnector::builder()
            .with_connector(Pipe { servers })
            .with_roots(ca.roots())
            .with_server_name("pipe.test")
            .build()
            .unwrap();
        // A pipe's address is never dialled; it names the peer in errors.
        let addr = Address::loopback();
        for i in 0..3u8 {
            let mut tls = connector.connect(&addr).await.unwrap();
            round_trip(&mut tls, &[i; 10_000]).await;
        }
    })
    .unwrap();
}

each_backend!(
    sni_picks_the_certificate_for_each_name,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let (a, b, fallback) = (
            ca.leaf(&["a.test"]),
            ca.leaf(&["b.test"]),
            ca.leaf(&["127.0.0.1"]),
        );
        let acceptor = TlsAcceptor::builder()
            .with_sni_identity("a.test", a.clone())
            .with_sni_identity("b.test", b.clone())
            .with_identity(fallback.clone())
            .build()
            .unwrap();
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let mut handshakes = serve_echo(listener, acceptor);
        for (name, want) in [("a.test", &a), ("b.test", &b)] {
            let mut tls = connector(&ca, name).connect(&addr).await.unwrap();
            assert_eq!(
                tls.info().peer_certificate(),
                Some(&leaf_der(want)),
                "{name}"
            );
            round_trip(&mut tls, name.as_bytes()).await;
            let seen = handshakes.recv().await.unwrap().unwrap();
            assert_eq!(seen.server_name(), Some(name));
        }
        // No server name: an IP address sends no SNI (RFC 6066 §3), so the
        // default certificate answers, verified against the IP.
        let tls = TlsConnector::builder()
            .with_roots(ca.roots())
            .build()
            .unwrap()
            .connect(&addr)
            .await
            .unwrap();
        assert_eq!(tls.info().peer_certificate(), Some(&leaf_der(&fallback)));
        assert_eq!(
            handshakes.recv().await.unwrap().unwrap().server_name(),
            None
        );
    }
);

each_backend!(alpn_is_visible_on_both_sides, |_backend| async move {
    let ca = Ca::new("wego test ca");
    let acceptor = TlsAcceptor::builder()
        .with_identity(ca.leaf(&["localhost"]))
        .with_alpn_protocols(["h2", "http/1.1"])
        .build()
        .unwrap();
    let listener = loopback().await;
    let addr = listener.local_addr().clone();
    let mut handshakes = serve_echo(listener, acceptor);
    let client = |alpn: &[&str]| {
        TlsConnector::builder()
            .with_roots(ca.roots())
            .with_server_name("localhost")
            .with_alpn_protocols(alpn.to_vec())
            .build()
            .unwrap()
    };

    let tls = client(&["http/1.1", "h2"]).connect(&addr).await.unwrap();
    // The server's preference wins (RFC 7301 §3.2).
    assert_eq!(tls.info().alpn_protocol(), Some(&b"h2"[..]));
    let seen = handshakes.recv().await.unwrap().unwrap();
    assert_eq!(seen.alpn_protocol(), Some(&b"h2"[..]));

    let tls = client(&["http/1.1"]).connect(&addr).await.unwrap();
    assert_eq!(tls.info().alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        handshakes.recv().await.unwrap().unwrap().alpn_protocol(),
        Some(&b"http/1.1"[..])
    );

    let err = client(&["spdy/3"]).connect(&addr).await.unwrap_err();
    assert!(err.is_tls(), "{err}");
    let server_err = handshakes.recv().await.unwrap().unwrap_err();
    assert!(server_err.is_tls(), "{server_err}");
    assert!(
        format!("{server_err}").contains("known protocol"),
        "{server_err}"
    );
});

#[test]
fn builders_refuse_settings_that_cannot_work() {
    let ca = Ca::new("wego test ca");
    let err = TlsAcceptor::builder().build().unwrap_err();
    assert!(
        err.is_config() && err.to_string().contains("no identity"),
        "{err}"
    );
    let err = TlsAcceptor::builder()
        .with_identity(ca.leaf(&["a.test"]))
        .with_handshake_timeout(std::time::Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        err.is_config() && err.to_string().contains("handshake_timeout"),
        "{err}"
    );
    let err = TlsAcceptor::builder()
        .with_identity(ca.leaf(&["a.test"]))
        .with_alpn_protocols([""])
        .build()
        .unwrap_err();
    assert!(err.is_config() && err.to_string().contains("alpn"), "{err}");
    let err = TlsConnector::builder()
        .with_roots(ca.roots())
        .with_server_name("not a host name")
        .build()
        .unwrap_err();
    assert!(
        err.is_config() && err.to_string().contains("server name"),
        "{err}"
    );
    let err = TlsConnector::builder()
        .with_roots(RootCerts::empty())
        .build()
        .unwrap_err();
    assert!(
        err.is_config() && err.to_string().contains("roots"),
        "{err}"
    );
    rt::block_on(async {
        let err = TlsConnector::builder()
            .with_roots(ca.roots())
            .build()
            .unwrap()
            .connect(&"unix:/tmp/wego-none.sock".parse().unwrap())
            .await
            .unwrap_err();
        assert!(
            err.is_config() && err.to_string().contains("with_server_name"),
            "{err}"
        );
    })
    .unwrap();
}
