//! The handlers the hertz whole-connection targets serve, one of each
//! shape: a buffered echo (`POST /e`), a streaming echo (`PUT /s`), a body
//! that fails before its first byte (`GET /f0`) and one that fails after
//! it (`GET /f1`), and an answer that never reads its body (`GET /`, the
//! request's field names).

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use wego_hertz::{Body, Router};

/// The router; every handler first passes its request to `inspect`.
pub fn app(inspect: fn(&Request<Body>)) -> Router {
    Router::new()
        .route_service(
            http::Method::POST,
            "/e",
            tower::service_fn(move |req: Request<Body>| async move {
                inspect(&req);
                let body = match req.into_body().collect_limited(4096).await {
                    Ok(b) => Body::from(b),
                    Err(e) => Body::from(e.to_string()),
                };
                Ok::<_, Infallible>(Response::new(body))
            }),
        )
        .route_service(
            http::Method::PUT,
            "/s",
            tower::service_fn(move |req: Request<Body>| async move {
                inspect(&req);
                Ok::<_, Infallible>(Response::new(req.into_body()))
            }),
        )
        .route_service(
            http::Method::GET,
            "/f0",
            tower::service_fn(move |req: Request<Body>| async move {
                inspect(&req);
                let body = Body::from_stream(futures_util::stream::iter([Err::<Bytes, _>(
                    std::io::Error::other("failed before the first byte"),
                )]));
                Ok::<_, Infallible>(Response::new(body))
            }),
        )
        .route_service(
            http::Method::GET,
            "/f1",
            tower::service_fn(move |req: Request<Body>| async move {
                inspect(&req);
                let body = Body::from_stream(futures_util::stream::iter([
                    Ok(Bytes::from_static(b"first")),
                    Err(std::io::Error::other("failed after the first byte")),
                ]));
                Ok::<_, Infallible>(Response::new(body))
            }),
        )
        .route_service(
            http::Method::GET,
            "/",
            tower::service_fn(move |req: Request<Body>| async move {
                inspect(&req);
                let names = req
                    .headers()
                    .keys()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                Ok::<_, Infallible>(Response::new(Body::from(names)))
            }),
        )
}
