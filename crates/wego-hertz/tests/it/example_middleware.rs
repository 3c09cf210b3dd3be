//! The `middleware` example's routes and layers, served over loopback and
//! checked with hyper's client, one request per documented behaviour.

use std::io::Read;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use wego_hertz::{Body, Server};

use crate::client::{get, hyper_connect, request};
use crate::support::start;

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/middleware.rs"]
mod example;

wego_test_support::each_backend!(middleware_example_routes, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), example::app()).await;
    let mut c = hyper_connect(&addr).await;

    // Request id: a client's id is kept and echoed; otherwise one is made.
    let mut req = get("/");
    req.headers_mut()
        .insert("x-request-id", "req-42".parse().unwrap());
    let r = c.fetch(req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "hello, your request id is req-42\n");
    assert_eq!(r.header("x-request-id"), Some("req-42"));
    // The `from_fn` onion: work after `next` adds the elapsed time.
    let us: u64 = r.header("x-elapsed-us").unwrap().parse().unwrap();
    assert!(us < 10_000_000);
    let r = c.fetch(get("/")).await;
    let made = r.header("x-request-id").unwrap().to_owned();
    assert!(!made.is_empty());
    assert_eq!(r.text(), format!("hello, your request id is {made}\n"));

    // Recovery: a panic is a 500, and the same connection keeps serving.
    let r = c.fetch(get("/panic")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(c.fetch(get("/")).await.status, StatusCode::OK);

    // Compression, negotiated by Accept-Encoding.
    let plain = "wego-hertz compresses this. ".repeat(500);
    let r = c.fetch(get("/big")).await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.text(), plain);
    let mut req = get("/big");
    req.headers_mut()
        .insert("accept-encoding", "gzip".parse().unwrap());
    let r = c.fetch(req).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.body.len() < plain.len() / 10, "{} bytes", r.body.len());
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);

    // CORS for the one allowed origin only, preflight included.
    let mut req = get("/");
    req.headers_mut()
        .insert("origin", "http://localhost:3000".parse().unwrap());
    let r = c.fetch(req).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let mut req = get("/");
    req.headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    let r = c.fetch(req).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    let mut req = request(Method::OPTIONS, "/", Body::empty());
    req.headers_mut()
        .insert("origin", "http://localhost:3000".parse().unwrap());
    req.headers_mut()
        .insert("access-control-request-method", "GET".parse().unwrap());
    let r = c.fetch(req).await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );

    // The route's own 100 ms timeout answers 503 long before its 1 s sleep.
    let started = Instant::now();
    let r = c.fetch(get("/slow")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_millis(900));

    // Basic auth on the /admin group only.
    let r = c.fetch(get("/admin/")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").unwrap().contains("wego admin"));
    let mut req = get("/admin/");
    // base64("admin:secret")
    req.headers_mut()
        .insert("authorization", "Basic YWRtaW46c2VjcmV0".parse().unwrap());
    let r = c.fetch(req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "welcome, admin\n");
    let mut req = get("/admin/");
    // base64("admin:wrong")
    req.headers_mut()
        .insert("authorization", "Basic YWRtaW46d3Jvbmc=".parse().unwrap());
    assert_eq!(c.fetch(req).await.status, StatusCode::UNAUTHORIZED);
});
