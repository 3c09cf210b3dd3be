//! Each limit as hyper's client sees it: 414, 431 and 413 arrive as
//! ordinary responses, and the server's close after them ends hyper's
//! connection; a 408 can only reach a connection that never sent a request,
//! where hyper reports it as an unexpected message and closes (on the
//! paused clock, in `timeouts`).

use http::{Method, StatusCode};
use wego_hertz::Server;

use crate::client::{get, hyper_connect, request};
use crate::support::{server_closed_all, start_app};

wego_test_support::each_backend!(long_uri_is_414_then_close, |_backend| async move {
    let (server, addr, _task) = start_app(Server::builder()).await;
    let mut c = hyper_connect(&addr).await;
    let resp = c.fetch(get(&format!("/{}", "a".repeat(9000)))).await;
    assert_eq!(resp.status, StatusCode::URI_TOO_LONG);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(c.closed().await.is_ok());
    assert!(server_closed_all(&server).await);
});

wego_test_support::each_backend!(
    large_or_many_headers_are_431_then_close,
    |_backend| async move {
        let (server, addr, _task) = start_app(Server::builder().with_max_head_size(8192)).await;
        let mut c = hyper_connect(&addr).await;
        let mut req = get("/");
        req.headers_mut()
            .insert("x-big", "b".repeat(10_000).parse().unwrap());
        let resp = c.fetch(req).await;
        assert_eq!(resp.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert!(c.closed().await.is_ok());

        let mut c = hyper_connect(&addr).await;
        let mut req = get("/");
        for i in 0..101 {
            req.headers_mut().insert(
                format!("x-{i}").parse::<http::HeaderName>().unwrap(),
                "v".parse().unwrap(),
            );
        }
        let resp = c.fetch(req).await;
        assert_eq!(resp.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(resp.header("connection"), Some("close"));
        assert!(c.closed().await.is_ok());
        assert!(server_closed_all(&server).await);
    }
);

wego_test_support::each_backend!(body_limits_are_413, |_backend| async move {
    // The buffered-body limit is the handler's answer: the connection stays.
    let (_server, addr, _task) = start_app(Server::builder().with_body_limit(1000)).await;
    let mut c = hyper_connect(&addr).await;
    let ok = c
        .fetch(request(Method::POST, "/collect", vec![b'a'; 1000]))
        .await;
    assert_eq!(ok.text(), "1000");
    let big = c
        .fetch(request(Method::POST, "/collect", vec![b'a'; 1001]))
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(big.header("connection"), None);
    assert_eq!(c.fetch(get("/")).await.text(), "hello");

    // The hard cap refuses a declared length before the handler, and closes.
    let (server, addr, _task) = start_app(Server::builder().with_max_body_size(Some(10))).await;
    let mut c = hyper_connect(&addr).await;
    let resp = c.fetch(request(Method::POST, "/echo", "0123456789x")).await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(c.closed().await.is_ok());
    assert!(server_closed_all(&server).await);
});
