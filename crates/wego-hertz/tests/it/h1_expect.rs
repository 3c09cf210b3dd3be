//! `Expect: 100-continue`: sent when the handler reads the body, never when
//! the decision hook refuses.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use wego_hertz::Server;
use wego_hertz::server::ExpectDecision;

use crate::support::{closed, connect, read_response, read_until, start_app, until_close};

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
});

wego_test_support::each_backend!(continues_a_streaming_handler, |_backend| async move {
    // `/echo` returns the request body as its response body: the response
    // writer is what polls it first, before any response byte exists.
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    for (framing, body) in [
        ("Content-Length: 5", "hello"),
        ("Transfer-Encoding: chunked", "5\r\nworld\r\n0\r\n\r\n"),
    ] {
        let head =
            format!("POST /echo HTTP/1.1\r\nHost: x\r\n{framing}\r\nExpect: 100-continue\r\n\r\n");
        conn.write_all(head.as_bytes()).await.unwrap();
        // The client waits for the interim answer, as RFC 9110 allows.
        let interim = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(interim.status, StatusCode::CONTINUE, "{framing}");
        conn.write_all(body.as_bytes()).await.unwrap();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.body.len(), 5);
        assert!(!resp.closes(), "{framing}");
    }
    // The connection is still usable.
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(resp.body, b"hello");
});

wego_test_support::each_backend!(
    continues_a_handler_failing_before_its_first_byte,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        conn.write_all(b"POST /fail-first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        let interim = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(interim.status, StatusCode::CONTINUE);
        conn.write_all(b"hello").await.unwrap();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(resp.closes());
        assert!(closed(&mut conn).await);
    }
);

wego_test_support::each_backend!(no_continue_after_the_final_head, |_backend| async move {
    // `/fail-after` writes its head and a first frame before it reads
    // the body: a 100 may not follow a final status, so the client
    // sends the body after its own wait (RFC 9110 §10.1.1).
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut conn = connect(&addr).await;
    conn.write_all(b"POST /fail-after HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            .await
            .unwrap();
    let seen = read_until(&mut conn, b"7\r\npartial\r\n").await;
    assert!(seen.starts_with(b"HTTP/1.1 200 OK\r\n"), "{seen:?}");
    conn.write_all(b"hello").await.unwrap();
    let rest = until_close(&mut conn, &mut BytesMut::new()).await.unwrap();
    assert!(rest.is_empty(), "{rest:?}");
});

wego_test_support::each_backend!(
    body_over_the_default_cap_gets_413_without_continue,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let over = wego_hertz::server::DEFAULT_MAX_BODY_SIZE + 1;
        for path in ["/echo", "/collect", "/fail-first"] {
            let mut conn = connect(&addr).await;
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {over}\r\nExpect: 100-continue\r\n\r\n"
            );
            conn.write_all(head.as_bytes()).await.unwrap();
            let mut buf = BytesMut::new();
            let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
            assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
            assert!(resp.closes());
            assert!(closed(&mut conn).await);
        }
        // At the cap: continued.
        let mut conn = connect(&addr).await;
        let at = wego_hertz::server::DEFAULT_MAX_BODY_SIZE;
        let head = format!(
            "POST /collect HTTP/1.1\r\nHost: x\r\nContent-Length: {at}\r\nExpect: 100-continue\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.status, StatusCode::CONTINUE);
    }
);

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
    let builder = Server::builder().with_expect_hook(|parts| {
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
