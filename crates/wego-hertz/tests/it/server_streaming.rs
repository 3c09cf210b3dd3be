//! Streaming bodies both ways: uploads reach the handler before they end,
//! responses of unknown length go out chunked, and a handler can stream its
//! request body straight into its response.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use wego_hertz::Server;

use crate::support::{closed, connect, read_response, read_until, start_app};

wego_test_support::each_backend!(
    chunked_upload_is_streamed_to_the_handler,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        // Only the first chunk is sent; the handler answers after one frame, so
        // it cannot have buffered the whole body.
        conn.write_all(b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nabcdefg\r\n")
        .await
        .unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.body, b"7");
        // The rest of the body is drained, and the connection stays usable.
        conn.write_all(b"3\r\nxyz\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.body, b"hello");
    }
);

wego_test_support::each_backend!(
    large_upload_echoed_through_a_stream,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let (mut rd, mut wr) = tokio::io::split(conn);
        let sent = body.clone();
        let writer = wego_netpoll::rt::spawn(async move {
            wr.write_all(head.as_bytes()).await.unwrap();
            for piece in sent.chunks(64 * 1024) {
                wr.write_all(piece).await.unwrap();
            }
            wr
        });
        // Read the echo while still sending: the server must stream both ways.
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut head_done = false;
        while got.len() < body.len() {
            buf.reserve(65536);
            let n = tokio::io::AsyncReadExt::read_buf(&mut rd, &mut buf)
                .await
                .unwrap();
            assert!(n > 0, "eof after {} bytes", got.len());
            if !head_done {
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8(buf.split_to(end + 4).to_vec()).unwrap();
                    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                    assert!(head.contains("content-length: 3000000"), "{head}");
                    head_done = true;
                } else {
                    continue;
                }
            }
            got.extend_from_slice(&buf.split());
        }
        assert_eq!(got, body);
        let wr = writer.await.unwrap();
        conn = rd.unsplit(wr);
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(
            read_response(&mut conn, &mut buf, false)
                .await
                .unwrap()
                .body,
            b"hello"
        );
    }
);

wego_test_support::each_backend!(
    unknown_length_responses_are_chunked,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        conn.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert!(resp.chunked);
        assert_eq!(resp.body, b"one two three");
        assert_eq!(
            read_response(&mut conn, &mut buf, false)
                .await
                .unwrap()
                .body,
            b"hello"
        );
        // HTTP/1.0 has no chunked: delimited by close instead.
        let mut conn = connect(&addr).await;
        conn.write_all(b"GET /stream HTTP/1.0\r\n\r\n")
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert!(!resp.chunked && resp.closes());
        assert_eq!(resp.body, b"one two three");
    }
);

wego_test_support::each_backend!(
    chunked_echo_keeps_trailers_out_of_the_body,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        conn.write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Check: 1\r\n\r\n",
        )
        .await
        .unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.status, StatusCode::OK);
        assert!(resp.chunked);
        assert_eq!(resp.body, b"abcde");
    }
);

wego_test_support::each_backend!(
    unread_body_past_the_drain_limit_closes,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder().with_drain_limit(1024)).await;
        let mut conn = connect(&addr).await;
        let body = vec![b'a'; 200_000];
        let head = format!(
            "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        let _ = conn.write_all(&body).await;
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.body, b"ignored");
        // The declared length says at once that the rest cannot be
        // drained: the head tells the client the connection ends.
        assert!(resp.closes(), "no `connection: close` in the head");
        assert!(closed(&mut conn).await);
    }
);

wego_test_support::each_backend!(
    unread_body_within_the_drain_limit_is_drained_and_the_connection_kept,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder().with_drain_limit(1024)).await;
        let mut conn = connect(&addr).await;
        let body = vec![b'a'; 1024];
        let head = format!(
            "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(&body).await.unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.body, b"ignored");
        assert!(!resp.closes());
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.body, b"hello");
    }
);

wego_test_support::each_backend!(
    responses_larger_than_the_connection_buffer_survive_partial_writes,
    |_backend| async move {
        // Each response is 512 frames of 8,000 bytes (small enough to be
        // copied into the write buffer), each frame a different byte: a write
        // that resumed at the wrong place after the IO took only part of
        // the buffer would duplicate or lose bytes, and the check below sees
        // it.
        const FRAMES: usize = 512;
        const FRAME: usize = 8_000;
        let svc = tower::service_fn(|_req: http::Request<wego_hertz::Body>| async move {
            let frames = futures_util::stream::iter((0..FRAMES).map(|i| {
                Ok::<_, std::io::Error>(bytes::Bytes::from(vec![(i % 251) as u8; FRAME]))
            }));
            Ok::<_, std::convert::Infallible>(http::Response::new(wego_hertz::Body::from_stream(
                frames,
            )))
        });
        // A pipe of 1 KiB each way: the server fills it at once and must
        // wait for room many times over.
        let server = Server::builder().build().unwrap();
        let (io, mut conn) = tokio::io::duplex(1024);
        let _served = wego_netpoll::rt::spawn(server.serve_connection(io, svc));
        // Three pipelined requests.
        conn.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let expected: Vec<u8> = (0..FRAMES)
            .flat_map(|i| vec![(i % 251) as u8; FRAME])
            .collect();
        let mut buf = BytesMut::new();
        for _ in 0..3 {
            let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
            assert_eq!(resp.status, StatusCode::OK);
            assert!(resp.chunked);
            assert_eq!(resp.body.len(), expected.len());
            assert!(resp.body == expected, "response body corrupted");
        }
    }
);

wego_test_support::each_backend!(
    flush_head_sends_the_head_before_the_first_frame,
    |_backend| async move {
        // Each response's first frame waits for the test, which first
        // reads the head: without `FlushHead` the head would wait for the
        // frame (and the test would time out).
        use std::sync::Arc;

        use tokio::sync::Notify;
        use wego_hertz::Body;
        use wego_hertz::response::{Event, FlushHead, IntoResponse, Sse};

        let gate = Arc::new(Notify::new());
        let g = Arc::clone(&gate);
        let svc = tower::service_fn(move |req: http::Request<Body>| {
            let g = Arc::clone(&g);
            async move {
                let first = async move {
                    g.notified().await;
                    "first"
                };
                let resp = if req.uri().path() == "/sse" {
                    let events = futures_util::stream::once(async move {
                        Ok::<_, std::io::Error>(Event::new().with_data(first.await))
                    });
                    Sse::new(events).into_response()
                } else {
                    let frames = futures_util::stream::once(async move {
                        Ok::<_, std::io::Error>(bytes::Bytes::from(first.await))
                    });
                    (FlushHead, Body::from_stream(frames)).into_response()
                };
                Ok::<_, std::convert::Infallible>(resp)
            }
        });
        let (_server, addr, _task) = crate::support::start(Server::builder(), svc).await;
        let mut conn = connect(&addr).await;
        for (path, frame) in [("/sse", "data: first\n\n"), ("/poll", "first")] {
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
            conn.write_all(req.as_bytes()).await.unwrap();
            let head = read_until(&mut conn, b"\r\n\r\n").await;
            assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"), "{head:?}");
            let head = String::from_utf8(head).unwrap();
            assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
            gate.notify_one();
            let rest = read_until(&mut conn, b"0\r\n\r\n").await;
            let want = format!("{:x}\r\n{frame}\r\n0\r\n\r\n", frame.len());
            assert_eq!(String::from_utf8(rest).unwrap(), want, "{path}");
        }
    }
);
