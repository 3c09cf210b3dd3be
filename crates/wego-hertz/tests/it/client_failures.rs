//! The client against scripted servers: connections the server closes
//! under the pool, the idempotent retry, resets mid-response and malformed
//! responses (timeouts: `timeouts`, on the paused clock). None of them may
//! hang or panic.

use bytes::BytesMut;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use wego_hertz::{Body, Client};

use crate::client_support::{raw_server, read_head, url};

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

wego_test_support::each_backend!(
    a_connection_the_server_closed_while_idle_is_not_reused,
    |_backend| async move {
        let (closed_tx, mut closed) = mpsc::channel::<()>(1);
        let (addr, accepts) = raw_server(move |n, mut conn| {
            let closed_tx = closed_tx.clone();
            async move {
                let mut buf = BytesMut::new();
                if n == 0 {
                    // One response, then the server closes the idle
                    // connection, as a keep-alive timeout would.
                    assert!(read_head(&mut conn, &mut buf).await);
                    conn.write_all(OK).await.unwrap();
                    drop(conn);
                    closed_tx.send(()).await.unwrap();
                    return;
                }
                while read_head(&mut conn, &mut buf).await {
                    // The POST's one-byte body.
                    while buf.is_empty() {
                        tokio::io::AsyncReadExt::read_buf(&mut conn, &mut buf)
                            .await
                            .unwrap();
                    }
                    buf.clear();
                    conn.write_all(OK).await.unwrap();
                }
            }
        })
        .await;
        let client = Client::builder().build().unwrap();
        let resp = client.get(url(&addr, "/")).await.unwrap();
        assert_eq!(
            &resp.into_body().collect_limited(10).await.unwrap()[..],
            b"ok"
        );
        closed.recv().await.unwrap();
        // A POST is never retried: it succeeds only because the pool saw
        // the closed connection and opened a new one.
        let req = Request::post(url(&addr, "/"))
            .body(Body::from("x"))
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(accepts.get(), 2);
    }
);

/// A server whose first connection answers one request, then reads the
/// next one and closes without answering (the race `is_active` cannot
/// see); later connections answer everything.
async fn drops_the_second_request() -> (wego_netpoll::Address, crate::client_support::Accepts) {
    raw_server(|n, mut conn| async move {
        let mut buf = BytesMut::new();
        if n == 0 {
            assert!(read_head(&mut conn, &mut buf).await);
            conn.write_all(OK).await.unwrap();
            let _ = read_head(&mut conn, &mut buf).await;
            return;
        }
        while read_head(&mut conn, &mut buf).await {
            buf.clear();
            conn.write_all(OK).await.unwrap();
        }
    })
    .await
}

wego_test_support::each_backend!(
    idempotent_request_is_retried_once_on_a_fresh_connection,
    |_backend| async move {
        let (addr, accepts) = drops_the_second_request().await;
        let client = Client::builder().build().unwrap();
        for _ in 0..2 {
            let req = Request::put(url(&addr, "/"))
                .body(Body::from("same"))
                .unwrap();
            let resp = client.request(req).await.unwrap();
            assert_eq!(
                &resp.into_body().collect_limited(10).await.unwrap()[..],
                b"ok"
            );
        }
        assert_eq!(accepts.get(), 2);
    }
);

wego_test_support::each_backend!(post_is_not_retried, |_backend| async move {
    let (addr, accepts) = drops_the_second_request().await;
    let client = Client::builder().build().unwrap();
    let resp = client.get(url(&addr, "/")).await.unwrap();
    assert_eq!(
        &resp.into_body().collect_limited(10).await.unwrap()[..],
        b"ok"
    );
    let req = Request::post(url(&addr, "/"))
        .body(Body::from("once"))
        .unwrap();
    let err = client.request(req).await.unwrap_err();
    assert!(err.is_closed(), "{err}");
    assert_eq!(accepts.get(), 1);
});

wego_test_support::each_backend!(
    a_server_closing_mid_response_is_an_error,
    |_backend| async move {
        let (addr, _accepts) = raw_server(|n, mut conn| async move {
            let mut buf = BytesMut::new();
            assert!(read_head(&mut conn, &mut buf).await);
            let partial: &[u8] = match n {
                0 => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
                1 => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n3\r\nab",
                2 => b"HTTP/1.1 200 OK\r\nContent-Le",
                _ => b"",
            };
            conn.write_all(partial).await.unwrap();
        })
        .await;
        let client = Client::builder().build().unwrap();
        for _ in 0..2 {
            let body = client.get(url(&addr, "/")).await.unwrap().into_body();
            let err = body.collect_limited(1000).await.unwrap_err();
            assert!(err.is_incomplete(), "{err}");
        }
        for _ in 0..2 {
            let err = client.get(url(&addr, "/")).await.unwrap_err();
            assert!(err.is_closed(), "{err}");
        }
    }
);

wego_test_support::each_backend!(
    malformed_or_oversized_response_heads_are_protocol_errors,
    |_backend| async move {
        let (addr, _accepts) = raw_server(|n, mut conn| async move {
            let mut buf = BytesMut::new();
            assert!(read_head(&mut conn, &mut buf).await);
            let reply: Vec<u8> = match n {
                0 => b"HTTP/1.1 abc OK\r\n\r\n".to_vec(),
                1 => b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_vec(),
                _ => {
                    let mut long = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
                    long.resize(long.len() + 2048, b'a');
                    long
                }
            };
            let _ = conn.write_all(&reply).await;
        })
        .await;
        let client = Client::builder()
            .with_max_response_head(1024)
            .build()
            .unwrap();
        for _ in 0..3 {
            let err = client.get(url(&addr, "/")).await.unwrap_err();
            assert!(err.is_protocol(), "{err}");
        }
    }
);

wego_test_support::each_backend!(interim_responses_are_skipped, |_backend| async move {
    let (addr, _accepts) = raw_server(|_n, mut conn| async move {
        let mut buf = BytesMut::new();
        assert!(read_head(&mut conn, &mut buf).await);
        conn.write_all(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        )
        .await
        .unwrap();
        conn.write_all(OK).await.unwrap();
    })
    .await;
    let client = Client::builder().build().unwrap();
    let resp = client.get(url(&addr, "/")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"ok");
});
