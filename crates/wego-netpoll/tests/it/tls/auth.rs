//! Refusals and lifecycles: mutual TLS, bad server certificates, a
//! plaintext client, certificate reload and the handshake timeout.

use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::tls::{CertificateSet, ClientAuth, TlsAcceptor, TlsConnector};
use wego_netpoll::{Connect, Dialer};
use wego_test_support::{each_backend, loopback};

use super::{Ca, connector, leaf_der, round_trip, serve_echo};

/// The error and its causes, as one line for assertions.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(" / ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

each_backend!(
    mtls_accepts_a_trusted_client_and_refuses_an_unknown_one,
    |_backend| async move {
        let ca = Ca::new("wego server ca");
        let clients = Ca::new("wego client ca");
        let acceptor = TlsAcceptor::builder()
            .with_identity(ca.leaf(&["localhost"]))
            .with_client_auth(ClientAuth::required(clients.roots()))
            .build()
            .unwrap();
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let mut handshakes = serve_echo(listener, acceptor);
        let client = |identity| {
            TlsConnector::builder()
                .with_roots(ca.roots())
                .with_server_name("localhost")
                .with_identity(identity)
                .build()
                .unwrap()
        };

        let honest = clients.leaf(&["client.test", "spiffe://wego.test/echo"]);
        let mut tls = client(honest.clone()).connect(&addr).await.unwrap();
        round_trip(&mut tls, b"trusted").await;
        let seen = handshakes.recv().await.unwrap().unwrap();
        assert_eq!(seen.peer_certificate(), Some(&leaf_der(&honest)));
        assert_eq!(seen.peer_dns_names(), ["client.test"]);
        assert_eq!(seen.peer_uri_names(), ["spiffe://wego.test/echo"]);

        // A certificate from a CA the server does not trust. In TLS 1.3 the
        // client finishes first, so it learns of the refusal on its next read.
        let stranger = Ca::new("someone else").leaf(&["client.test"]);
        let outcome = match client(stranger).connect(&addr).await {
            Ok(mut tls) => {
                let _ = tls.write_all(b"x").await;
                let mut buf = [0u8; 1];
                tls.read(&mut buf).await.map(|_| ())
            }
            Err(e) => Err(e.into()),
        };
        assert!(outcome.is_err(), "the stranger was served");
        let refused = handshakes.recv().await.unwrap().unwrap_err();
        assert!(refused.is_tls(), "{refused}");
        assert!(
            chain(&refused).contains("UnknownIssuer"),
            "{}",
            chain(&refused)
        );

        // No certificate at all, while one is required.
        let anonymous = connector(&ca, "localhost");
        if let Ok(mut tls) = anonymous.connect(&addr).await {
            let mut buf = [0u8; 1];
            assert!(tls.read(&mut buf).await.is_err());
        }
        let refused = handshakes.recv().await.unwrap().unwrap_err();
        assert!(refused.is_tls(), "{refused}");

        // The server keeps serving honest clients.
        let mut tls = client(honest).connect(&addr).await.unwrap();
        round_trip(&mut tls, b"still here").await;
        assert!(handshakes.recv().await.unwrap().is_ok());
    }
);

each_backend!(
    optional_client_auth_serves_clients_without_a_certificate,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let acceptor = TlsAcceptor::builder()
            .with_identity(ca.leaf(&["localhost"]))
            .with_client_auth(ClientAuth::optional(ca.roots()))
            .build()
            .unwrap();
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let mut handshakes = serve_echo(listener, acceptor);
        let mut tls = connector(&ca, "localhost").connect(&addr).await.unwrap();
        round_trip(&mut tls, b"anonymous").await;
        assert!(
            handshakes
                .recv()
                .await
                .unwrap()
                .unwrap()
                .peer_certificates()
                .is_empty()
        );
    }
);

each_backend!(
    the_client_refuses_an_expired_certificate_and_the_wrong_name,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let (chain, key) = ca.leaf_pem_with(&["localhost"], |p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        });
        let expired = wego_netpoll::tls::Identity::from_pem(chain, key).unwrap();
        let acceptor = TlsAcceptor::builder()
            .with_sni_identity("localhost", expired)
            .with_identity(ca.leaf(&["a.test"]))
            .build()
            .unwrap();
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let mut handshakes = serve_echo(listener, acceptor);

        let err = connector(&ca, "localhost")
            .connect(&addr)
            .await
            .unwrap_err();
        assert!(err.is_tls(), "{err}");
        assert!(err.to_string().contains("expired"), "{err}");
        assert!(handshakes.recv().await.unwrap().is_err());

        // The default certificate is a.test's: a client asking for b.test
        // gets it and refuses it.
        let wrong = TlsConnector::builder()
            .with_roots(ca.roots())
            .with_server_name("a.test")
            .build()
            .unwrap();
        wrong.connect(&addr).await.unwrap();
        assert!(handshakes.recv().await.unwrap().is_ok());
        let err = wrong.connect_with_name(&addr, "b.test").await.unwrap_err();
        assert!(err.is_tls(), "{err}");
        assert!(err.to_string().contains("not valid for name"), "{err}");
    }
);

each_backend!(
    a_plaintext_client_is_refused_and_the_server_keeps_serving,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let acceptor = TlsAcceptor::builder()
            .with_identity(ca.leaf(&["localhost"]))
            .build()
            .unwrap();
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let mut handshakes = serve_echo(listener, acceptor);

        let mut plain = Dialer::new().dial(&addr).await.unwrap();
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let refused = handshakes.recv().await.unwrap().unwrap_err();
        assert!(refused.is_tls(), "{refused}");
        // The server closes: the client reads an alert at most, then the end.
        let mut rest = Vec::new();
        let _ = plain.read_to_end(&mut rest).await;
        assert!(rest.len() < 64, "{rest:?}");

        let mut tls = connector(&ca, "localhost").connect(&addr).await.unwrap();
        round_trip(&mut tls, b"next").await;
    }
);

each_backend!(
    reload_serves_new_handshakes_and_keeps_live_connections,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let (one, two) = (ca.leaf(&["localhost"]), ca.leaf(&["localhost"]));
        let acceptor = TlsAcceptor::builder()
            .with_identity(one.clone())
            .build()
            .unwrap();
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let mut handshakes = serve_echo(listener, acceptor.clone());
        let connector = connector(&ca, "localhost");

        let mut a = connector.connect(&addr).await.unwrap();
        assert_eq!(a.info().peer_certificate(), Some(&leaf_der(&one)));
        round_trip(&mut a, b"before").await;
        assert!(handshakes.recv().await.unwrap().is_ok());

        let err = acceptor.reload(CertificateSet::new()).unwrap_err();
        assert!(err.is_config(), "{err}");
        acceptor
            .reload(CertificateSet::new().with_default(two.clone()))
            .unwrap();

        let mut b = connector.connect(&addr).await.unwrap();
        assert_eq!(b.info().peer_certificate(), Some(&leaf_der(&two)));
        round_trip(&mut b, b"new").await;
        round_trip(&mut a, b"old connection, old certificate").await;
        assert_eq!(a.info().peer_certificate(), Some(&leaf_der(&one)));
    }
);

#[cfg(feature = "test-util")]
#[test]
fn a_silent_peer_is_cut_by_the_handshake_timeout() {
    use std::num::NonZeroUsize;
    use std::time::Duration;

    use wego_netpoll::rt;
    use wego_netpoll::rt::{Flavor, Runtime};

    for (backend, flavor) in wego_test_support::runs() {
        if flavor == Flavor::WorkStealing {
            continue; // tokio cannot pause the work-stealing clock
        }
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::new(2).unwrap())
            .build()
            .unwrap();
        let out = rt.block_on(rt.spawn(async move {
            let ca = Ca::new("wego test ca");
            let acceptor = TlsAcceptor::builder()
                .with_identity(ca.leaf(&["localhost"]))
                .build()
                .unwrap();
            assert_eq!(acceptor.handshake_timeout(), Duration::from_secs(10));
            // The client end stays open and says nothing.
            let (_client, server) = tokio::io::duplex(1024);
            rt::pause().unwrap();
            let start = rt::now();
            let accept = acceptor.accept(server);
            let (res, ()) = tokio::join!(accept, async {
                rt::advance(Duration::from_secs(11)).await.unwrap();
            });
            let err = res.unwrap_err();
            assert!(err.is_timeout(), "{err}");
            assert!(err.to_string().contains("10s"), "{err}");
            assert!(rt::now() - start >= Duration::from_secs(10));

            // The client side is bounded the same way by a silent server.
            let (servers, mut incoming) = tokio::sync::mpsc::unbounded_channel();
            let connector = TlsConnector::builder()
                .with_connector(super::Pipe { servers })
                .with_roots(ca.roots())
                .with_server_name("localhost")
                .with_handshake_timeout(Duration::from_secs(3))
                .build()
                .unwrap();
            let addr = wego_netpoll::Address::loopback();
            let (res, _silent) = tokio::join!(connector.connect(&addr), async {
                let silent = incoming.recv().await.unwrap();
                rt::advance(Duration::from_secs(4)).await.unwrap();
                silent
            });
            assert!(res.unwrap_err().is_timeout());
            rt::resume().unwrap();
        }));
        out.unwrap_or_else(|e| panic!("on {backend} {flavor}: {e}"));
    }
}
