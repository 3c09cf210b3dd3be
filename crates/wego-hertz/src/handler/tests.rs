use std::time::Duration;

use http::{Method, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::Body;
use crate::extract::{Path, Query, State};

fn call<H: Handler<T>, T: 'static>(h: H, uri: &str) -> (StatusCode, String) {
    let req = http::Request::builder()
        .method(Method::GET)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    wego_netpoll::rt::block_on(async move {
        let res = h.into_service().oneshot(req).await.unwrap();
        let status = res.status();
        let b = res.into_body().collect_limited(1024).await.unwrap();
        (status, String::from_utf8(b.to_vec()).unwrap())
    })
    .unwrap()
}

#[derive(serde::Deserialize)]
struct Q {
    a: u8,
}

#[test]
fn handlers_take_up_to_eight_extractors() {
    let h = |m: Method,
             u: http::Uri,
             v: http::Version,
             q: Query<Q>,
             hm: http::HeaderMap,
             e: http::Extensions,
             o: Option<State<u8>>,
             body: String| async move {
        format!(
            "{m} {} {v:?} {} {} {} {} {body:?}",
            u.path(),
            q.a,
            hm.len(),
            e.len(),
            o.is_none()
        )
    };
    let (s, b) = call(h, "/x?a=4");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, "GET /x HTTP/1.1 4 0 0 true \"\"");
}

#[test]
fn rejection_short_circuits() {
    let (s, b) = call(|Query(q): Query<Q>| async move { q.a.to_string() }, "/?a=x");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.starts_with("invalid query string"));
    // Path without a router: no params → 500.
    let (s, _) = call(|Path(id): Path<u32>| async move { id.to_string() }, "/1");
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn handler_layer_wraps_one_handler() {
    // Never answers: only the timeout can.
    let slow = || async {
        std::future::pending::<()>().await;
        "late"
    };
    let h = slow.layer(crate::middleware::TimeoutLayer::new(Duration::from_millis(
        20,
    )));
    assert_eq!(call(h, "/").0, StatusCode::REQUEST_TIMEOUT);
}
