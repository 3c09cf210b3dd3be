//! HTTP/2 by prior knowledge on the HTTP/1.1 port: the same router,
//! handlers and middleware, streamed bodies both ways with flow control,
//! trailers, body limits, `ClientAddr`.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use wego_hertz::extract::{Json, Path};
use wego_hertz::middleware::{Next, from_fn};
use wego_hertz::server::ExpectDecision;
use wego_hertz::{Body, ClientAddr, Router, Server};

use crate::h2_support::{client, client_with, collect, get, send};
use crate::support::{roundtrip, start, start_app};

fn router() -> Router {
    Router::new()
        .get("/users/:id", |Path(id): Path<u32>| async move {
            Json(serde_json::json!({ "id": id }))
        })
        .get("/version", |req: Request<Body>| async move {
            format!(
                "{:?} {}",
                req.version(),
                req.headers()["host"].to_str().unwrap()
            )
        })
        .get("/peer", |req: Request<Body>| async move {
            req.extensions()
                .get::<ClientAddr>()
                .map_or("none".to_owned(), |a| a.0.to_string())
        })
        .layer(from_fn(|req, next: Next| async move {
            let mut res = next.run(req).await;
            res.headers_mut().insert("x-mw", "yes".parse().unwrap());
            res
        }))
}

wego_test_support::each_backend!(
    serves_the_same_router_over_both_versions,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), router()).await;
        let mut h2 = client(&addr).await;
        let r = send(&mut h2, get("/users/42"), b"").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.version(), Version::HTTP_2);
        assert_eq!(r.body(), &Bytes::from_static(br#"{"id":42}"#));
        assert_eq!(r.headers()["x-mw"], "yes");
        assert_eq!(r.headers()["content-length"], "9");
        assert_eq!(r.headers()["server"], "wego");
        assert!(r.headers().contains_key("date"));
        let r = send(&mut h2, get("/version"), b"").await;
        assert_eq!(r.body(), &Bytes::from_static(b"HTTP/2.0 t"));
        let r = send(&mut h2, get("/nowhere"), b"").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // The client's address as on HTTP/1.1.
        let r = send(&mut h2, get("/peer"), b"").await;
        assert!(
            String::from_utf8_lossy(r.body()).starts_with("127.0.0.1:"),
            "{r:?}"
        );
        // HTTP/1.1 on the same port.
        let r = roundtrip(&addr, b"GET /users/7 HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(r.body, br#"{"id":7}"#);
    }
);

wego_test_support::each_backend!(
    streams_request_and_response_bodies_past_the_windows,
    |_backend| async move {
        // Small windows: 2 MiB cannot pass unless the handler's reads
        // release capacity.
        let builder = Server::builder()
            .with_max_body_size(None)
            .with_http2_initial_stream_window_size(65_535)
            .with_http2_initial_connection_window_size(65_535);
        let (_server, addr, _task) = start_app(builder).await;
        let mut h2 = client(&addr).await;
        let body: Vec<u8> = (0..2 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let req = Request::post("http://t/echo").body(()).unwrap();
        let (resp, mut stream) = h2.send_request(req, false).unwrap();
        let data = Bytes::from(body.clone());
        let sender = async move {
            let mut data = data;
            while !data.is_empty() {
                stream.reserve_capacity(data.len().min(32 * 1024));
                let n = std::future::poll_fn(|cx| stream.poll_capacity(cx))
                    .await
                    .unwrap()
                    .unwrap();
                let chunk = data.split_to(n.min(data.len()));
                stream.send_data(chunk, false).unwrap();
            }
            let mut trailers = HeaderMap::new();
            trailers.insert("x-sum", "42".parse().unwrap());
            stream.send_trailers(trailers).unwrap();
        };
        let reader = async {
            let (parts, mut body) = resp.await.unwrap().into_parts();
            assert_eq!(parts.status, StatusCode::OK);
            let mut got = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                let _ = body.flow_control().release_capacity(chunk.len());
                got.extend_from_slice(&chunk);
            }
            // The request's trailers come back as the response's.
            let trailers = body.trailers().await.unwrap().unwrap();
            (got, trailers)
        };
        let ((), (got, trailers)) = tokio::join!(sender, reader);
        assert!(got == body, "echoed {} of {} bytes", got.len(), body.len());
        assert_eq!(trailers["x-sum"], "42");
    }
);

wego_test_support::each_backend!(streams_a_response_as_it_is_made, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut h2 = client(&addr).await;
    let r = send(&mut h2, get("/stream"), b"").await;
    assert_eq!(r.body(), &Bytes::from_static(b"one two three"));
    assert!(!r.headers().contains_key("transfer-encoding"));
    // Many streams at once on one connection.
    let mut calls = Vec::new();
    for _ in 0..50 {
        let (resp, _) = h2.send_request(get("/"), true).unwrap();
        calls.push(resp);
    }
    for resp in calls {
        let r = collect(resp.await.unwrap()).await;
        assert_eq!(r.body(), &Bytes::from_static(b"hello"));
    }
});

wego_test_support::each_backend!(body_limits_keep_their_meaning, |_backend| async move {
    let builder = Server::builder()
        .with_max_body_size(Some(1000))
        .with_expect_hook(|parts| {
            if parts.uri.path() == "/collect" {
                ExpectDecision::Continue
            } else {
                ExpectDecision::Reject(StatusCode::EXPECTATION_FAILED)
            }
        });
    let (_server, addr, _task) = start_app(builder).await;
    let mut h2 = client(&addr).await;
    // A declared length over the cap: 413 before the handler runs.
    let req = Request::post("http://t/collect")
        .header("content-length", "5000")
        .body(())
        .unwrap();
    let r = send(&mut h2, req, &[b'x'; 5000]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A body that grows past it without declaring its length.
    let req = Request::post("http://t/collect").body(()).unwrap();
    let r = send(&mut h2, req, &[b'x'; 5000]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Within it.
    let req = Request::post("http://t/collect").body(()).unwrap();
    let r = send(&mut h2, req, &[b'x'; 1000]).await;
    assert_eq!(r.body(), &Bytes::from_static(b"1000"));
    // The expect hook decides before the handler runs.
    let req = Request::post("http://t/echo")
        .header("expect", "100-continue")
        .body(())
        .unwrap();
    let r = send(&mut h2, req, b"abc").await;
    assert_eq!(r.status(), StatusCode::EXPECTATION_FAILED);
    let req = Request::post("http://t/collect")
        .header("expect", "100-continue")
        .body(())
        .unwrap();
    let r = send(&mut h2, req, b"abc").await;
    assert_eq!(r.body(), &Bytes::from_static(b"3"));
});

wego_test_support::each_backend!(
    a_1xx_final_response_becomes_a_500_over_http2,
    |_backend| async move {
        use std::time::Duration;
        use wego_netpoll::rt;

        // The handler answers `/103` and `/100` with a 1xx, and the expect
        // hook refuses `/refuse` with one.
        let builder = Server::builder().with_expect_hook(|parts| {
            if parts.uri.path() == "/refuse" {
                ExpectDecision::Reject(StatusCode::PROCESSING)
            } else {
                ExpectDecision::Continue
            }
        });
        let svc = tower::service_fn(crate::server_basic::informational);
        let (_server, addr, _task) = start(builder, svc).await;
        let mut h2 = client(&addr).await;
        let refuse = || {
            Request::put("http://t/refuse")
                .header("expect", "100-continue")
                .body(())
                .unwrap()
        };
        // RFC 9113 §8.1: a 1xx is interim, and h2 cannot end a stream with
        // one (RFC 9110 §15.2; 101 has no meaning in HTTP/2, §8.6). Each
        // is an empty 500, as on HTTP/1.1, and the connection serves on.
        for (what, req, end) in [
            ("103", get("/103"), true),
            ("100", get("/100"), true),
            ("refused", refuse(), false),
        ] {
            let (resp, _stream) = h2.send_request(req, end).unwrap();
            let resp = rt::timeout(Duration::from_secs(10), resp)
                .await
                .unwrap_or_else(|_| panic!("{what}: no answer within 10 s"))
                .unwrap_or_else(|e| panic!("{what}: the stream failed: {e}"));
            let r = collect(resp).await;
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{what}");
            assert!(r.body().is_empty(), "{what}");
            assert!(!r.headers().contains_key("link"), "{what}");
        }
        let r = send(&mut h2, get("/"), b"").await;
        assert_eq!(r.body(), &Bytes::from_static(b"hello"));
    }
);

wego_test_support::each_backend!(
    serve_h2_connection_serves_a_known_http2_io,
    |_backend| async move {
        let server = Server::builder().with_http2(false).build().unwrap();
        let (io, client_io) = tokio::io::duplex(64 * 1024);
        let svc = tower::service_fn(|req: Request<Body>| async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(Body::from(body)))
        });
        wego_netpoll::rt::spawn(server.serve_h2_connection(io, svc));
        let (mut h2, conn) = h2::client::handshake(client_io).await.unwrap();
        wego_netpoll::rt::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::post("http://t/").body(()).unwrap();
        let r = send(&mut h2, req, b"over a pipe").await;
        assert_eq!(r.body(), &Bytes::from_static(b"over a pipe"));
    }
);

wego_test_support::each_backend!(http2_off_answers_the_preface_505, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder().with_http2(false)).await;
    let r = roundtrip(&addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    assert_eq!(r.status, StatusCode::HTTP_VERSION_NOT_SUPPORTED);
    let _ = client_with;
});

wego_test_support::each_backend_paused!(
    http2_body_read_timeout_bounds_each_wait_for_data,
    |_backend| async move {
        use std::sync::Arc;
        use std::task::Poll;
        use std::time::Duration;
        use tokio::sync::{Notify, mpsc};
        use wego_netpoll::rt;

        let timeout = Duration::from_millis(200);
        let server = Server::builder()
            .with_body_read_timeout(timeout)
            .build()
            .unwrap();
        // The handler reads two frames and works between them (until the
        // test says go); it reports when each wait for data starts and
        // when it took the first frame.
        let (events_tx, mut events) = mpsc::unbounded_channel::<&str>();
        let go = Arc::new(Notify::new());
        let handler_go = Arc::clone(&go);
        let svc = tower::service_fn(move |req: Request<Body>| {
            let (events, go) = (events_tx.clone(), Arc::clone(&handler_go));
            async move {
                let mut body = req.into_body();
                let mut answer = String::new();
                for i in 0..2 {
                    if i == 1 {
                        events.send("took").unwrap();
                        go.notified().await;
                    }
                    let mut frame = std::pin::pin!(body.frame());
                    let polled =
                        std::future::poll_fn(|cx| Poll::Ready(frame.as_mut().poll(cx))).await;
                    let got = match polled {
                        Poll::Ready(got) => got,
                        Poll::Pending => {
                            events.send("waiting").unwrap();
                            frame.await
                        }
                    };
                    match got {
                        Some(Ok(f)) => {
                            answer += &format!("ok {} ", f.into_data().unwrap().len());
                        }
                        Some(Err(e)) => {
                            answer += &format!("err timeout={}", e.is_timeout());
                            break;
                        }
                        None => {
                            answer += "short";
                            break;
                        }
                    }
                }
                Ok::<_, Infallible>(Response::new(Body::from(answer)))
            }
        });
        let (io, client_io) = tokio::io::duplex(64 * 1024);
        rt::spawn(server.serve_connection(io, svc));
        let (mut h2, conn) = h2::client::handshake(client_io).await.unwrap();
        rt::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::post("http://t/slow").body(()).unwrap();
        let (resp, mut stream) = h2.send_request(req, false).unwrap();
        // The first wait starts before any DATA: the timer runs.
        assert_eq!(events.recv().await, Some("waiting"));
        stream.send_data(Bytes::from_static(b"a"), false).unwrap();
        assert_eq!(events.recv().await, Some("took"));
        // The handler works longer than the timeout, then waits again; the
        // data comes within the timeout of that wait.
        rt::advance(timeout + timeout / 2).await.unwrap();
        go.notify_one();
        if events.recv().await != Some("waiting") {
            let r = collect(resp.await.unwrap()).await;
            panic!(
                "the second read did not wait: {} {:?}",
                r.status(),
                r.body()
            );
        }
        rt::advance(timeout / 2).await.unwrap();
        stream.send_data(Bytes::from_static(b"bb"), true).unwrap();
        let r = collect(resp.await.unwrap()).await;
        assert_eq!(r.body(), &Bytes::from_static(b"ok 1 ok 2 "));
    }
);
