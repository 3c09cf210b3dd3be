//! Response header names: lowercase by default, title case on request,
//! over a raw socket (a client library would hide the case).

use std::convert::Infallible;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wego_hertz::server::Builder;
use wego_hertz::{Body, Server};
use wego_netpoll::rt;

use crate::support::{connect, start};

/// Answers with a user header, a known or unknown length, and a trailer.
async fn app(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let body = if req.uri().path() == "/stream" {
        let frames = futures_util::stream::iter([
            Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(b"hi"))),
            Ok(http_body::Frame::trailers(
                [(
                    http::HeaderName::from_static("x-checksum"),
                    http::HeaderValue::from_static("1"),
                )]
                .into_iter()
                .collect(),
            )),
        ]);
        Body::new(http_body_util::StreamBody::new(frames))
    } else {
        Body::from("hello")
    };
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert("x-request-id", "abc-def".parse().unwrap());
    resp.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    Ok(resp)
}

/// The raw bytes of the answer to `GET path` with `Connection: close`.
async fn raw(builder: Builder, path: &str) -> String {
    let (_server, addr, _task) = start(builder, tower::service_fn(app)).await;
    let mut conn = connect(&addr).await;
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut buf = BytesMut::new();
    loop {
        buf.reserve(4096);
        let read = rt::timeout(Duration::from_secs(5), conn.read_buf(&mut buf)).await;
        if read.unwrap().unwrap() == 0 {
            break;
        }
    }
    String::from_utf8(buf.to_vec()).unwrap()
}

wego_test_support::each_backend!(
    header_names_are_lowercase_by_default,
    |_backend| async move {
        let r = raw(Server::builder(), "/").await;
        for line in [
            "x-request-id: abc-def",
            "content-type: text/plain",
            "content-length: 5",
            "connection: close",
            "server: wego",
        ] {
            assert!(r.contains(&format!("\r\n{line}\r\n")), "{line} in {r}");
        }
        assert!(r.contains("\r\ndate: "), "{r}");
        let r = raw(Server::builder(), "/stream").await;
        assert!(r.contains("\r\ntransfer-encoding: chunked\r\n"), "{r}");
        assert!(r.ends_with("\r\n0\r\nx-checksum: 1\r\n\r\n"), "{r}");
    }
);

wego_test_support::each_backend!(title_case_header_names_on_request, |_backend| async move {
    let builder = || Server::builder().with_title_case_headers(true);
    let r = raw(builder(), "/").await;
    for line in [
        "X-Request-Id: abc-def",
        "Content-Type: text/plain",
        "Content-Length: 5",
        "Connection: close",
        "Server: wego",
    ] {
        assert!(r.contains(&format!("\r\n{line}\r\n")), "{line} in {r}");
    }
    assert!(r.contains("\r\nDate: "), "{r}");
    assert!(r.ends_with("\r\n\r\nhello"), "{r}");
    let r = raw(builder(), "/stream").await;
    assert!(r.contains("\r\nTransfer-Encoding: chunked\r\n"), "{r}");
    assert!(r.ends_with("\r\n0\r\nX-Checksum: 1\r\n\r\n"), "{r}");
    // Errors the server writes itself follow the option too.
    let (_server, addr, _task) = start(builder(), tower::service_fn(app)).await;
    let mut conn = connect(&addr).await;
    conn.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buf = BytesMut::new();
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        buf.reserve(1024);
        let n = rt::timeout(Duration::from_secs(5), conn.read_buf(&mut buf)).await;
        assert!(n.unwrap().unwrap() > 0);
    }
    let head = String::from_utf8(buf.to_vec()).unwrap();
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Length: 0\r\n"), "{head}");
});
