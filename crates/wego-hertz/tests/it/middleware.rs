//! Built-in middleware over the wire: recovery keeps the connection,
//! request ids, timeout, CORS, compression, basic auth, body limit.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use wego_hertz::extract::Request;
#[cfg(feature = "gzip")]
use wego_hertz::middleware::CompressionLayer;
use wego_hertz::middleware::{
    AccessLogLayer, AuthUser, BasicAuthLayer, BodyLimitLayer, CorsLayer, Next, RecoveryLayer,
    RequestId, RequestIdLayer, TimeoutLayer, from_fn,
};
use wego_hertz::{Router, Server};
#[cfg(feature = "gzip")]
use wego_netpoll::rt;

use crate::support::{connect, read_response, roundtrip, start};

/// How long the test application's routes may take ([`TimeoutLayer`]).
pub(crate) const ROUTE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn app() -> Router {
    let router = Router::new()
        .get("/", || async { "hello" })
        .get("/panic", || async {
            if true {
                panic!("handler bug");
            }
            "unreachable"
        })
        .get("/id", |RequestId(id): RequestId| async move {
            id.to_str().unwrap().to_owned()
        })
        .get("/slow", || async {
            // Never answers: only the timeout layer can.
            std::future::pending::<()>().await;
            "late"
        })
        .get("/big", || async { "compress me please ".repeat(200) })
        .post(
            "/upload",
            |b: bytes::Bytes| async move { b.len().to_string() },
        )
        .group("/admin", |g| {
            g.get(
                "/",
                |AuthUser(u): AuthUser| async move { format!("hi {u}") },
            )
            .layer(BasicAuthLayer::new("admin").with_user("root", "s3cret"))
        })
        .layer(TimeoutLayer::new(ROUTE_TIMEOUT))
        .layer(BodyLimitLayer::new(1000));
    #[cfg(feature = "gzip")]
    let router = router.layer(CompressionLayer::new());
    router
        .layer(
            CorsLayer::new()
                .with_origins(["https://app.example"])
                .with_methods([http::Method::GET]),
        )
        .layer(RequestIdLayer::new())
        .layer(AccessLogLayer::new())
        .layer(RecoveryLayer::new())
        .layer(from_fn(|req: Request, next: Next| async move {
            // Onion order: this runs first on the way in and last on the way out.
            let mut res = next.run(req).await;
            res.headers_mut().insert("x-outer", "1".parse().unwrap());
            res
        }))
}

wego_test_support::each_backend!(
    recovery_keeps_the_connection_serving,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let mut conn = connect(&addr).await;
        let mut buf = BytesMut::new();
        conn.write_all(b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let r = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(
            (r.status.as_u16(), &r.body[..]),
            (500, &b"internal server error"[..])
        );
        assert_eq!(r.header("x-outer"), Some("1"));
        assert!(!r.closes());
        conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let r = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"hello"[..]));
    }
);

wego_test_support::each_backend!(request_id_and_limits, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let r = roundtrip(
        &addr,
        b"GET /id HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-1\r\n\r\n",
    )
    .await;
    assert_eq!(r.body, b"abc-1");
    assert_eq!(r.header("x-request-id"), Some("abc-1"));
    let r = roundtrip(&addr, b"GET /id HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let id = r.header("x-request-id").unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(r.body, id.as_bytes());
    let r = roundtrip(
        &addr,
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 413);
    let r = roundtrip(
        &addr,
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    assert_eq!(r.body, b"5");
});

wego_test_support::each_backend!(cors_preflight_and_simple_requests, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let r = roundtrip(
        &addr,
        b"OPTIONS / HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: GET\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("GET"));
    let r = roundtrip(
        &addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
});

wego_test_support::each_backend!(basic_auth_guards_a_group, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let r = roundtrip(&addr, b"GET /admin/ HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"admin\", charset=\"UTF-8\"")
    );
    // root:wrong
    let r = roundtrip(
        &addr,
        b"GET /admin/ HTTP/1.1\r\nHost: t\r\nAuthorization: Basic cm9vdDp3cm9uZw==\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 401);
    // root:s3cret
    let r = roundtrip(
        &addr,
        b"GET /admin/ HTTP/1.1\r\nHost: t\r\nAuthorization: Basic cm9vdDpzM2NyZXQ=\r\n\r\n",
    )
    .await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"hi root"[..]));
    // Other routes are open.
    assert_eq!(
        roundtrip(&addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .status,
        200
    );
});

wego_test_support::each_backend!(
    #[cfg(feature = "gzip")]
    gzip_compression_when_accepted,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let r = roundtrip(
            &addr,
            b"GET /big HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n",
        )
        .await;
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert_eq!(&r.body[..2], &[0x1f, 0x8b]);
        assert!(
            r.body.len() < 3800 / 4,
            "compressed to {} bytes",
            r.body.len()
        );
        let r = roundtrip(&addr, b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(r.header("content-encoding"), None);
        assert_eq!(r.body.len(), 3800);
    }
);

wego_test_support::each_backend!(
    #[cfg(feature = "gzip")]
    curl_decompresses_every_encoding,
    |_backend| async move {
        let Some(curl) =
            wego_test_support::peer::program("curl_decompresses_every_encoding", "curl")
        else {
            return;
        };
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let mut encodings = vec!["gzip"];
        if cfg!(feature = "br") {
            encodings.push("br");
        }
        if cfg!(feature = "zstd") {
            encodings.push("zstd");
        }
        for enc in encodings {
            let url = format!("http://{addr}/big");
            let curl = curl.clone();
            let out = rt::spawn_blocking(move || {
                wego_test_support::peer::output(
                    std::process::Command::new(curl)
                        .args(["-sS", "--compressed", "-H"])
                        .arg(format!("Accept-Encoding: {enc}"))
                        .args(["-D", "-", &url]),
                )
            })
            .await
            .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
            if !out.status.success() {
                // This curl lacks the decoder (older builds have no zstd).
                eprintln!("SKIPPED {enc}: {}", String::from_utf8_lossy(&out.stderr));
                continue;
            }
            assert!(text.contains(&format!("content-encoding: {enc}")), "{text}");
            assert!(text.ends_with(&"compress me please ".repeat(200)), "{enc}");
        }
    }
);
