//! wego's client against hyper's HTTP/1.1 server: keep-alive reuse and
//! chunked responses from a server that is not wego's.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use wego_hertz::Client;
use wego_netpoll::Address;

use crate::client_support::{Accepts, url};

type HyperBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn hyper_app(req: Request<Incoming>) -> Result<Response<HyperBody>, Infallible> {
    Ok(match req.uri().path() {
        "/chunked" => {
            let frames = ["one ", "two ", "three"]
                .map(|s| Ok::<_, Infallible>(Frame::data(Bytes::from_static(s.as_bytes()))));
            Response::new(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
                frames,
            ))))
        }
        "/echo" => {
            let body = req
                .into_body()
                .collect()
                .await
                .map_or(Bytes::new(), |b| b.to_bytes());
            Response::new(Full::new(body).boxed())
        }
        _ => Response::new(Full::new(Bytes::from_static(b"hyper")).boxed()),
    })
}

/// hyper's HTTP/1.1 server on loopback, one task per connection.
async fn hyper_server() -> (Address, Accepts) {
    crate::client_support::raw_server(|_n, conn| async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(conn), hyper::service::service_fn(hyper_app))
            .await;
    })
    .await
}

wego_test_support::each_backend!(hyper_server_keep_alive_and_chunked, |_backend| async move {
    let (addr, accepts) = hyper_server().await;
    let client = Client::builder().build().unwrap();
    for _ in 0..3 {
        let resp = client.get(url(&addr, "/")).await.unwrap();
        assert_eq!(
            &resp.into_body().collect_limited(100).await.unwrap()[..],
            b"hyper"
        );
    }
    let resp = client.get(url(&addr, "/chunked")).await.unwrap();
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");
    let body = resp.into_body().collect_limited(100).await.unwrap();
    assert_eq!(&body[..], b"one two three");
    let chunks = futures_util::stream::iter(
        [&b"streamed "[..], b"upload"].map(|s| Ok::<_, Infallible>(Bytes::from_static(s))),
    );
    let req = Request::post(url(&addr, "/echo"))
        .body(wego_hertz::Body::from_stream(chunks))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let body = resp.into_body().collect_limited(100).await.unwrap();
    assert_eq!(&body[..], b"streamed upload");
    assert_eq!(accepts.get(), 1);
});
