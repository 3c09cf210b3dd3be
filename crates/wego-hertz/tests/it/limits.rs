//! Each limit answers with its status: 414, 431, 413 (408: `timeouts`).

use std::time::Duration;

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wego_hertz::Server;

use crate::support::{closed, connect, read_response, roundtrip, server_closed_all, start_app};

wego_test_support::each_backend!(long_request_line_gets_414, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let req = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
    let resp = roundtrip(&addr, req.as_bytes()).await;
    assert_eq!(resp.status, StatusCode::URI_TOO_LONG);
    assert!(resp.closes());
});

wego_test_support::each_backend!(large_or_many_headers_get_431, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let req = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(70_000)
    );
    let mut conn = connect(&addr).await;
    let _ = conn.write_all(req.as_bytes()).await;
    let mut buf = BytesMut::new();
    let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(resp.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    let mut req = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..101 {
        req.push_str(&format!("X-{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let resp = roundtrip(&addr, req.as_bytes()).await;
    assert_eq!(resp.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
});

wego_test_support::each_backend!(
    buffered_body_past_the_limit_gets_413,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder().with_body_limit(1000)).await;
        let ok = format!(
            "POST /collect HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{}",
            "a".repeat(1000)
        );
        assert_eq!(roundtrip(&addr, ok.as_bytes()).await.body, b"1000");
        let big = format!(
            "POST /collect HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n{}",
            "a".repeat(1001)
        );
        assert_eq!(
            roundtrip(&addr, big.as_bytes()).await.status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        // Chunked: only known to be too large while reading.
        let chunked = format!(
            "POST /collect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n{}\r\n1\r\nb\r\n0\r\n\r\n",
            "a".repeat(1000)
        );
        assert_eq!(
            roundtrip(&addr, chunked.as_bytes()).await.status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
);

wego_test_support::each_backend!(
    hard_body_cap_gets_413_before_the_handler,
    |_backend| async move {
        let (_server, addr, _task) =
            start_app(Server::builder().with_max_body_size(Some(10))).await;
        let resp = roundtrip(
            &addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
        )
        .await;
        assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(resp.closes());
    }
);

wego_test_support::each_backend!(
    an_early_413_reaches_a_client_that_sends_its_whole_body_first,
    |_backend| async move {
        // RFC 9112 §9.6: the server answers 413 from the head alone, and
        // the client sends its body before it reads the answer. Were the
        // socket closed at once, the body's bytes would meet a closed
        // socket and the kernel would reset the connection: the client's
        // writes fail before it gets to read the 413. The server lingers
        // instead, reading and discarding, until the client closes.
        // A linger longer than any test's run: the client's close ends it.
        let builder = Server::builder()
            .with_max_body_size(Some(1000))
            .with_linger_timeout(Duration::from_secs(60));
        let (server, addr, _task) = start_app(builder).await;
        let mut conn = connect(&addr).await;
        const BODY: usize = 128 * 1024;
        let head = format!("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY}\r\n\r\n");
        conn.write_all(head.as_bytes()).await.unwrap();
        // The answer's first byte has come, so the server is done with the
        // request: every byte of the body below comes after its decision.
        let mut first = [0u8; 1];
        conn.read_exact(&mut first).await.unwrap();
        let chunk = [b'x'; 8 * 1024];
        for i in 0..BODY / chunk.len() {
            if let Err(e) = conn.write_all(&chunk).await {
                panic!("body write {i} failed: {e}");
            }
        }
        let mut buf = BytesMut::from(&first[..]);
        let resp = read_response(&mut conn, &mut buf, false)
            .await
            .expect("the whole 413");
        assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(resp.closes());
        assert!(closed(&mut conn).await);
        // The client's close ends the lingering.
        drop(conn);
        assert!(server_closed_all(&server).await);
    }
);
