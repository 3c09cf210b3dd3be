//! `Upgrade: h2c` (RFC 7540 §3.2): `101`, then the upgrading request
//! answered as stream 1 of the HTTP/2 connection that follows.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wego_hertz::Server;

use crate::h2_support::{frame, preface, read_frame};
use crate::support::{connect, read_response, start_app};

const UPGRADE: &str = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
                       HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n";

wego_test_support::each_backend!(
    upgrade_answers_the_request_as_stream_one,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        let req = format!("GET / HTTP/1.1\r\nHost: t\r\n{UPGRADE}\r\n");
        conn.write_all(req.as_bytes()).await.unwrap();
        let mut head = vec![0u8; crate::h2_support::SWITCHING.len()];
        conn.read_exact(&mut head).await.unwrap();
        assert_eq!(head, crate::h2_support::SWITCHING);
        conn.write_all(&preface()).await.unwrap();
        // The server's SETTINGS come first, then stream 1's answer.
        let mut body = Vec::new();
        let mut status_200 = false;
        loop {
            let f = read_frame(&mut conn).await.expect("a frame");
            if f.kind == 0x4 && f.flags & 1 == 0 {
                conn.write_all(&frame(0x4, 1, 0, &[])).await.unwrap();
            }
            if f.stream != 1 {
                continue;
            }
            if f.kind == 0x1 {
                status_200 = f.payload.first() == Some(&0x88);
            }
            if f.kind == 0x0 {
                body.extend_from_slice(&f.payload);
            }
            if f.flags & 1 != 0 {
                break;
            }
        }
        assert!(status_200);
        assert_eq!(body, b"hello");
    }
);

wego_test_support::each_backend!(upgrade_with_a_body_stays_on_http1, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut conn = connect(&addr).await;
    let req = format!("POST /collect HTTP/1.1\r\nHost: t\r\n{UPGRADE}Content-Length: 3\r\n\r\nabc");
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut buf = BytesMut::new();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"3");
});

wego_test_support::each_backend!(
    upgrade_without_valid_settings_stays_on_http1,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        let req = "GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
        conn.write_all(req.as_bytes()).await.unwrap();
        let mut buf = BytesMut::new();
        let r = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &b"hello"[..]));
    }
);
