//! Request bodies that break their framing or the server's body cap, for
//! each shape of handler: buffered (`/collect`), streaming (`/echo`, which
//! returns the request body as its response body), failing before its
//! first response byte (`/fail-first`) and after it (`/fail-after`).
//!
//! The response head waits for the response body's first frame, so an
//! error found before it is answered with a status (400, 413) and the
//! connection closes; after it, the connection closes mid-body.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use wego_hertz::Server;
use wego_netpoll::Address;

use crate::support::{Resp, closed, connect, read_response, read_until, start_app, until_close};

/// The malformed chunked bodies: a non-hex size, a size overflowing 64
/// bits, a negative size, data past the chunk size, a bare LF after the
/// size.
const MALFORMED: [&str; 5] = [
    "zz\r\nhello\r\n0\r\n\r\n",
    "1ffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "-5\r\nhello\r\n0\r\n\r\n",
    "3\r\nhello\r\n0\r\n\r\n",
    "5\nhello\r\n0\r\n\r\n",
];

fn chunked_post(path: &str, body: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}")
}

/// Sends `raw` and reads one response, then checks that the server closes.
async fn answered_then_closed(addr: &Address, raw: &str) -> Resp {
    let mut conn = connect(addr).await;
    conn.write_all(raw.as_bytes()).await.unwrap();
    let mut buf = BytesMut::new();
    let resp = read_response(&mut conn, &mut buf, false)
        .await
        .expect("a response");
    assert!(closed(&mut conn).await, "{raw:?}: connection left open");
    resp
}

wego_test_support::each_backend!(
    malformed_chunked_bodies_get_400_before_any_response_byte,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        for path in ["/echo", "/collect", "/fail-first"] {
            for body in MALFORMED {
                let resp = answered_then_closed(&addr, &chunked_post(path, body)).await;
                assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{path} {body:?}");
                assert!(resp.closes(), "{path} {body:?}");
                assert!(resp.body.is_empty(), "{path} {body:?}");
            }
        }
    }
);

wego_test_support::each_backend!(
    malformed_chunked_body_after_the_first_response_byte_closes,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        // `/echo`: a valid first chunk goes out (head and chunk), then the
        // broken one ends the connection without the last chunk.
        let mut conn = connect(&addr).await;
        conn.write_all(chunked_post("/echo", "5\r\nhello\r\n").as_bytes())
            .await
            .unwrap();
        let seen = read_until(&mut conn, b"hello").await;
        assert!(seen.starts_with(b"HTTP/1.1 200 OK\r\n"), "{seen:?}");
        conn.write_all(b"zz\r\n").await.unwrap();
        let rest = until_close(&mut conn, &mut BytesMut::new()).await.unwrap();
        assert!(!rest.ends_with(b"0\r\n\r\n"), "{rest:?}");

        // `/fail-after`: its head and first frame are out before it reads
        // the request body.
        for body in MALFORMED {
            let mut conn = connect(&addr).await;
            conn.write_all(chunked_post("/fail-after", body).as_bytes())
                .await
                .unwrap();
            let all = until_close(&mut conn, &mut BytesMut::new()).await.unwrap();
            assert!(all.starts_with(b"HTTP/1.1 200 OK\r\n"), "{body:?}");
            assert!(all.ends_with(b"7\r\npartial\r\n"), "{body:?}: {all:?}");
        }
    }
);

wego_test_support::each_backend!(
    chunked_body_past_the_cap_gets_413_before_any_response_byte,
    |_backend| async move {
        let (_server, addr, _task) =
            start_app(Server::builder().with_max_body_size(Some(10))).await;
        let big = "a".repeat(11);
        let body = format!("b\r\n{big}\r\n0\r\n\r\n");
        for path in ["/echo", "/collect", "/fail-first"] {
            let resp = answered_then_closed(&addr, &chunked_post(path, &body)).await;
            assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
            assert!(resp.closes(), "{path}");
        }
        // Growing past the cap over several chunks, all before the first
        // response byte of `/collect`.
        let body = "6\r\naaaaaa\r\n6\r\naaaaaa\r\n0\r\n\r\n";
        let resp = answered_then_closed(&addr, &chunked_post("/collect", body)).await;
        assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
        // Within the cap, every shape works and keeps the connection.
        let mut conn = connect(&addr).await;
        let mut buf = BytesMut::new();
        for (path, want) in [("/echo", &b"aaaaaaaaaa"[..]), ("/collect", b"10")] {
            conn.write_all(chunked_post(path, "a\r\naaaaaaaaaa\r\n0\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
            assert_eq!((resp.status, &resp.body[..]), (StatusCode::OK, want));
            assert!(!resp.closes());
        }
    }
);

wego_test_support::each_backend!(
    chunked_body_past_the_cap_after_the_first_response_byte_closes,
    |_backend| async move {
        let (_server, addr, _task) =
            start_app(Server::builder().with_max_body_size(Some(10))).await;
        let mut conn = connect(&addr).await;
        conn.write_all(chunked_post("/echo", "6\r\naaaaaa\r\n").as_bytes())
            .await
            .unwrap();
        let seen = read_until(&mut conn, b"aaaaaa").await;
        assert!(seen.starts_with(b"HTTP/1.1 200 OK\r\n"), "{seen:?}");
        conn.write_all(b"6\r\nbbbbbb\r\n0\r\n\r\n").await.unwrap();
        let rest = until_close(&mut conn, &mut BytesMut::new()).await.unwrap();
        assert!(!rest.ends_with(b"0\r\n\r\n"), "{rest:?}");

        let all = {
            let mut conn = connect(&addr).await;
            let body = format!("b\r\n{}\r\n0\r\n\r\n", "a".repeat(11));
            conn.write_all(chunked_post("/fail-after", &body).as_bytes())
                .await
                .unwrap();
            until_close(&mut conn, &mut BytesMut::new()).await.unwrap()
        };
        assert!(all.starts_with(b"HTTP/1.1 200 OK\r\n"), "{all:?}");
        assert!(all.ends_with(b"7\r\npartial\r\n"), "{all:?}");
    }
);

wego_test_support::each_backend!(
    handler_failing_before_its_first_byte_gets_500,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        for raw in [
            "POST /fail-first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok".to_owned(),
            chunked_post("/fail-first", "2\r\nok\r\n0\r\n\r\n"),
            "GET /fail-first HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        ] {
            let resp = answered_then_closed(&addr, &raw).await;
            assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR, "{raw:?}");
            assert!(resp.closes());
        }
    }
);
