//! The client over HTTPS against wego's HTTPS server: the server name sent
//! as SNI and checked against the certificate, HTTP/2 or HTTP/1.1 chosen by
//! ALPN, custom roots, a client certificate for mutual TLS, and refused
//! certificates. Certificates are made with rcgen (`crate::tls::Ca`).

use std::sync::Arc;

use bytes::BytesMut;
use http::{Request, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};
use wego_hertz::{Body, Client, Server};
use wego_netpoll::rt;
use wego_netpoll::tls::{ClientAuth, RootCerts, TlsAcceptor};
use wego_test_support::each_backend;

use crate::client_support::{raw_server, read_head};
use crate::tls::{Ca, acceptor, start_tls};

async fn text(client: &Client, url: &str) -> (Version, String) {
    let resp = client.get(url).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let version = resp.version();
    let body = resp.into_body().collect_limited(1 << 16).await.unwrap();
    (version, String::from_utf8(body.to_vec()).unwrap())
}

each_backend!(https_speaks_h2_by_alpn_with_sni, |_backend| async move {
    let ca = Ca::new("client test ca");
    let (addr, _failed) = start_tls(Server::builder(), acceptor(&ca)).await;
    let client = Client::builder()
        .with_tls_roots(ca.roots())
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/", addr_port(&addr));
    for _ in 0..3 {
        let (version, body) = text(&client, &url).await;
        assert_eq!(version, Version::HTTP_2);
        assert_eq!(body, "HTTP/2.0 alpn=h2 sni=localhost dns= uri= addr=true");
    }
    // Prior knowledge is for http:// only: https still asks by ALPN.
    let client = Client::builder()
        .with_tls_roots(ca.roots())
        .with_http2_prior_knowledge()
        .build()
        .unwrap();
    assert_eq!(text(&client, &url).await.0, Version::HTTP_2);
});

each_backend!(https_falls_back_to_http1_by_alpn, |_backend| async move {
    let ca = Ca::new("client test ca");
    let only_h1 = TlsAcceptor::builder()
        .with_identity(ca.leaf(&["localhost"]))
        .with_alpn_protocols(["http/1.1"])
        .build()
        .unwrap();
    let (addr, _failed) = start_tls(Server::builder(), only_h1).await;
    let client = Client::builder()
        .with_tls_roots(ca.roots())
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/", addr_port(&addr));
    for _ in 0..2 {
        let (version, body) = text(&client, &url).await;
        assert_eq!(version, Version::HTTP_11);
        assert_eq!(
            body,
            "HTTP/1.1 alpn=http/1.1 sni=localhost dns= uri= addr=true"
        );
    }
    // Asking for HTTP/2 from a server that refused it by ALPN fails
    // clearly rather than speaking h2 to an HTTP/1.1 server.
    let req = Request::get(&url)
        .version(Version::HTTP_2)
        .body(Body::empty())
        .unwrap();
    let e = client.request(req).await.unwrap_err();
    assert!(e.is_protocol(), "{e}");
});

each_backend!(https_presents_a_client_certificate, |_backend| async move {
    let server_ca = Ca::new("server ca");
    let client_ca = Ca::new("client ca");
    let acceptor = TlsAcceptor::builder()
        .with_identity(server_ca.leaf(&["localhost"]))
        .with_alpn_protocols(["h2", "http/1.1"])
        .with_client_auth(ClientAuth::required(client_ca.roots()))
        .build()
        .unwrap();
    let (addr, mut failed) = start_tls(Server::builder(), acceptor).await;
    let url = format!("https://localhost:{}/", addr_port(&addr));
    let client = Client::builder()
        .with_tls_roots(server_ca.roots())
        .with_tls_identity(client_ca.leaf(&["client.wego.test"]))
        .build()
        .unwrap();
    assert_eq!(
        text(&client, &url).await.1,
        "HTTP/2.0 alpn=h2 sni=localhost dns=client.wego.test uri= addr=true"
    );
    // Without a certificate the server refuses the handshake.
    let anonymous = Client::builder()
        .with_tls_roots(server_ca.roots())
        .build()
        .unwrap();
    let e = anonymous.get(&url).await.unwrap_err();
    assert!(e.is_connect() || e.is_closed() || e.is_protocol(), "{e}");
    assert!(failed.recv().await.is_some());
});

each_backend!(
    https_refuses_untrusted_and_misnamed_servers,
    |_backend| async move {
        let ca = Ca::new("client test ca");
        let (addr, _failed) = start_tls(Server::builder(), acceptor(&ca)).await;
        let port = addr_port(&addr);
        // Another authority's roots: the certificate is refused.
        let stranger = Client::builder()
            .with_tls_roots(Ca::new("another ca").roots())
            .build()
            .unwrap();
        let e = stranger
            .get(format!("https://localhost:{port}/"))
            .await
            .unwrap_err();
        assert!(e.is_connect(), "{e}");
        // The right roots, but the certificate names `localhost`, not the IP
        // the URL names.
        let client = Client::builder()
            .with_tls_roots(ca.roots())
            .build()
            .unwrap();
        let e = client
            .get(format!("https://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert!(e.is_connect(), "{e}");
        // Empty custom roots are a configuration error.
        let e = Client::builder()
            .with_tls_roots(RootCerts::empty())
            .build()
            .unwrap_err();
        assert!(e.is_config(), "{e}");
    }
);

each_backend!(
    https_pool_skips_a_connection_the_server_closed_while_idle,
    |_backend| async move {
        let ca = Ca::new("client test ca");
        let only_h1 = TlsAcceptor::builder()
            .with_identity(ca.leaf(&["localhost"]))
            .with_alpn_protocols(["http/1.1"])
            .build()
            .unwrap();
        let (closed_tx, mut closed) = mpsc::channel::<()>(1);
        let close = Arc::new(Notify::new());
        let close_first = Arc::clone(&close);
        let (addr, accepts) = raw_server(move |n, conn| {
            let (only_h1, closed_tx) = (only_h1.clone(), closed_tx.clone());
            let close = Arc::clone(&close_first);
            async move {
                let mut tls = only_h1.accept(conn).await.unwrap();
                let mut buf = BytesMut::new();
                if n == 0 {
                    // One response, then, once the client has pooled the
                    // connection, the server closes it as a keep-alive
                    // timeout does: TLS close_notify, then FIN.
                    assert!(read_head(&mut tls, &mut buf).await);
                    tls.write_all(OK).await.unwrap();
                    close.notified().await;
                    tls.shutdown().await.unwrap();
                    closed_tx.send(()).await.unwrap();
                    return;
                }
                while read_head(&mut tls, &mut buf).await {
                    // The POST's one-byte body.
                    while buf.is_empty() {
                        tls.read_buf(&mut buf).await.unwrap();
                    }
                    buf.clear();
                    tls.write_all(OK).await.unwrap();
                }
            }
        })
        .await;
        let client = Client::builder()
            .with_tls_roots(ca.roots())
            .build()
            .unwrap();
        let url = format!("https://localhost:{}/", addr_port(&addr));
        assert_eq!(text(&client, &url).await, (Version::HTTP_11, "ok".into()));
        close.notify_one();
        closed.recv().await.unwrap();
        // The close is in the client's socket; one yield lets its worker
        // poll for I/O and see it, as it does whenever it waits.
        rt::yield_now().await;
        // A POST is never retried: it succeeds only because the pool saw
        // the closed connection and opened a new one.
        let req = Request::post(&url).body(Body::from("x")).unwrap();
        let resp = client.request(req).await.expect("a new connection");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(accepts.get(), 2);
    }
);

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

pub(crate) fn addr_port(addr: &wego_netpoll::Address) -> u16 {
    match addr {
        wego_netpoll::Address::Tcp(sock) => sock.port(),
        other => panic!("not tcp: {other}"),
    }
}
