//! Validated binding over the wire: failures are a 400 JSON list of fields
//! by wire name.

use wego_hertz::extract::{Json, Query, Valid};
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
