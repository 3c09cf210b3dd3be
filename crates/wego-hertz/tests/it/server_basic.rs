//! Basic serving: a response with Date and Server, keep-alive reuse,
//! HTTP/1.0, HEAD, and the client address extension.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use wego_hertz::Server;

use crate::support::{closed, connect, read_response, start_app};

wego_test_support::each_backend!(answers_with_date_and_server, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let resp = crate::support::roundtrip(&addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.body, b"hello");
    assert_eq!(resp.header("content-length"), Some("5"));
    assert_eq!(resp.header("server"), Some("wego"));
    let date = resp.header("date").unwrap();
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
    assert!(!resp.closes());
});

wego_test_support::each_backend!(reuses_a_keep_alive_connection, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    for _ in 0..5 {
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.body, b"hello");
    }
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert!(resp.closes());
    assert!(closed(&mut conn).await);
});

wego_test_support::each_backend!(http10_closes_unless_keep_alive, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    conn.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(resp.header("connection"), Some("keep-alive"));
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert!(resp.closes());
    assert!(closed(&mut conn).await);
});

wego_test_support::each_backend!(head_has_length_but_no_body, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    conn.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_response(&mut conn, &mut buf, true).await.unwrap();
    assert_eq!(head.header("content-length"), Some("5"));
    // The next bytes are the second response, not a body.
    let get = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(get.body, b"hello");
});

wego_test_support::each_backend!(keep_alive_off_closes_after_each, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder().with_keep_alive(false)).await;
    let mut conn = connect(&addr).await;
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    assert!(
        read_response(&mut conn, &mut buf, false)
            .await
            .unwrap()
            .closes()
    );
    assert!(closed(&mut conn).await);
});

#[test]
fn rejects_invalid_config() {
    use std::time::Duration;
    // Each setting that cannot work is a configuration error naming it.
    let cases: [(wego_hertz::server::Builder, &str); 8] = [
        (Server::builder().with_max_headers(0), "with_max_headers"),
        (
            Server::builder().with_header_read_timeout(Duration::ZERO),
            "with_header_read_timeout",
        ),
        (
            Server::builder()
                .with_max_request_line(100)
                .with_max_head_size(50),
            "with_max_request_line must not exceed with_max_head_size",
        ),
        (Server::builder().with_body_limit(0), "with_body_limit"),
        (
            Server::builder().with_max_body_size(Some(0)),
            "with_max_body_size",
        ),
        (
            Server::builder().with_idle_timeout(Duration::ZERO),
            "with_idle_timeout",
        ),
        (
            Server::builder().with_write_timeout(Duration::ZERO),
            "with_write_timeout",
        ),
        (
            Server::builder().with_shutdown_timeout(Duration::ZERO),
            "with_shutdown_timeout",
        ),
    ];
    for (builder, setting) in cases {
        let e = builder.build().unwrap_err();
        assert!(e.is_config());
        let text = e.to_string();
        assert!(text.contains(setting), "{text:?} does not name {setting}");
    }
    // No cap at all is a setting that works.
    assert!(Server::builder().with_max_body_size(None).build().is_ok());
}

#[test]
fn public_types_and_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn body_bounds<T: Send + Unpin + 'static>() {}
    body_bounds::<wego_hertz::Body>();
    body_bounds::<wego_hertz::BodyError>();
    body_bounds::<wego_hertz::Error>();
    let server = Server::builder().build().unwrap();
    let svc = tower::service_fn(crate::support::app);
    let addr: wego_netpoll::Address = "127.0.0.1:0".parse().unwrap();
    // Built, never polled: only the types are checked.
    send(&server.serve_addr(&addr, svc));
    let (io, _client) = tokio::io::duplex(64);
    send(&server.serve_connection(io, svc));
    let incoming = futures_util::stream::empty::<std::io::Result<tokio::io::DuplexStream>>();
    send(&server.serve_incoming(incoming, svc));
    send(&server.shutdown(std::time::Duration::from_secs(1)));
    send(&server.bind(&addr));
    send(&wego_hertz::Body::empty().collect_limited(1));
}

/// A service that is not ready on every other `poll_ready` (it wakes the
/// task at once), to exercise the server's wait for readiness.
#[derive(Clone, Default)]
struct Reluctant {
    polls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ready: bool,
}

impl tower_service::Service<http::Request<wego_hertz::Body>> for Reluctant {
    type Response = http::Response<wego_hertz::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        let n = self.polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n.is_multiple_of(2) {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.ready = true;
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<wego_hertz::Body>) -> Self::Future {
        assert!(std::mem::take(&mut self.ready), "called before ready");
        let body = wego_hertz::Body::from(req.uri().path().to_owned());
        std::future::ready(Ok(http::Response::new(body)))
    }
}

wego_test_support::each_backend!(
    waits_for_a_service_that_is_not_ready,
    |_backend| async move {
        let svc = Reluctant::default();
        let polls = std::sync::Arc::clone(&svc.polls);
        let (_server, addr, _task) = crate::support::start(Server::builder(), svc).await;
        let mut conn = connect(&addr).await;
        let mut buf = BytesMut::new();
        for path in ["/a", "/b", "/c"] {
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
            conn.write_all(req.as_bytes()).await.unwrap();
            let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
            assert_eq!(resp.status, StatusCode::OK);
            assert_eq!(resp.body, path.as_bytes());
        }
        // Every request was refused once before it was taken.
        assert!(polls.load(std::sync::atomic::Ordering::SeqCst) >= 6);
    }
);

/// Answers `/103` with `103 Early Hints` and a body in memory, `/100` with
/// `100 Continue` and a streamed body, and anything else with "hello".
pub(crate) async fn informational(
    req: http::Request<wego_hertz::Body>,
) -> Result<http::Response<wego_hertz::Body>, std::convert::Infallible> {
    let (status, body) = match req.uri().path() {
        "/103" => (StatusCode::EARLY_HINTS, wego_hertz::Body::from("hints")),
        "/100" => {
            let chunk = futures_util::stream::once(async {
                Ok::<_, std::convert::Infallible>(bytes::Bytes::from_static(b"streamed"))
            });
            (StatusCode::CONTINUE, wego_hertz::Body::from_stream(chunk))
        }
        _ => (StatusCode::OK, wego_hertz::Body::from("hello")),
    };
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("link", http::HeaderValue::from_static("</a.css>"));
    Ok(resp)
}

wego_test_support::each_backend!(a_1xx_final_response_becomes_a_500, |_backend| async move {
    let svc = tower::service_fn(informational);
    let (_server, addr, _task) = crate::support::start(Server::builder(), svc).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    // RFC 9110 §15.2: a 1xx is interim, and the client would wait for
    // a final response after it. Each is a 500 instead, without the
    // handler's headers or body, and the connection serves on.
    for path in ["/103", "/100"] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        conn.write_all(req.as_bytes()).await.unwrap();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(resp.header("content-length"), Some("0"), "{path}");
        assert_eq!(resp.header("link"), None, "{path}");
        assert!(resp.body.is_empty() && !resp.closes(), "{path}");
    }
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(resp.body, b"hello");
});

wego_test_support::each_backend!(
    an_expect_hook_that_rejects_with_a_1xx_gets_a_500,
    |_backend| async move {
        use wego_hertz::server::ExpectDecision;
        let builder =
            Server::builder().with_expect_hook(|_| ExpectDecision::Reject(StatusCode::PROCESSING));
        let (_server, addr, _task) = start_app(builder).await;
        let mut conn = connect(&addr).await;
        conn.write_all(
            b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(resp.closes());
        assert!(closed(&mut conn).await);
    }
);
