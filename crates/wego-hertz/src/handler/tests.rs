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

/// Calls `h` with a request that has a header and an extension, on this
/// thread, and says how many maps the thread's pools gained.
fn pooled_after<H: Handler<T>, T: 'static>(h: H) -> (usize, usize) {
    crate::recycle::drain();
    let mut req = http::Request::builder()
        .uri("/")
        .header("x-a", "1")
        .body(Body::from("body"))
        .unwrap();
    req.extensions_mut().insert(7u32);
    wego_netpoll::rt::block_on(async move {
        let res = h.into_service().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    })
    .unwrap();
    let pooled = crate::recycle::pooled();
    crate::recycle::drain();
    pooled
}

#[test]
fn the_glue_gives_a_request_maps_back_once_it_is_done_with_them() {
    let no_args = || async { StatusCode::NO_CONTENT };
    assert_eq!(pooled_after(no_args), (1, 1), "a handler with no argument");
    let head_last = |m: Method| async move {
        assert_eq!(m, Method::GET);
        StatusCode::NO_CONTENT
    };
    assert_eq!(
        pooled_after(head_last),
        (1, 1),
        "a last argument from the head"
    );
    let body_last = |b: String| async move {
        assert_eq!(b, "body");
        StatusCode::NO_CONTENT
    };
    assert_eq!(pooled_after(body_last), (1, 1), "a buffered body");
    // A handler that takes the request whole owns its maps.
    let whole = |req: Request| async move {
        assert_eq!(req.extensions().get::<u32>(), Some(&7));
        StatusCode::NO_CONTENT
    };
    assert_eq!(pooled_after(whole), (0, 0));
}
