//! Validated binding over the wire: failures are a 400 JSON list of fields
//! by wire name.

use wego_hertz::extract::{Form, Json, Query, Valid};
use wego_hertz::{Router, Server};

use crate::support::{roundtrip, start};

#[derive(serde::Deserialize, validator::Validate)]
#[serde(rename_all = "camelCase")]
struct Order {
    #[validate(length(min = 1, max = 16))]
    product_id: String,
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    quantity: u32,
}

fn app() -> Router {
    Router::new()
        .post("/orders", |Valid(Json(o)): Valid<Json<Order>>| async move {
            format!("{} x{}", o.product_id, o.quantity)
        })
        .get(
            "/orders",
            |Valid(Query(o)): Valid<Query<Order>>| async move { o.product_id },
        )
}

fn post(body: &str) -> Vec<u8> {
    format!(
        "POST /orders HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

wego_test_support::each_backend!(valid_bodies_reach_the_handler, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let r = roundtrip(&addr, &post(r#"{"productId":"p1","quantity":3}"#)).await;
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"p1 x3"[..]));
});

wego_test_support::each_backend!(invalid_bodies_get_a_field_list, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let r = roundtrip(&addr, &post(r#"{"productId":"","quantity":0}"#)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "error": "validation failed",
            "fields": [
                {"field": "productId", "reason": "failed `length` (max=16, min=1)"},
                {"field": "quantity", "reason": "must be between 1 and 100"},
            ]
        })
    );
    let r = roundtrip(
        &addr,
        b"GET /orders?productId=p&quantity=101 HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["fields"][0]["field"], "quantity");
    // Malformed JSON is still the extractor's 400 text, not a field list.
    let r = roundtrip(&addr, &post("{")).await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with(b"malformed json"));
});

wego_test_support::each_backend!(
    valid_json_and_form_check_the_content_type_first,
    |_backend| async move {
        let with_form = || {
            app().post(
                "/orders/form",
                |Valid(Form(o)): Valid<Form<Order>>| async move { o.product_id },
            )
        };
        // A body over the limit with the wrong content type: 415, as the
        // bare extractors answer, before the body is read (not 413).
        let (_server, addr, _task) =
            start(Server::builder().with_body_limit(16), with_form()).await;
        let body = "x".repeat(32);
        for (path, content_type) in [
            ("/orders", "text/plain"),
            ("/orders/form", "application/json"),
        ] {
            let raw = format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let r = roundtrip(&addr, raw.as_bytes()).await;
            assert_eq!(r.status, 415, "{path}");
        }
        // The right content type still reaches the limit, and a valid form
        // the handler.
        let raw = format!(
            "POST /orders/form HTTP/1.1\r\nHost: t\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(roundtrip(&addr, raw.as_bytes()).await.status, 413);
        let form = "productId=p2&quantity=5";
        let raw = format!(
            "POST /orders/form HTTP/1.1\r\nHost: t\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        );
        let (_server, addr, _task) = start(Server::builder(), with_form()).await;
        let r = roundtrip(&addr, raw.as_bytes()).await;
        assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"p2"[..]));
    }
);
