//! The `http-hello` example's routes, served over loopback.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use wego_hertz::Server;

use crate::support::{connect, read_response, start};

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/http-hello.rs"]
pub(crate) mod hello;

wego_test_support::each_backend!(http_hello_routes, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), hello::app()).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    let get = async |conn: &mut wego_netpoll::Conn, buf: &mut BytesMut, raw: &[u8]| {
        conn.write_all(raw).await.unwrap();
        read_response(conn, buf, false).await.unwrap()
    };
    let r = get(&mut conn, &mut buf, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(r.body, b"hello from wego-hertz");
    let r = get(
        &mut conn,
        &mut buf,
        b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(r.body, b"Hello, World!");
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let r = get(
        &mut conn,
        &mut buf,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping",
    )
    .await;
    assert_eq!(r.body, b"ping");
    let r = get(
        &mut conn,
        &mut buf,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(r.body, b"ab");
    let r = get(
        &mut conn,
        &mut buf,
        b"GET /user/42 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["id"], "42");
    assert_eq!(v["name"], "user 42");
    let r = get(
        &mut conn,
        &mut buf,
        b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(
        &mut conn,
        &mut buf,
        b"DELETE /plaintext HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
});

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/http-raw.rs"]
mod raw;

wego_test_support::each_backend!(http_raw_routes, |_backend| async move {
    let svc = tower::service_fn(raw::handle);
    let (_server, addr, _task) = start(Server::builder(), svc).await;
    let mut conn = connect(&addr).await;
    let mut buf = BytesMut::new();
    conn.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.body, b"Hello, World!");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    conn.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .unwrap();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.body, b"abc");
    conn.write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});
