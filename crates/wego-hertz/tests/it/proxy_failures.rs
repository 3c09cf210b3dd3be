//! The reverse proxy when its upstream fails: unreachable (502), dying
//! before or in the middle of its response (502, or a
//! response cut off), retries for idempotent requests only, and the
//! request body limit (413). A slow upstream (504) is in `timeouts`, on
//! the paused clock.

use bytes::BytesMut;
use http::{Request, StatusCode};
use tokio::io::AsyncWriteExt;
use wego_hertz::{Body, Client, Server};
use wego_netpoll::{Address, Conn};

use crate::client_support::{raw_server, read_head, wego_server};
use crate::proxy::{channel_body, proxy_to, serve_proxy, within};
use crate::support::{connect, until_close};

/// Sends `GET path` to the proxy and returns the status and body.
async fn get(proxy: &Address, path: &str) -> (StatusCode, String) {
    request(
        proxy,
        Request::get(format!("http://{proxy}{path}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn request(proxy: &Address, mut req: Request<Body>) -> (StatusCode, String) {
    if req.uri().authority().is_none() {
        *req.uri_mut() = format!("http://{proxy}{}", req.uri()).parse().unwrap();
    }
    let client = Client::builder().build().unwrap();
    let resp = within(client.request(req)).await.unwrap();
    let status = resp.status();
    let body = within(resp.into_body().collect_limited(1 << 16))
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// An address on which nothing listens: a loopback listener's, closed.
async fn closed_port() -> Address {
    let listener = wego_test_support::loopback().await;
    listener.local_addr().clone()
}

wego_test_support::each_backend!(an_unreachable_upstream_is_502, |_backend| async move {
    let upstream = closed_port().await;
    let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
    let (status, body) = get(&proxy, "/x").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body, "upstream connect failed\n");
});

/// Sends `GET /` on a raw connection to `proxy` and reads everything until
/// the proxy closes: the head (lowercased) and the body bytes.
async fn raw_get_until_close(proxy: &Address) -> (String, Vec<u8>) {
    let mut conn = connect(proxy).await;
    conn.write_all(b"GET / HTTP/1.1\r\nhost: p\r\n\r\n")
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let all = until_close(&mut conn, &mut buf)
        .await
        .expect("the proxy closes the connection");
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8(all[..end].to_vec())
        .unwrap()
        .to_ascii_lowercase();
    (head, all[end..].to_vec())
}

/// An upstream that answers each request with `response` and then closes
/// the connection.
async fn dying_upstream(response: &'static [u8]) -> Address {
    let (upstream, _accepts) = raw_server(move |_n, mut conn: Conn| async move {
        let mut buf = BytesMut::new();
        if read_head(&mut conn, &mut buf).await {
            let _ = conn.write_all(response).await;
            let _ = conn.shutdown().await;
        }
    })
    .await;
    upstream
}

wego_test_support::each_backend!(
    an_upstream_dying_mid_response_cuts_the_response,
    |_backend| async move {
        // Content-Length 100, 10 bytes, then the upstream closes: the client
        // gets the head, the 10 bytes and a closed connection.
        let upstream =
            dying_upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789").await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
        let (head, body) = raw_get_until_close(&proxy).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("content-length: 100\r\n"), "{head}");
        assert_eq!(body, b"0123456789");

        // Chunked: one chunk, then the upstream closes: no last chunk.
        let upstream = dying_upstream(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\n0123456789\r\n",
        )
        .await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
        let (head, body) = raw_get_until_close(&proxy).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
        assert_eq!(body, b"a\r\n0123456789\r\n", "no last chunk");

        // Through wego's client the cut is an error, not a short success.
        let client = Client::builder().build().unwrap();
        let resp = within(client.get(format!("http://{proxy}/")))
            .await
            .unwrap();
        let e = within(resp.into_body().collect_limited(1000))
            .await
            .unwrap_err();
        assert!(e.is_incomplete(), "{e}");
        // Over HTTP/2 the stream is reset: an error too, on the head
        // when the reset overtook it, else on the body.
        let h2 = Client::builder()
            .with_http2_prior_knowledge()
            .build()
            .unwrap();
        match within(h2.get(format!("http://{proxy}/"))).await {
            Err(e) => assert!(e.is_closed(), "{e}"),
            Ok(resp) => {
                assert_eq!(resp.version(), http::Version::HTTP_2);
                assert!(
                    within(resp.into_body().collect_limited(1000))
                        .await
                        .is_err()
                );
            }
        }
    }
);

wego_test_support::each_backend!(
    an_upstream_dying_before_its_body_is_502,
    |_backend| async move {
        let upstream = dying_upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n").await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
        assert_eq!(
            get(&proxy, "/").await,
            (
                StatusCode::BAD_GATEWAY,
                "bad upstream response\n".to_owned()
            )
        );
        // A malformed head is a bad response too.
        let upstream = dying_upstream(b"HTTP/1.1 2x0 Nope\r\n\r\n").await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
        assert_eq!(
            get(&proxy, "/").await,
            (
                StatusCode::BAD_GATEWAY,
                "bad upstream response\n".to_owned()
            )
        );
    }
);

/// An upstream whose first connection closes after reading the request
/// head, without an answer; later connections answer `200 ok`.
async fn flaky_upstream() -> (Address, crate::client_support::Accepts) {
    raw_server(|n, mut conn: Conn| async move {
        let mut buf = BytesMut::new();
        if !read_head(&mut conn, &mut buf).await {
            return;
        }
        if n == 0 {
            return;
        }
        let _ = conn
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await;
        let _ = conn.shutdown().await;
    })
    .await
}

fn with_body(method: http::Method, body: &'static str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri("/r")
        .body(Body::from(body))
        .unwrap()
}

wego_test_support::each_backend!(
    idempotent_requests_are_retried_post_never,
    |_backend| async move {
        // GET: the first connection closes unanswered, the retry answers.
        let (upstream, accepts) = flaky_upstream().await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
        assert_eq!(get(&proxy, "/r").await, (StatusCode::OK, "ok".to_owned()));
        assert_eq!(accepts.get(), 2);

        // PUT with a small body (in memory when it arrives with the head):
        // idempotent, so retried.
        let (upstream, accepts) = flaky_upstream().await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
        let resp = request(&proxy, with_body(http::Method::PUT, "data")).await;
        assert_eq!(resp, (StatusCode::OK, "ok".to_owned()));
        assert_eq!(accepts.get(), 2);

        // POST with the same body: sent once, answered 502.
        let (upstream, accepts) = flaky_upstream().await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
        let resp = request(&proxy, with_body(http::Method::POST, "data")).await;
        assert_eq!(
            resp,
            (
                StatusCode::BAD_GATEWAY,
                "bad upstream response\n".to_owned()
            )
        );
        assert_eq!(accepts.get(), 1);

        // GET with retries off: sent once.
        let (upstream, accepts) = flaky_upstream().await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| {
            b.with_retries(0)
        }))
        .await;
        assert_eq!(get(&proxy, "/r").await.0, StatusCode::BAD_GATEWAY);
        assert_eq!(accepts.get(), 1);

        // A PUT whose body streams cannot be replayed: sent once.
        let (upstream, accepts) = flaky_upstream().await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
        let (tx, body) = channel_body();
        let req = Request::put(format!("http://{proxy}/r"))
            .body(body)
            .unwrap();
        let sent = wego_netpoll::rt::spawn(async move {
            // The proxy may have answered (and dropped the body) before this
            // chunk is sent; either way the upstream sees one connection.
            let _ = tx.send(bytes::Bytes::from_static(b"streamed")).await;
        });
        let resp = request(&proxy, req).await;
        sent.await.unwrap();
        assert_eq!(resp.0, StatusCode::BAD_GATEWAY);
        assert_eq!(accepts.get(), 1);
    }
);

wego_test_support::each_backend!(a_body_over_the_limit_is_413, |_backend| async move {
    let (_up, upstream, accepts) =
        wego_server(Server::builder(), tower::service_fn(crate::support::app)).await;
    let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| {
        b.with_max_request_body(8)
    }))
    .await;
    // Within the limit.
    let (status, body) = request(
        &proxy,
        with_body(http::Method::POST, "12345678").map_uri("/collect"),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "8"));
    // A declared length past it: refused before the upstream is asked.
    let before = accepts.get();
    let (status, body) = request(
        &proxy,
        with_body(http::Method::POST, "123456789").map_uri("/collect"),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body, "request body too large\n");
    assert_eq!(accepts.get(), before, "the upstream was not asked");
    // A streamed body that grows past it.
    let (tx, body) = channel_body();
    let req = Request::post(format!("http://{proxy}/collect"))
        .body(body)
        .unwrap();
    let sent = wego_netpoll::rt::spawn(async move {
        for chunk in [&b"12345"[..], b"67890"] {
            if tx.send(bytes::Bytes::from_static(chunk)).await.is_err() {
                break;
            }
        }
    });
    let (status, body) = request(&proxy, req).await;
    sent.await.unwrap();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
});

/// `req` with its URI replaced by `path`.
trait MapUri {
    fn map_uri(self, path: &str) -> Self;
}

impl MapUri for Request<Body> {
    fn map_uri(mut self, path: &str) -> Self {
        *self.uri_mut() = path.parse().unwrap();
        self
    }
}
