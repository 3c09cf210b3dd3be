//! Every request-smuggling shape gets 400 (or 505 / 501) and a closed
//! connection, over a real socket.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use wego_hertz::Server;

use crate::support::{closed, connect, read_response, roundtrip, start_app};

const SHAPES: &[(&str, &[u8], u16)] = &[
    ("cl and te", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("differing cl", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400),
    ("te not chunked last", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
    ("te gzip only", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
    ("nul in value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400),
    ("bare cr in value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
    ("bare lf", b"GET / HTTP/1.1\nHost: x\n\n", 400),
    ("bad method", b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("no host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("http/2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("te with http/1.0", b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
];

wego_test_support::each_backend!(smuggling_shapes_get_400_and_close, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    for (name, raw, status) in SHAPES {
        let mut conn = connect(&addr).await;
        conn.write_all(raw).await.unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.status.as_u16(), *status, "{name}");
        assert!(resp.closes(), "{name}");
        assert!(closed(&mut conn).await, "{name}");
    }
});

wego_test_support::each_backend!(
    bad_chunk_sizes_fail_the_body_and_close,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        for body in [
            &b"zz\r\n"[..],
            b"fffffffffffffffff1\r\n",
            b"5\r\nabcdeXX",
            b"-5\r\n",
        ] {
            let mut conn = connect(&addr).await;
            let mut raw =
                b"POST /collect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            raw.extend_from_slice(body);
            conn.write_all(&raw).await.unwrap();
            let mut buf = BytesMut::new();
            let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
            assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{body:?}");
            assert!(resp.closes());
            assert!(closed(&mut conn).await);
        }
    }
);

wego_test_support::each_backend!(
    rejects_host_values_that_are_not_uri_host,
    |_backend| async move {
        // RFC 9112 §3.2: a Host that is not `uri-host [":" port]` gets 400
        // before any handler runs, whatever the route.
        let (_server, addr, _task) = start_app(Server::builder()).await;
        for host in [
            "exa mple.com",
            "a/b",
            "[::1",
            "[::1]x",
            "x:80:80",
            "u@x",
            "x:8o",
        ] {
            for (path, body) in [
                ("/", ""),
                ("/echo", "Content-Length: 2\r\n\r\nok"),
                (
                    "/collect",
                    "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                ),
                ("/fail-first", "Content-Length: 2\r\n\r\nok"),
            ] {
                let end = if body.is_empty() { "\r\n" } else { body };
                let raw = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\n{end}");
                let mut conn = connect(&addr).await;
                conn.write_all(raw.as_bytes()).await.unwrap();
                let mut buf = BytesMut::new();
                let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
                assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{raw:?}");
                assert!(resp.closes());
                assert!(closed(&mut conn).await);
            }
        }
        for host in ["example.com:8080", "[::1]:80", "127.0.0.1", ""] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(
                roundtrip(&addr, raw.as_bytes()).await.body,
                b"hello",
                "{host:?}"
            );
        }
    }
);
