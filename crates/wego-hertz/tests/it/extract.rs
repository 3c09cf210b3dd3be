//! Extractors over the wire: client address, JSON, forms, multipart
//! (with curl), cookies, the server's body limit.

use std::process::Command;

use wego_hertz::extract::{
    ClientAddr, CookieJar, Form, Json, Multipart, MultipartError, Query, RequestContext,
};
use wego_hertz::{Body, Router, Server};
use wego_netpoll::rt;

use crate::support::{roundtrip, start};

#[derive(serde::Deserialize, serde::Serialize)]
struct Item {
    name: String,
    qty: u32,
}

fn app() -> Router {
    Router::new()
        .get("/addr", |ClientAddr(a): ClientAddr| async move {
            a.as_tcp().map(|s| s.ip().to_string()).unwrap_or_default()
        })
        .post("/json", |Json(i): Json<Item>| async move { Json(i) })
        .post("/form", |Form(i): Form<Item>| async move {
            format!("{} x{}", i.name, i.qty)
        })
        .get("/query", |Query(i): Query<Item>| async move {
            format!("{} x{}", i.name, i.qty)
        })
        .get("/cookie", |jar: CookieJar| async move {
            jar.get("session").unwrap_or("none").to_owned()
        })
        .post("/ctx/:id", |mut c: RequestContext| async move {
            let body = c.body().await.map(|b| b.len()).unwrap_or(0);
            format!(
                "{} {} {:?} {body}",
                c.param("id").unwrap_or("-"),
                c.method(),
                c.client_ip()
            )
        })
        .post("/upload", |mut m: Multipart| async move {
            let mut parts = Vec::new();
            while let Some(mut f) = m.next_field().await? {
                let name = f.name().unwrap_or_default().to_owned();
                let mut len = 0;
                while let Some(chunk) = f.chunk().await? {
                    len += chunk.len();
                }
                parts.push(format!("{name}={len}"));
            }
            Ok::<_, MultipartError>(parts.join(","))
        })
        .post("/stream", |body: Body| async move {
            use http_body_util::BodyExt;
            let mut body = body;
            let mut frames = 0;
            let mut total = 0;
            while let Some(Ok(f)) = body.frame().await {
                if let Some(d) = f.data_ref() {
                    frames += 1;
                    total += d.len();
                }
            }
            format!("{frames} {total}")
        })
}

wego_test_support::each_backend!(head_extractors, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let r = roundtrip(&addr, b"GET /addr HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(r.body, b"127.0.0.1");
    let r = roundtrip(
        &addr,
        b"GET /query?name=pen&qty=3 HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .await;
    assert_eq!(r.body, b"pen x3");
    let r = roundtrip(
        &addr,
        b"GET /cookie HTTP/1.1\r\nHost: t\r\nCookie: a=b; session=s1\r\n\r\n",
    )
    .await;
    assert_eq!(r.body, b"s1");
    let r = roundtrip(
        &addr,
        b"POST /ctx/9 HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 192.0.2.1\r\nContent-Length: 3\r\n\r\nabc",
    )
    .await;
    assert_eq!(r.body, b"9 POST Some(192.0.2.1) 3");
});

wego_test_support::each_backend!(body_extractors_and_limits, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder().with_body_limit(64), app()).await;
    let body = r#"{"name":"pen","qty":2}"#;
    let raw = format!(
        "POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = roundtrip(&addr, raw.as_bytes()).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, body.as_bytes()));
    let r = roundtrip(
        &addr,
        b"POST /form HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 16\r\n\r\nname=a+b&qty=12x",
    )
    .await;
    assert_eq!(r.status, 422);
    let r = roundtrip(
        &addr,
        b"POST /form HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\nname=a+b&qty=12",
    )
    .await;
    assert_eq!(r.body, b"a b x12");
    // Past the server's body limit (64 bytes), chunked so that the length
    // is only known while reading.
    let big = format!(r#"{{"name":"{}","qty":1}}"#, "x".repeat(100));
    let raw = format!(
        "POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let r = roundtrip(&addr, raw.as_bytes()).await;
    assert_eq!(r.status, 413);
});

wego_test_support::each_backend!(
    streamed_upload_reaches_the_handler_in_frames,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let raw = b"POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
        let r = roundtrip(&addr, raw).await;
        let text = String::from_utf8(r.body).unwrap();
        assert!(text.ends_with(" 7"), "{text}");
    }
);

wego_test_support::each_backend!(curl_multipart_upload, |_backend| async move {
    let Some(curl) = wego_test_support::peer::program("curl_multipart_upload", "curl") else {
        return;
    };
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let file = std::env::temp_dir().join(format!("wego-hertz-mp-{}", std::process::id()));
    std::fs::write(&file, vec![b'z'; 100_000]).unwrap();
    let arg = format!("doc=@{}", file.display());
    let url = format!("http://{addr}/upload");
    let out = rt::spawn_blocking(move || {
        wego_test_support::peer::output(Command::new(curl).args([
            "-sS",
            "-F",
            "title=hello",
            "-F",
            &arg,
            &url,
        ]))
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "title=5,doc=100000");
});
