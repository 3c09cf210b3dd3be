//! Fuzzes wego-hertz's router and extractors with peer-controlled input:
//! the path (matching, percent-decoding, trailing-slash redirects), the
//! query (`Query`, `RequestContext::query`), the `Cookie` header
//! (`CookieJar`), the content type and body (`Json`, `Form`, `Multipart`,
//! `RequestContext::post_form`). Every request must get an answer that is
//! not a 5xx, and nothing may panic.
//!
//! Input layout: fields separated by 0xFF: path-and-query, cookie header,
//! content type, body.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use tower_service::Service;
use wego_hertz::extract::{CookieJar, Form, Json, Multipart, Path, Query, RequestContext};
use wego_hertz::{Body, Router};
use wego_netpoll::rt::Runtime;

type Map = HashMap<String, String>;

fn router() -> Router {
    Router::new()
        .get("/", || async { "root" })
        .get("/p/:a/:b", |Path((a, b)): Path<(String, u32)>| async move {
            format!("{a}{b}")
        })
        .get("/q", |Query(m): Query<Map>, jar: CookieJar| async move {
            format!("{} {}", m.len(), jar.iter().count())
        })
        .post("/j", |Json(v): Json<serde_json::Value>| async move {
            v.to_string()
        })
        .post(
            "/f",
            |Form(m): Form<Map>| async move { m.len().to_string() },
        )
        .post("/m", |mut m: Multipart| async move {
            let mut n = 0usize;
            while let Ok(Some(f)) = m.next_field().await {
                n += f.bytes().await.map(|b| b.len()).unwrap_or(0);
            }
            n.to_string()
        })
        .post("/c/:id", |mut c: RequestContext| async move {
            let form = c.post_form("k").await.ok().flatten().unwrap_or_default();
            format!("{:?} {:?} {form}", c.param("id"), c.query("q"))
        })
        .get("/s/*rest", |Path(rest): Path<String>| async move { rest })
}

thread_local! {
    static RT: Runtime = Runtime::builder().build().expect("runtime");
    static APP: RefCell<Router> = RefCell::new(router());
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|b| *b == 0xFF);
    let target = fields.next().unwrap_or_default();
    let cookie = fields.next().unwrap_or_default();
    let content_type = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default().to_vec();
    let Ok(target) = std::str::from_utf8(target) else {
        return;
    };
    let method = if body.is_empty() {
        http::Method::GET
    } else {
        http::Method::POST
    };
    let mut builder = http::Request::builder().method(method).uri(target);
    if let Ok(v) = http::HeaderValue::from_bytes(cookie) {
        builder = builder.header(http::header::COOKIE, v);
    }
    if let Ok(v) = http::HeaderValue::from_bytes(content_type) {
        builder = builder.header(http::header::CONTENT_TYPE, v);
    }
    let Ok(req) = builder.body(Body::from(body)) else {
        return;
    };
    let mut app = APP.with(|a| a.borrow().clone());
    let res = RT
        .with(|rt| rt.block_on(app.call(req)))
        .expect("infallible");
    assert!(
        !res.status().is_server_error(),
        "{target:?} -> {}",
        res.status()
    );
});
