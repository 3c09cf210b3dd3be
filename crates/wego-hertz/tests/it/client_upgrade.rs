//! The client's protocol upgrade: a 101 response hands the connection over
//! as an `Upgraded` IO, against hyper's upgrading server and scripted
//! servers (bytes sent right behind the head, a request body still being
//! written, a response that does not upgrade).

use std::convert::Infallible;

use bytes::{Bytes, BytesMut};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use wego_hertz::client::{self, Client};
use wego_hertz::{Body, Error};
use wego_netpoll::ConnInfo;

use crate::client_support::{raw_server, read_head, url};

/// `GET path` asking to switch to the made-up `echo` protocol.
fn upgrade_request(addr: &wego_netpoll::Address, path: &str) -> Request<Body> {
    Request::get(url(addr, path))
        .header("connection", "upgrade")
        .header("upgrade", "echo")
        .body(Body::empty())
        .unwrap()
}

/// hyper's server: `/echo` answers 101 and echoes the upgraded bytes,
/// uppercased so the test sees they went through the server; anything else
/// is a plain 200.
async fn hyper_upgrading(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/echo" || !req.headers().contains_key("upgrade") {
        return Ok(Response::new(Full::new(Bytes::from_static(b"plain"))));
    }
    let on = hyper::upgrade::on(&mut req);
    wego_netpoll::rt::spawn(async move {
        let mut io = TokioIo::new(on.await.unwrap());
        let mut buf = [0u8; 64];
        loop {
            let n = io.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            buf[..n].make_ascii_uppercase();
            io.write_all(&buf[..n]).await.unwrap();
        }
    });
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut()
        .insert("connection", "upgrade".parse().unwrap());
    resp.headers_mut()
        .insert("upgrade", "echo".parse().unwrap());
    Ok(resp)
}

wego_test_support::each_backend!(upgrades_against_hyper, |_backend| async move {
    let (addr, accepts) = raw_server(|_n, conn| async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(
                TokioIo::new(conn),
                hyper::service::service_fn(hyper_upgrading),
            )
            .with_upgrades()
            .await;
    })
    .await;
    let client = Client::builder().build().unwrap();
    let mut resp = client
        .request(upgrade_request(&addr, "/echo"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(resp.headers()["upgrade"], "echo");
    let mut io = client::upgrade::on(&mut resp).await.unwrap();
    assert!(io.peer_addr().is_some());
    for word in ["ping", "second message"] {
        io.write_all(word.as_bytes()).await.unwrap();
        let mut back = vec![0; word.len()];
        io.read_exact(&mut back).await.unwrap();
        assert_eq!(back, word.to_uppercase().as_bytes());
    }
    // The taken connection is gone from the response, and from the pool: a
    // plain request opens a second one.
    assert!(
        client::upgrade::on(&mut resp)
            .await
            .unwrap_err()
            .is_upgrade()
    );
    let resp = client.get(url(&addr, "/")).await.unwrap();
    assert_eq!(
        &resp.into_body().collect_limited(10).await.unwrap()[..],
        b"plain"
    );
    assert_eq!(accepts.get(), 2);
});

wego_test_support::each_backend!(
    bytes_right_behind_the_101_come_first,
    |_backend| async move {
        let (addr, _) = raw_server(|_n, mut conn| async move {
            let mut buf = BytesMut::new();
            assert!(read_head(&mut conn, &mut buf).await);
            // One write: the client reads the greeting with the head.
            conn.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\
                  Upgrade: echo\r\n\r\nhello from the server;",
            )
            .await
            .unwrap();
            let mut got = [0u8; 4];
            conn.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"ping");
            conn.write_all(b"pong").await.unwrap();
        })
        .await;
        let client = Client::builder().build().unwrap();
        let resp = client.request(upgrade_request(&addr, "/")).await.unwrap();
        // By value, as well as from `&mut Response`.
        let mut io = client::upgrade::on(resp).await.unwrap();
        let mut greeting = vec![0; "hello from the server;".len()];
        io.read_exact(&mut greeting).await.unwrap();
        assert_eq!(greeting, b"hello from the server;");
        io.write_all(b"ping").await.unwrap();
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"pong");
    }
);

wego_test_support::each_backend!(
    the_handover_waits_for_a_streamed_request_body,
    |_backend| async move {
        let (addr, _) = raw_server(|_n, mut conn| async move {
            let mut buf = BytesMut::new();
            assert!(read_head(&mut conn, &mut buf).await);
            // Switch at once, before the chunked body has arrived; then
            // read the body's rest and the upgraded bytes behind it.
            conn.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n")
                .await
                .unwrap();
            let want = b"5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\nafter";
            while buf.len() < want.len() {
                assert!(conn.read_buf(&mut buf).await.unwrap() > 0);
            }
            assert_eq!(&buf[..], want);
            conn.write_all(b"done").await.unwrap();
        })
        .await;
        let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(1);
        let mut req = upgrade_request(&addr, "/");
        *req.body_mut() = Body::from_stream(tokio_stream_of(rx));
        let client = Client::builder().build().unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        // The body is still open: the IO is handed over once it ends.
        let handover = wego_netpoll::rt::spawn(client::upgrade::on(resp));
        tx.send(Ok(Bytes::from_static(b"first"))).await.unwrap();
        tx.send(Ok(Bytes::from_static(b"second"))).await.unwrap();
        drop(tx);
        let mut io = handover.await.unwrap().unwrap();
        io.write_all(b"after").await.unwrap();
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"done");
    }
);

wego_test_support::each_backend!(
    a_response_that_does_not_switch_keeps_its_connection_pooled,
    |_backend| async move {
        let (addr, accepts) = raw_server(|_n, mut conn| async move {
            let mut buf = BytesMut::new();
            while read_head(&mut conn, &mut buf).await {
                conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno")
                    .await
                    .unwrap();
            }
        })
        .await;
        let client = Client::builder().build().unwrap();
        let mut resp = client.request(upgrade_request(&addr, "/")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let e: Error = client::upgrade::on(&mut resp).await.unwrap_err();
        assert!(e.is_upgrade(), "{e}");
        assert_eq!(
            &resp.into_body().collect_limited(10).await.unwrap()[..],
            b"no"
        );
        let resp = client.get(url(&addr, "/")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        drop(resp.into_body().collect_limited(10).await.unwrap());
        assert_eq!(accepts.get(), 1);
    }
);

/// The receiver as a stream of body chunks.
fn tokio_stream_of(
    rx: mpsc::Receiver<Result<Bytes, Infallible>>,
) -> impl futures_core::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
