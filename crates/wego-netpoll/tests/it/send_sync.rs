//! Public types and futures are `Send` (and `Sync` where shared), pinned at
//! compile time so that a change that breaks it fails the build.

use wego_netpoll::{Address, Conn, Dialer, LinkBuffer, Listener, Shutdown, Watcher, rt};

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Conn>();
    send_sync::<Listener>();
    send_sync::<Dialer>();
    send_sync::<Address>();
    send_sync::<Shutdown>();
    send_sync::<Watcher>();
    send_sync::<LinkBuffer>();
    send_sync::<wego_netpoll::Error>();
    send_sync::<rt::JoinError>();
}

#[test]
#[allow(clippy::let_underscore_future)] // never polled: only their types matter
fn public_futures_are_send() {
    let rt = rt::Runtime::builder().build().unwrap();
    rt.block_on(async {
        let listener = Listener::bind(&Address::loopback()).await.unwrap();
        let dialer = Dialer::new();
        let addr = listener.local_addr().clone();
        send(&listener.accept());
        send(&dialer.dial(&addr));
        send(&Listener::bind(&addr));
        send(&rt::sleep(std::time::Duration::ZERO));
        send(&rt::timeout(std::time::Duration::ZERO, async {}));
        let shutdown = Shutdown::new();
        send(&shutdown.shutdown(std::time::Duration::ZERO));
        let w = shutdown.watcher();
        send(&w.draining());
        let mut buf = LinkBuffer::new();
        let mut conn = dialer.dial(&addr).await.unwrap();
        send(&buf.read_from(&mut conn));
        let h = rt::spawn(async {});
        send(&h);
        let _ = h.await;
    });
}

#[cfg(feature = "tls")]
#[test]
#[allow(clippy::let_underscore_future)] // never polled: only their types matter
fn tls_types_and_futures_are_send() {
    use wego_netpoll::Connect;
    use wego_netpoll::tls::{TlsAcceptor, TlsConnector, TlsInfo, TlsStream};

    send_sync::<TlsAcceptor>();
    send_sync::<TlsConnector>();
    send_sync::<TlsStream<Conn>>();
    send_sync::<TlsInfo>();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let identity = wego_netpoll::tls::Identity::from_pem(cert.pem(), key.serialize_pem()).unwrap();
    let acceptor = TlsAcceptor::builder()
        .with_identity(identity)
        .build()
        .unwrap();
    let connector = TlsConnector::builder()
        .with_roots(wego_netpoll::tls::RootCerts::from_pem(cert.pem()).unwrap())
        .build()
        .unwrap();
    let (io, _peer) = tokio::io::duplex(64);
    send(&acceptor.accept(io));
    let addr = Address::loopback();
    send(&connector.connect(&addr));
    send(&connector.connect_with_name(&addr, "localhost"));
}
