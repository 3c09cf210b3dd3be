//! Response types over the wire: files, SSE, streams, redirects, tuples.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use wego_hertz::extract::Path;
use wego_hertz::response::{Event, File, Html, Redirect, ServeDir, Sse, SseKeepAlive};
use wego_hertz::{Body, Router, Server};

use crate::support::{connect, read_response, read_until, roundtrip, start};

fn app(dir: std::path::PathBuf) -> Router {
    Router::new()
        .get("/file/:name", move |Path(name): Path<String>| {
            let dir = dir.clone();
            async move {
                // Only plain names: no traversal out of `dir`.
                if name.contains('/') || name.starts_with('.') {
                    return Err(http::StatusCode::BAD_REQUEST);
                }
                File::open(dir.join(name)).await.map_err(|e| {
                    if e.is_not_found() {
                        http::StatusCode::NOT_FOUND
                    } else {
                        http::StatusCode::INTERNAL_SERVER_ERROR
                    }
                })
            }
        })
        .get("/sse", || async {
            let events = futures_util::stream::iter((0..3).map(|n| {
                Ok::<_, std::io::Error>(
                    Event::new()
                        .with_id(&n.to_string())
                        .with_data(format!("tick {n}")),
                )
            }));
            Sse::new(events)
                .with_keep_alive(SseKeepAlive::new().with_interval(Duration::from_millis(5)))
        })
        .get("/stream", || async {
            let chunks = (0..4).map(|i| Ok::<_, std::io::Error>(Bytes::from(format!("part{i};"))));
            Body::from_stream(futures_util::stream::iter(chunks))
        })
        .get("/old", || async { Redirect::permanent("/new") })
        .get("/page", || async {
            (
                http::StatusCode::ACCEPTED,
                [("x-a", "1")],
                Html("<h1>hi</h1>"),
            )
        })
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

wego_test_support::each_backend!(serves_files_with_length_and_type, |_backend| async move {
    let dir = std::env::temp_dir().join(format!(
        "wego-hertz-files-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.join("blob.bin"), &content).unwrap();
    std::fs::write(dir.join("index.html"), "<p>x</p>").unwrap();
    let (_server, addr, _task) = start(Server::builder(), app(dir.clone())).await;
    let r = roundtrip(&addr, &get("/file/blob.bin")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("300000"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body, content);
    let r = roundtrip(&addr, &get("/file/index.html")).await;
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(roundtrip(&addr, &get("/file/missing")).await.status, 404);
    assert_eq!(roundtrip(&addr, &get("/file/..%2Fetc")).await.status, 400);
    std::fs::remove_dir_all(&dir).unwrap();
});

wego_test_support::each_backend!(
    sse_keep_alive_comments_reach_a_quiet_client,
    |_backend| async move {
        // The only event waits until the test has read a keep-alive
        // comment: the head went out at once, the comments while quiet.
        let gate = Arc::new(Notify::new());
        let g = Arc::clone(&gate);
        let app = Router::new().get("/quiet", move || {
            let g = Arc::clone(&g);
            async move {
                let events = futures_util::stream::once(async move {
                    g.notified().await;
                    Ok::<_, std::io::Error>(Event::new().with_data("done"))
                });
                Sse::new(events)
                    .with_keep_alive(SseKeepAlive::new().with_interval(Duration::from_millis(5)))
            }
        });
        let (_server, addr, _task) = start(Server::builder(), app).await;
        let mut conn = connect(&addr).await;
        conn.write_all(&get("/quiet")).await.unwrap();
        let seen = read_until(&mut conn, b": \n\n\r\n").await;
        assert!(seen.starts_with(b"HTTP/1.1 200 OK\r\n"), "{seen:?}");
        gate.notify_one();
        let rest = read_until(&mut conn, b"0\r\n\r\n").await;
        let rest = String::from_utf8(rest).unwrap();
        assert!(rest.contains("data: done\n\n"), "{rest:?}");
    }
);

wego_test_support::each_backend!(streams_sse_and_bodies_chunked, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app(std::env::temp_dir())).await;
    let r = roundtrip(&addr, &get("/sse")).await;
    assert!(r.chunked);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let text = String::from_utf8(r.body).unwrap();
    let events: Vec<&str> = text
        .split("\n\n")
        .filter(|e| e.starts_with("id:"))
        .collect();
    assert_eq!(
        events,
        [
            "id: 0\ndata: tick 0",
            "id: 1\ndata: tick 1",
            "id: 2\ndata: tick 2"
        ]
    );
    let r = roundtrip(&addr, &get("/stream")).await;
    assert!(r.chunked);
    assert_eq!(r.body, b"part0;part1;part2;part3;");
});

wego_test_support::each_backend!(redirects_and_tuples, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app(std::env::temp_dir())).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    conn.write_all(&[get("/old"), get("/page")].concat())
        .await
        .unwrap();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(
        (r.status.as_u16(), r.header("location")),
        (308, Some("/new"))
    );
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.status, 202);
    assert_eq!(r.header("x-a"), Some("1"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.body, b"<h1>hi</h1>");
});

wego_test_support::each_backend!(serve_dir_stays_inside_its_root, |_backend| async move {
    let base = std::env::temp_dir().join(format!(
        "wego-hertz-servedir-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let root = base.join("public");
    std::fs::create_dir_all(root.join("css")).unwrap();
    std::fs::write(root.join("index.html"), "home").unwrap();
    std::fs::write(root.join("css/site.css"), "body{}").unwrap();
    std::fs::write(base.join("secret.txt"), "secret").unwrap();
    let app = Router::new().route_service(http::Method::GET, "/static/*path", ServeDir::new(&root));
    let (_server, addr, _task) = start(Server::builder(), app).await;
    let r = roundtrip(&addr, &get("/static/css/site.css")).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"body{}"[..]));
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    let r = roundtrip(&addr, &get("/static/")).await;
    assert_eq!(r.body, b"home");
    for bad in [
        "/static/../secret.txt",
        "/static/..%2Fsecret.txt",
        "/static/css/..%2F..%2Fsecret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/nope.css",
    ] {
        let r = roundtrip(&addr, &get(bad)).await;
        assert_eq!(r.status, 404, "{bad}");
        assert!(!r.body.starts_with(b"secret"), "{bad}");
    }
    std::fs::remove_dir_all(&base).unwrap();
});
