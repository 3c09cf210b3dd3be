//! `Expect: 100-continue`: sent when the handler reads the body, never when
//! the decision hook refuses.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use wego_hertz::Server;
use wego_hertz::server::ExpectDecision;

use crate::support::{closed, connect, read_response, start_app};

wego_test_support::each_backend!(continues_when_the_handler_reads, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut conn = connect(&addr).await;
    conn.write_all(
        b"POST /collect HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = BytesMut::new();
    let interim = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(interim.status, StatusCode::CONTINUE);
    conn.write_all(b"hello").await.unwrap();
    let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.body, b"5");
    assert!(!resp.closes());
    // A handler that streams the body into its response reads it only
    // after the final head: no 100, the client sends the body anyway.
    conn.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    wego_netpoll::rt::sleep(std::time::Duration::from_millis(50)).await;
    conn.write_all(b"world").await.unwrap();
    let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.body, b"world");
});

wego_test_support::each_backend!(
    no_continue_when_the_handler_ignores_the_body,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        conn.write_all(b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.body, b"ignored");
        assert!(resp.closes());
        assert!(closed(&mut conn).await);
    }
);

wego_test_support::each_backend!(hook_refuses_before_the_body, |_backend| async move {
    let builder = Server::builder().expect_hook(|parts| {
        if parts.headers.contains_key("authorization") {
            ExpectDecision::Continue
        } else {
            ExpectDecision::Reject(StatusCode::UNAUTHORIZED)
        }
    });
    let (_server, addr, _task) = start_app(builder).await;
    let mut conn = connect(&addr).await;
    conn.write_all(
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = BytesMut::new();
    let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert!(resp.closes());
    assert!(closed(&mut conn).await);

    let mut conn = connect(&addr).await;
    conn.write_all(b"PUT /collect HTTP/1.1\r\nHost: x\r\nAuthorization: yes\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    assert_eq!(
        read_response(&mut conn, &mut buf, false)
            .await
            .unwrap()
            .status,
        StatusCode::CONTINUE
    );
    conn.write_all(b"ok").await.unwrap();
    assert_eq!(
        read_response(&mut conn, &mut buf, false)
            .await
            .unwrap()
            .body,
        b"2"
    );
});
