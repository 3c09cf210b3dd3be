//! The server's upgrade hook (`wego_hertz::upgrade`) with a protocol of
//! its own: the IO after a 101, bytes sent with the head, a declined
//! upgrade that stays HTTP, and a 101 without an offer.

use bytes::BytesMut;
use http::{Request, Response, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wego_hertz::{Body, Router, Server, upgrade};
use wego_netpoll::rt;

use crate::support::{closed, connect, read_response, start, until_close};

/// `/echo` switches to a line protocol that echoes four bytes; `/decline`
/// takes the upgrade and answers 200; `/rogue` answers 101 to anything.
fn app() -> Router {
    Router::new()
        .get("/echo", |mut req: Request<Body>| async move {
            assert!(upgrade::offered(req.extensions()));
            let on_upgrade = upgrade::on(&mut req);
            rt::spawn(async move {
                let mut io = on_upgrade.await.unwrap();
                let mut buf = [0; 4];
                io.read_exact(&mut buf).await.unwrap();
                io.write_all(&buf).await.unwrap();
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header(header::CONNECTION, "upgrade")
                .header(header::UPGRADE, "echo")
                .body(Body::empty())
                .unwrap()
        })
        .get("/decline", |mut req: Request<Body>| async move {
            let on_upgrade = upgrade::on(&mut req);
            let (tx, rx) = tokio::sync::oneshot::channel();
            rt::spawn(async move {
                let _ = tx.send(on_upgrade.await.map(|_| ()).map_err(|e| e.to_string()));
            });
            // The handler's answer goes out before the future resolves;
            // the result rides on the next request's answer.
            *DECLINED.lock().unwrap() = Some(rx);
            "still http"
        })
        .get("/declined", || async {
            let rx = DECLINED.lock().unwrap().take().unwrap();
            rx.await.unwrap().unwrap_err()
        })
        .get("/rogue", || async {
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .body(Body::empty())
                .unwrap()
        })
}

type Declined = tokio::sync::oneshot::Receiver<Result<(), String>>;
static DECLINED: std::sync::Mutex<Option<Declined>> = std::sync::Mutex::new(None);

const ASK: &str = "Host: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";

wego_test_support::each_backend!(
    upgrade_hands_the_io_over_with_early_bytes,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let mut conn = connect(&addr).await;
        // The protocol's first bytes come in the same write as the request.
        conn.write_all(format!("GET /echo HTTP/1.1\r\n{ASK}ping").as_bytes())
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        let r = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(r.status, StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(r.header("connection"), Some("upgrade"));
        assert_eq!(r.header("upgrade"), Some("echo"));
        while buf.len() < 4 {
            assert!(conn.read_buf(&mut buf).await.unwrap() > 0);
        }
        assert_eq!(&buf[..], b"ping");
        assert!(closed(&mut conn).await);
    }
);

wego_test_support::each_backend!(a_declined_upgrade_stays_http, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    conn.write_all(format!("GET /decline HTTP/1.1\r\n{ASK}").as_bytes())
        .await
        .unwrap();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(
        (r.status, &r.body[..]),
        (StatusCode::OK, &b"still http"[..])
    );
    conn.write_all(b"GET /declined HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "upgrade failed: the connection did not switch protocols"
    );
});

wego_test_support::each_backend!(a_101_without_an_offer_closes, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    conn.write_all(b"GET /rogue HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.status, StatusCode::SWITCHING_PROTOCOLS);
    // Nothing after the 101: the pipelined request is not answered.
    assert_eq!(until_close(&mut conn, &mut buf).await.unwrap(), b"");
});
