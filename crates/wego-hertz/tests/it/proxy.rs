//! The reverse proxy in front of wego's and hyper's servers: the target
//! and headers in both directions, bodies streamed both ways chunk by
//! chunk, a client service standing in for discovery, HTTP/2 clients,
//! and WebSocket through the proxy.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use wego_hertz::proxy::{ReverseProxy, ReverseProxyBuilder};
use wego_hertz::{Body, BoxError, Client, Router, Server};
use wego_netpoll::{Address, rt};

use crate::client_support::raw_server;
use crate::support::start;

/// Fails the test instead of hanging when `fut` never completes; the
/// bound is far above any expected wait and orders nothing.
pub(crate) async fn within<F: Future>(fut: F) -> F::Output {
    rt::timeout(Duration::from_secs(20), fut)
        .await
        .expect("no progress within 20 s")
}

/// Serves `proxy` on `/api/*rest` and `/api` of a router, and as the
/// fallback for every other path, on a loopback wego server.
pub(crate) async fn serve_proxy<S>(proxy: ReverseProxy<S>) -> (Server, Address)
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    let app = Router::new()
        .any("/api/*rest", proxy.clone())
        .any("/api", proxy.clone())
        .not_found(proxy);
    let (server, addr, _task) = start(Server::builder(), app).await;
    (server, addr)
}

/// A proxy to `upstream` (`http://addr/base`), built by `configure`.
pub(crate) fn proxy_to(
    upstream: &str,
    configure: impl FnOnce(ReverseProxyBuilder) -> ReverseProxyBuilder,
) -> ReverseProxy {
    configure(ReverseProxy::builder().with_upstream(upstream))
        .build()
        .unwrap()
}

/// The request head an upstream saw, as its echo wrote it: the request
/// line, then `name: value` lines.
struct Seen {
    line: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn parse(text: &[u8]) -> Self {
        let text = std::str::from_utf8(text).unwrap();
        let mut lines = text.lines();
        let line = lines.next().unwrap().to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self { line, headers }
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, name: &str) -> &str {
        match self.all(name)[..] {
            [v] => v,
            ref other => panic!("{name}: expected one value, got {other:?}"),
        }
    }
}

fn head_text(method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) -> String {
    let mut text = format!("{method} {uri}\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("<bytes>")));
    }
    text
}

/// The response of either upstream: its echo of the request head, with
/// hop-by-hop fields the proxy must not pass on and one it must.
fn echo_head_response<B>(text: String, body: impl FnOnce(String) -> B) -> Response<B> {
    Response::builder()
        .header("x-upstream", "yes")
        .header("connection", "x-drop")
        .header("x-drop", "1")
        .header("keep-alive", "timeout=5")
        .header("proxy-authenticate", "Basic realm=\"x\"")
        .header("content-type", "text/plain")
        .body(body(text))
        .unwrap()
}

/// wego's server echoing request heads.
async fn wego_echo_head() -> (Server, Address) {
    let (server, addr, _task) = start(
        Server::builder(),
        tower::service_fn(|req: Request<Body>| async move {
            let text = head_text(req.method(), req.uri(), req.headers());
            Ok::<_, Infallible>(echo_head_response(text, Body::from))
        }),
    )
    .await;
    (server, addr)
}

/// hyper's HTTP/1.1 server: `/echo` streams the body back, anything
/// else echoes the request head.
async fn hyper_upstream() -> Address {
    let (addr, _accepts) = raw_server(|_n, conn| async move {
        let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
            if req.uri().path() == "/echo" {
                return Ok::<_, Infallible>(Response::new(req.into_body().boxed()));
            }
            let text = head_text(req.method(), req.uri(), req.headers());
            Ok(echo_head_response(text, |t| {
                http_body_util::Full::new(Bytes::from(t))
                    .map_err(|never| match never {})
                    .boxed()
            }))
        });
        let _: Result<(), hyper::Error> = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(conn), svc)
            .await;
    })
    .await;
    addr
}

/// Sends a GET with hop-by-hop and forwarding fields through the proxy
/// at `proxy` and checks both directions of the exchange.
///
/// `names_x_drop`: the upstream's own server writes the handler's
/// `Connection: x-drop` (hyper does; wego's server writes its own
/// `Connection` instead, so `x-drop` arrives as an end-to-end field).
async fn check_headers_both_ways(
    proxy: &Address,
    upstream: &Address,
    preserve_host: bool,
    names_x_drop: bool,
) {
    let client = Client::builder().build().unwrap();
    let req = Request::get(format!("http://{proxy}/api/items?q=1&r=%20"))
        .header("host", "front.example")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "hop only")
        .header("keep-alive", "timeout=9")
        .header("proxy-authorization", "Basic eDp5")
        .header("te", "trailers, deflate")
        .header("x-forwarded-for", "203.0.113.9")
        .header("forwarded", "for=203.0.113.9;proto=https")
        .header("x-forwarded-host", "spoofed.example")
        .header("x-end-to-end", "kept")
        .body(Body::empty())
        .unwrap();
    let resp = within(client.request(req)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-upstream"], "yes");
    for hop in ["keep-alive", "proxy-authenticate"] {
        assert!(resp.headers().get(hop).is_none(), "{hop} passed back");
    }
    assert_eq!(resp.headers().get("x-drop").is_none(), names_x_drop);
    assert!(
        resp.headers()
            .get_all("connection")
            .iter()
            .all(|v| v != "x-drop"),
        "the upstream's Connection passed back"
    );
    let body = resp.into_body().collect_limited(1 << 16).await.unwrap();
    let seen = Seen::parse(&body);
    assert_eq!(seen.line, "GET /base/items?q=1&r=%20");
    let host = if preserve_host {
        "front.example".to_owned()
    } else {
        upstream.to_string()
    };
    assert_eq!(seen.one("host"), host);
    assert_eq!(seen.one("x-forwarded-for"), "203.0.113.9, 127.0.0.1");
    assert_eq!(seen.one("x-forwarded-proto"), "http");
    assert_eq!(seen.one("x-forwarded-host"), "front.example");
    assert_eq!(
        seen.one("forwarded"),
        "for=203.0.113.9;proto=https, for=127.0.0.1;proto=http;host=front.example"
    );
    assert_eq!(seen.one("x-end-to-end"), "kept");
    assert_eq!(seen.one("te"), "trailers");
    for hop in ["x-secret", "keep-alive", "proxy-authorization", "upgrade"] {
        assert!(
            seen.all(hop).is_empty(),
            "{hop} forwarded: {:?}",
            seen.all(hop)
        );
    }
    // The upstream connection's own Connection, if the client wrote one,
    // names nothing of the client's.
    assert!(
        seen.all("connection")
            .iter()
            .all(|v| !v.contains("x-secret")),
        "{:?}",
        seen.all("connection")
    );
}

wego_test_support::each_backend!(
    proxies_a_wego_upstream_with_headers_both_ways,
    |_backend| async move {
        let (_up, upstream) = wego_echo_head().await;
        let url = format!("http://{upstream}/base");
        let (_p, proxy) = serve_proxy(proxy_to(&url, |b| b.with_strip_prefix("/api"))).await;
        check_headers_both_ways(&proxy, &upstream, false, false).await;
        let (_p, proxy) = serve_proxy(proxy_to(&url, |b| {
            b.with_strip_prefix("/api").with_preserve_host(true)
        }))
        .await;
        check_headers_both_ways(&proxy, &upstream, true, false).await;
    }
);

wego_test_support::each_backend!(
    keeps_te_trailers_that_connection_names,
    |_backend| async move {
        // RFC 9110 §10.1.4: a sender of TE lists it in Connection too.
        let (_up, upstream) = wego_echo_head().await;
        let url = format!("http://{upstream}/base");
        let (_p, proxy) = serve_proxy(proxy_to(&url, |b| b.with_strip_prefix("/api"))).await;
        let client = Client::builder().build().unwrap();
        for (connection, te, forwarded) in [
            ("keep-alive, te", "trailers", Some("trailers")),
            ("TE", "deflate, trailers", Some("trailers")),
            ("keep-alive, te", "deflate", None),
        ] {
            let req = Request::get(format!("http://{proxy}/api/items"))
                .header("connection", connection)
                .header("te", te)
                .body(Body::empty())
                .unwrap();
            let resp = within(client.request(req)).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let body = resp.into_body().collect_limited(1 << 16).await.unwrap();
            let seen = Seen::parse(&body);
            assert_eq!(
                seen.all("te"),
                Vec::from_iter(forwarded),
                "{connection} / {te}"
            );
        }
    }
);

wego_test_support::each_backend!(proxies_a_hyper_upstream, |_backend| async move {
    let upstream = hyper_upstream().await;
    let url = format!("http://{upstream}/base");
    let (_p, proxy) = serve_proxy(proxy_to(&url, |b| b.with_strip_prefix("/api"))).await;
    check_headers_both_ways(&proxy, &upstream, false, true).await;

    // A streamed upload that hyper echoes as it arrives.
    let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
    let client = Client::builder().build().unwrap();
    let (tx, body) = channel_body();
    let req = Request::post(format!("http://{proxy}/echo"))
        .body(body)
        .unwrap();
    let resp = rt::spawn(async move { client.request(req).await });
    let mut chunks = Chunks::new(tx);
    chunks.send("first ").await;
    let mut resp = within(resp).await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    chunks.expect(resp.body_mut(), "first ").await;
    chunks.send("second").await;
    chunks.expect(resp.body_mut(), "second").await;
    drop(chunks);
    ends(resp.into_body()).await;
});

/// Reads `body` to its end, which must hold no more data (an HTTP/2
/// stream may end with an empty frame).
pub(crate) async fn ends(mut body: Body) {
    while let Some(frame) = within(body.frame()).await {
        if let Ok(data) = frame.unwrap().into_data() {
            assert!(data.is_empty(), "more data: {data:?}");
        }
    }
}

/// A request body the test feeds chunk by chunk.
pub(crate) fn channel_body() -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    (tx, Body::from_stream(stream))
}

/// Sends chunks and reads their echoes one at a time: each chunk is sent
/// only after the previous one came back through the proxy, so nothing
/// can be waiting for the whole body.
pub(crate) struct Chunks {
    tx: tokio::sync::mpsc::Sender<Bytes>,
}

impl Chunks {
    pub(crate) fn new(tx: tokio::sync::mpsc::Sender<Bytes>) -> Self {
        Self { tx }
    }

    pub(crate) async fn send(&mut self, chunk: &'static str) {
        self.tx
            .send(Bytes::from_static(chunk.as_bytes()))
            .await
            .unwrap();
    }

    /// Reads frames of `body` until exactly `want` has arrived.
    pub(crate) async fn expect(&mut self, body: &mut Body, want: &str) {
        let mut got = Vec::new();
        while got.len() < want.len() {
            let frame = within(body.frame()).await.expect("body ended").unwrap();
            if let Ok(data) = frame.into_data() {
                got.extend_from_slice(&data);
            }
        }
        assert_eq!(String::from_utf8(got).unwrap(), want);
    }
}

wego_test_support::each_backend!(
    streams_an_upload_and_its_echo_chunk_by_chunk,
    |_backend| async move {
        let (_up, upstream, _task) =
            start(Server::builder(), tower::service_fn(crate::support::app)).await;
        let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
        let client = Client::builder().build().unwrap();
        let (tx, body) = channel_body();
        let req = Request::post(format!("http://{proxy}/echo"))
            .body(body)
            .unwrap();
        let resp = rt::spawn(async move { client.request(req).await });
        let mut chunks = Chunks::new(tx);
        chunks.send("one ").await;
        let mut resp = within(resp).await.unwrap().unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        for chunk in ["one ", "two ", "three ", "four"] {
            if chunk != "one " {
                chunks.send(chunk).await;
            }
            chunks.expect(resp.body_mut(), chunk).await;
        }
        drop(chunks);
        ends(resp.into_body()).await;
    }
);

wego_test_support::each_backend!(streams_a_download_chunk_by_chunk, |_backend| async move {
    // The upstream's response body is fed by the test.
    let (feed, feed_rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let feed_rx = std::sync::Arc::new(std::sync::Mutex::new(Some(feed_rx)));
    let (_up, upstream, _task) = start(
        Server::builder(),
        tower::service_fn(move |_req: Request<Body>| {
            let rx = feed_rx.lock().unwrap().take();
            async move {
                let rx = rx.expect("one download");
                let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
                });
                Ok::<_, Infallible>(Response::new(Body::from_stream(stream)))
            }
        }),
    )
    .await;
    let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
    let client = Client::builder().build().unwrap();
    let resp = rt::spawn({
        let client = client.clone();
        async move { client.get(format!("http://{proxy}/download")).await }
    });
    let mut chunks = Chunks::new(feed);
    chunks.send("alpha ").await;
    let mut resp = within(resp).await.unwrap().unwrap();
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");
    chunks.expect(resp.body_mut(), "alpha ").await;
    chunks.send("beta ").await;
    chunks.expect(resp.body_mut(), "beta ").await;
    chunks.send("gamma").await;
    chunks.expect(resp.body_mut(), "gamma").await;
    drop(chunks);
    ends(resp.into_body()).await;
});

wego_test_support::each_backend!(
    a_client_service_stands_in_for_discovery,
    |_backend| async move {
        let (_up, upstream) = wego_echo_head().await;
        // The upstream URL names a service; the client service picks the
        // instance, as a client with discovery and load balancing does.
        let client = Client::builder().build().unwrap();
        let instance = upstream.clone();
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let discovering = tower::service_fn(move |mut req: Request<Body>| {
            let client = client.clone();
            let instance = instance.clone();
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                assert_eq!(req.uri().authority().unwrap().as_str(), "echo-service");
                let pq = req.uri().path_and_query().unwrap().clone();
                *req.uri_mut() = format!("http://{instance}{pq}").parse().unwrap();
                client.request(req).await
            }
        });
        let proxy = ReverseProxy::builder()
            .with_upstream("http://echo-service/v2")
            .with_client(discovering)
            .build()
            .unwrap();
        let (_p, addr) = serve_proxy(proxy).await;
        let resp = within(
            Client::builder()
                .build()
                .unwrap()
                .get(format!("http://{addr}/who?x=1")),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let seen = Seen::parse(&resp.into_body().collect_limited(1 << 16).await.unwrap());
        assert_eq!(seen.line, "GET /v2/who?x=1");
        assert_eq!(seen.one("host"), "echo-service");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
);

wego_test_support::each_backend!(serves_http2_clients, |_backend| async move {
    let (_up, upstream, _task) =
        start(Server::builder(), tower::service_fn(crate::support::app)).await;
    let (_h, head_upstream) = wego_echo_head().await;
    let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
    let (_p2, head_proxy) = serve_proxy(proxy_to(&format!("http://{head_upstream}"), |b| b)).await;
    let h2 = Client::builder()
        .with_http2_prior_knowledge()
        .build()
        .unwrap();

    // The upstream gets HTTP/1.1 with the client's :authority as the
    // forwarded host.
    let resp = within(h2.get(format!("http://{head_proxy}/h2?x=1")))
        .await
        .unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("keep-alive").is_none());
    let seen = Seen::parse(&resp.into_body().collect_limited(1 << 16).await.unwrap());
    assert_eq!(seen.line, "GET /h2?x=1");
    assert_eq!(seen.one("x-forwarded-host"), head_proxy.to_string());
    assert_eq!(seen.one("host"), head_upstream.to_string());

    // A streamed upload echoed as it streams, over an HTTP/2 stream.
    let (tx, body) = channel_body();
    let req = Request::post(format!("http://{proxy}/echo"))
        .body(body)
        .unwrap();
    let resp = rt::spawn({
        let h2 = h2.clone();
        async move { h2.request(req).await }
    });
    let mut chunks = Chunks::new(tx);
    chunks.send("over ").await;
    let mut resp = within(resp).await.unwrap().unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    chunks.expect(resp.body_mut(), "over ").await;
    chunks.send("h2").await;
    chunks.expect(resp.body_mut(), "h2").await;
    drop(chunks);
    ends(resp.into_body()).await;

    // Several requests in flight on one HTTP/2 connection.
    let mut waits = Vec::new();
    for i in 0..8 {
        let h2 = h2.clone();
        let url = format!("http://{proxy}/?n={i}");
        waits.push(rt::spawn(async move { h2.get(url).await }));
    }
    for w in waits {
        let resp = within(w).await.unwrap().unwrap();
        assert_eq!(
            &resp.into_body().collect_limited(100).await.unwrap()[..],
            b"hello"
        );
    }
});

#[cfg(feature = "ws")]
wego_test_support::each_backend!(passes_websocket_through, |_backend| async move {
    use wego_hertz::ws::{ConnectError, Connector, HandshakeError, Message, WebSocketUpgrade};

    let upstream_app = Router::new().get("/chat", |ws: WebSocketUpgrade| async move {
        ws.with_protocols(["chat"])
            .on_upgrade(|mut socket| async move {
                while let Some(Ok(msg)) = socket.recv().await {
                    if msg.is_data() && socket.send(msg).await.is_err() {
                        break;
                    }
                }
            })
    });
    let (_up, upstream, _task) = start(Server::builder(), upstream_app).await;
    let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| {
        b.with_strip_prefix("/api")
    }))
    .await;
    let client = Client::builder().build().unwrap();
    let mut socket = within(
        Connector::new(format!("ws://{proxy}/api/chat"))
            .with_protocols(["chat"])
            .connect(&client),
    )
    .await
    .unwrap();
    assert_eq!(socket.protocol(), Some("chat"));
    socket.send(Message::text("through")).await.unwrap();
    assert_eq!(
        within(socket.recv()).await.unwrap().unwrap(),
        Message::text("through")
    );
    let big = vec![7u8; 200_000];
    socket.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(
        within(socket.recv()).await.unwrap().unwrap(),
        Message::binary(big)
    );
    socket.close(1000, "bye").await.unwrap();
    match within(socket.recv()).await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, 1000),
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert!(within(socket.recv()).await.is_none());

    // A route that does not switch: the upstream's answer passes as it is.
    let e = within(wego_hertz::ws::connect(
        &client,
        &format!("ws://{proxy}/api/nowhere"),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            ConnectError::Handshake(HandshakeError::NotSwitching(StatusCode::NOT_FOUND))
        ),
        "{e:?}"
    );
});

wego_test_support::each_backend!(splices_any_protocol_switch, |_backend| async move {
    // A generic upgrade (not WebSocket): raw bytes both ways after the
    // 101, including bytes the client sends right behind its request head.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let upstream_app = tower::service_fn(|mut req: Request<Body>| async move {
        let on = wego_hertz::upgrade::on(&mut req);
        rt::spawn(async move {
            if let Ok(mut io) = on.await {
                let mut buf = [0u8; 64];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    buf[..n].make_ascii_uppercase();
                    if io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        Ok::<_, Infallible>(
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header("connection", "upgrade")
                .header("upgrade", "shout")
                .body(Body::empty())
                .unwrap(),
        )
    });
    let (_up, upstream, _task) = start(Server::builder(), upstream_app).await;
    let (_p, proxy) = serve_proxy(proxy_to(&format!("http://{upstream}"), |b| b)).await;
    let mut conn = crate::support::connect(&proxy).await;
    conn.write_all(
        b"GET /x HTTP/1.1\r\nhost: p\r\nconnection: upgrade\r\nupgrade: shout\r\n\r\nearly ",
    )
    .await
    .unwrap();
    let head = within(crate::support::read_until(&mut conn, b"\r\n\r\n")).await;
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: shout"), "{head}");
    assert!(head.contains("connection: upgrade"), "{head}");
    let mut got = [0u8; 6];
    within(conn.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"EARLY ");
    conn.write_all(b"late").await.unwrap();
    let mut got = [0u8; 4];
    within(conn.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"LATE");
    // Closing our side closes the splice and the upstream's echo, and
    // with it the proxy's side of our connection.
    conn.shutdown().await.unwrap();
    assert!(crate::support::closed(&mut conn).await);
});
