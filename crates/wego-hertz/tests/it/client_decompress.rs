//! The client's decompression against wego's compressing server: what
//! `Accept-Encoding` says, decoded bodies without `Content-Encoding` and
//! `Content-Length`, the body limit on the decoded size (a hand-built
//! gzip bomb), and a corrupt stream.

use std::io::Write;

use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH};
use http::{HeaderMap, Request, StatusCode};
use tokio::io::AsyncWriteExt;
use wego_hertz::extract::Request as Req;
use wego_hertz::middleware::CompressionLayer;
use wego_hertz::{Body, Client, Router, Server};
use wego_test_support::each_backend;

use crate::client_support::{raw_server, read_head, url, wego_server};

/// 20 KiB of text, which the compression middleware compresses.
fn text() -> String {
    "wego decompresses this line as it streams in\n".repeat(470)
}

/// `/text`: [`text`]; `/ae`: the request's `Accept-Encoding`, or "none".
fn app() -> Router {
    Router::new()
        .get("/text", || async { text() })
        .get("/ae", |req: Req| async move {
            req.headers()
                .get(ACCEPT_ENCODING)
                .map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned())
        })
        .layer(CompressionLayer::new())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A server whose every response is `status 200`, `Content-Encoding:
/// gzip` and `body` with its length.
async fn serve_encoded(body: Vec<u8>) -> wego_netpoll::Address {
    let body = std::sync::Arc::new(body);
    let (addr, _) = raw_server(move |_, mut conn| {
        let body = body.clone();
        async move {
            let mut buf = bytes::BytesMut::new();
            while read_head(&mut conn, &mut buf).await {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                if conn.write_all(head.as_bytes()).await.is_err()
                    || conn.write_all(&body).await.is_err()
                {
                    return;
                }
            }
        }
    })
    .await;
    addr
}

each_backend!(decodes_compressed_responses, |_backend| async move {
    let (_server, addr, _) = wego_server(Server::builder(), app()).await;
    let client = Client::builder().with_decompression(true).build().unwrap();
    let resp = client.get(url(&addr, "/ae")).await.unwrap();
    let sent = resp.into_body().collect_limited(1024).await.unwrap();
    let mut want: Vec<&str> = Vec::new();
    if cfg!(feature = "zstd") {
        want.push("zstd");
    }
    if cfg!(feature = "br") {
        want.push("br");
    }
    want.extend(["gzip", "deflate"]);
    assert_eq!(sent, want.join(", ").as_bytes());

    let resp = client.get(url(&addr, "/text")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.headers().contains_key(CONTENT_ENCODING));
    assert!(!resp.headers().contains_key(CONTENT_LENGTH));
    let body = resp.into_body().collect_limited(1 << 20).await.unwrap();
    assert_eq!(body, text().as_bytes());

    // Each codec, asked for alone.
    let mut codecs = vec!["gzip", "deflate"];
    if cfg!(feature = "br") {
        codecs.push("br");
    }
    if cfg!(feature = "zstd") {
        codecs.push("zstd");
    }
    for codec in codecs {
        let req = Request::get(url(&addr, "/text"))
            .header(ACCEPT_ENCODING, codec)
            .body(Body::empty())
            .unwrap();
        let raw = Client::builder()
            .build()
            .unwrap()
            .request(req)
            .await
            .unwrap();
        assert_eq!(
            raw.headers()[CONTENT_ENCODING],
            codec,
            "the server used {codec}"
        );
        let req = Request::get(url(&addr, "/text"))
            .header(ACCEPT_ENCODING, codec)
            .body(Body::empty())
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert!(!resp.headers().contains_key(CONTENT_ENCODING), "{codec}");
        let body = resp.into_body().collect_limited(1 << 20).await.unwrap();
        assert_eq!(body, text().as_bytes(), "{codec}");
    }
});

each_backend!(off_by_default, |_backend| async move {
    let (_server, addr, _) = wego_server(Server::builder(), app()).await;
    let client = Client::builder().build().unwrap();
    let resp = client.get(url(&addr, "/ae")).await.unwrap();
    assert_eq!(
        resp.into_body().collect_limited(1024).await.unwrap(),
        "none"
    );
    let resp = client.get(url(&addr, "/text")).await.unwrap();
    assert!(!resp.headers().contains_key(CONTENT_ENCODING));
    let body = resp.into_body().collect_limited(1 << 20).await.unwrap();
    assert_eq!(body, text().as_bytes());
});

each_backend!(
    a_gzip_bomb_fails_at_the_decoded_limit,
    |_backend| async move {
        // 16 MiB of zeros in about 16 KiB.
        let bomb = gzip(&vec![0u8; 16 << 20]);
        assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
        let addr = serve_encoded(bomb).await;
        let limited = Client::builder()
            .with_decompression(true)
            .with_max_response_body(1 << 20)
            .build()
            .unwrap();
        let resp = limited.get(url(&addr, "/")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let e = resp
            .into_body()
            .collect_limited(usize::MAX)
            .await
            .unwrap_err();
        assert!(e.is_too_large(), "{e}");
        assert_eq!(e.to_string(), "body exceeds the limit of 1048576 bytes");
        // Without a client limit, the caller's own bound still holds, frame
        // by frame.
        let open = Client::builder().with_decompression(true).build().unwrap();
        let resp = open.get(url(&addr, "/")).await.unwrap();
        let e = resp.into_body().collect_limited(1 << 20).await.unwrap_err();
        assert!(e.is_too_large(), "{e}");
        // Without decompression the compressed bytes come through as sent.
        let raw = Client::builder()
            .with_max_response_body(1 << 20)
            .build()
            .unwrap();
        let resp = raw.get(url(&addr, "/")).await.unwrap();
        assert_eq!(resp.headers()[CONTENT_ENCODING], "gzip");
        assert!(resp.into_body().collect_limited(1 << 20).await.is_ok());
    }
);

each_backend!(a_corrupt_stream_is_malformed, |_backend| async move {
    let mut broken = gzip(text().as_bytes());
    let mid = broken.len() / 2;
    for b in &mut broken[mid..mid + 16] {
        *b ^= 0x5a;
    }
    let addr = serve_encoded(broken).await;
    let client = Client::builder().with_decompression(true).build().unwrap();
    let resp = client.get(url(&addr, "/")).await.unwrap();
    let e = resp.into_body().collect_limited(1 << 20).await.unwrap_err();
    assert!(e.is_malformed(), "{e}");
    // A HEAD answer carries the headers of an encoded body but no body.
    let req = Request::head(url(&addr, "/")).body(Body::empty()).unwrap();
    let resp = client.request(req).await.unwrap();
    let headers: &HeaderMap = resp.headers();
    assert_eq!(headers[CONTENT_ENCODING], "gzip");
});
