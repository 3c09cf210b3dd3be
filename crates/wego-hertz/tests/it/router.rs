//! The router served by the real server: params, 404/405, HEAD, redirects,
//! groups with their own middleware.

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use wego_hertz::extract::{Json, Path};
use wego_hertz::middleware::{Next, from_fn};
use wego_hertz::{Router, Server};

use crate::support::{connect, read_response, roundtrip, start};

fn app() -> Router {
    Router::new()
        .get("/users/:id", |Path(id): Path<u32>| async move {
            Json(serde_json::json!({ "id": id }))
        })
        .post("/users", || async {
            (http::StatusCode::CREATED, "created")
        })
        .get("/files/*path", |Path(p): Path<String>| async move { p })
        .group("/api", |g| {
            g.get("/ping", || async { "pong" })
                .layer(from_fn(|req, next: Next| async move {
                    let mut res = next.run(req).await;
                    res.headers_mut().insert("x-group", "api".parse().unwrap());
                    res
                }))
        })
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

wego_test_support::each_backend!(routes_params_and_groups, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let r = roundtrip(&addr, &get("/users/42")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, br#"{"id":42}"#);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = roundtrip(&addr, &get("/files/a/b%20c.txt")).await;
    assert_eq!(r.body, b"a/b c.txt");
    let r = roundtrip(&addr, &get("/api/ping")).await;
    assert_eq!((r.status.as_u16(), r.header("x-group")), (200, Some("api")));
    let r = roundtrip(&addr, &get("/users/x")).await;
    assert_eq!(r.status, 400);
    let r = roundtrip(
        &addr,
        b"POST /users HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (201, &b"created"[..]));
});

wego_test_support::each_backend!(
    not_found_method_not_allowed_and_redirects,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let r = roundtrip(&addr, &get("/nowhere")).await;
        assert_eq!(
            (r.status.as_u16(), &r.body[..]),
            (404, &b"404 page not found"[..])
        );
        let r = roundtrip(&addr, b"DELETE /users/1 HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
        let r = roundtrip(&addr, &get("/users/1/?q=1")).await;
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), Some("/users/1?q=1"));
        let r = roundtrip(
            &addr,
            b"POST /users/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert_eq!(
            (r.status.as_u16(), r.header("location")),
            (308, Some("/users"))
        );
    }
);

wego_test_support::each_backend!(head_is_served_by_get, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let mut conn = connect(&addr).await;
    conn.write_all(
        b"HEAD /users/7 HTTP/1.1\r\nHost: t\r\n\r\nGET /users/8 HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = BytesMut::new();
    let head = read_response(&mut conn, &mut buf, true).await.unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("8"));
    // The next response starts right after the head: no body was sent.
    let next = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(next.body, br#"{"id":8}"#);
});
