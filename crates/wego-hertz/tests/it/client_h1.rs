//! wego's HTTP/1.1 client against wego's server: keep-alive reuse,
//! `Connection: close`, streaming both ways, the response body limit and
//! tower middleware on top.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::{Notify, mpsc};
use tower::ServiceExt;
use wego_hertz::{Body, Client, Server};

use crate::client_support::{url, wego_server};

/// `/hello`: "hello"; `/echo`: the request body streamed back;
/// `/big`: 100 bytes with a length; `/big-chunked`: 100 bytes chunked;
/// `/header`: the `x-tag` request header as the body.
async fn app(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(match req.uri().path() {
        "/hello" => Response::new(Body::from("hello")),
        "/echo" => Response::new(req.into_body()),
        "/big" => Response::new(Body::from(vec![b'x'; 100])),
        "/big-chunked" => {
            let chunks = (0..10).map(|_| Ok::<_, Infallible>(Bytes::from(vec![b'y'; 10])));
            Response::new(Body::from_stream(futures_util::stream::iter(chunks)))
        }
        "/header" => {
            let tag = req.headers().get("x-tag").cloned();
            Response::new(Body::from(
                tag.map_or(Vec::new(), |v| v.as_bytes().to_vec()),
            ))
        }
        _ => {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    })
}

async fn text(resp: Response<Body>) -> String {
    let body = resp.into_body().collect_limited(1 << 20).await.unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

wego_test_support::each_backend!(keep_alive_reuses_one_connection, |_backend| async move {
    let (_server, addr, accepts) = wego_server(Server::builder(), tower::service_fn(app)).await;
    let client = Client::builder().build().unwrap();
    for _ in 0..3 {
        let resp = client.get(url(&addr, "/hello")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(text(resp).await, "hello");
    }
    let resp = client
        .request(
            Request::post(url(&addr, "/echo"))
                .body(Body::from("posted"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(text(resp).await, "posted");
    assert_eq!(accepts.get(), 1);
});

wego_test_support::each_backend!(connection_close_is_never_reused, |_backend| async move {
    let (_server, addr, accepts) = wego_server(Server::builder(), tower::service_fn(app)).await;
    let client = Client::builder().build().unwrap();
    for _ in 0..2 {
        let req = Request::get(url(&addr, "/hello"))
            .header("connection", "close")
            .body(Body::empty())
            .unwrap();
        assert_eq!(text(client.request(req).await.unwrap()).await, "hello");
    }
    assert_eq!(accepts.get(), 2);
    // The server closing on its own is honoured too.
    let (_server, addr, accepts) = wego_server(
        Server::builder().with_keep_alive(false),
        tower::service_fn(app),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            text(client.get(url(&addr, "/hello")).await.unwrap()).await,
            "hello"
        );
    }
    assert_eq!(accepts.get(), 2);
});

wego_test_support::each_backend!(
    keep_alive_off_opens_a_connection_per_request,
    |_backend| async move {
        let (_server, addr, accepts) = wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = Client::builder().with_max_idle_per_host(0).build().unwrap();
        for _ in 0..2 {
            assert_eq!(
                text(client.get(url(&addr, "/hello")).await.unwrap()).await,
                "hello"
            );
        }
        assert_eq!(accepts.get(), 2);
    }
);

wego_test_support::each_backend!(
    chunked_response_streams_in_as_it_is_sent,
    |_backend| async move {
        let gate = Arc::new(Notify::new());
        let opened = Arc::clone(&gate);
        let svc = tower::service_fn(move |req: Request<Body>| {
            let gate = Arc::clone(&opened);
            async move {
                if req.uri().path() == "/hello" {
                    return app(req).await;
                }
                // The second chunk is produced only after the client has
                // read the first: the response must stream.
                let stream = futures_util::stream::unfold(0, move |n| {
                    let gate = Arc::clone(&gate);
                    async move {
                        match n {
                            0 => Some((Ok::<_, Infallible>(Bytes::from_static(b"first")), 1)),
                            1 => {
                                gate.notified().await;
                                Some((Ok(Bytes::from_static(b"second")), 2))
                            }
                            _ => None,
                        }
                    }
                });
                Ok::<_, Infallible>(Response::new(Body::from_stream(stream)))
            }
        });
        let (_server, addr, accepts) = wego_server(Server::builder(), svc).await;
        let client = Client::builder().build().unwrap();
        let mut body = client.get(url(&addr, "/")).await.unwrap().into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"first");
        gate.notify_one();
        let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&second[..], b"second");
        assert!(body.frame().await.is_none());
        // The chunked body ended cleanly: the connection is reused.
        assert_eq!(
            text(client.get(url(&addr, "/hello")).await.unwrap()).await,
            "hello"
        );
        assert_eq!(accepts.get(), 1);
    }
);

wego_test_support::each_backend!(
    request_body_streams_out_while_the_response_streams_in,
    |_backend| async move {
        let (_server, addr, accepts) = wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = Client::builder().build().unwrap();
        let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(1);
        let upload = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        let req = Request::post(url(&addr, "/echo")).body(upload).unwrap();
        tx.send(Ok(Bytes::from_static(b"ping"))).await.unwrap();
        // The server echoes each piece before the upload ends: the request
        // is still being written while its response is read.
        let resp = client.request(req).await.unwrap();
        let mut body = resp.into_body();
        let echoed = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&echoed[..], b"ping");
        tx.send(Ok(Bytes::from_static(b"pong"))).await.unwrap();
        let echoed = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&echoed[..], b"pong");
        drop(tx);
        assert!(body.frame().await.is_none());
        // A large upload of unknown length goes out chunked and comes back
        // whole.
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let pieces: Vec<Result<Bytes, Infallible>> = data
            .chunks(50_000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let req = Request::put(url(&addr, "/echo"))
            .body(Body::from_stream(futures_util::stream::iter(pieces)))
            .unwrap();
        let got = client
            .request(req)
            .await
            .unwrap()
            .into_body()
            .collect_limited(2_000_000)
            .await
            .unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got[..] == data[..]);
        assert!(accepts.get() <= 2);
    }
);

wego_test_support::each_backend!(
    response_body_over_the_limit_fails_cleanly,
    |_backend| async move {
        let (_server, addr, _accepts) =
            wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = Client::builder()
            .with_max_response_body(50)
            .build()
            .unwrap();
        for path in ["/big", "/big-chunked"] {
            let resp = client.get(url(&addr, path)).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let mut body = resp.into_body();
            let err = loop {
                match body.frame().await {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break e,
                    None => panic!("{path}: body over the limit ended without an error"),
                }
            };
            assert!(err.is_too_large(), "{path}: {err}");
        }
        // Within the limit, the same client reads bodies as usual.
        assert_eq!(
            text(client.get(url(&addr, "/hello")).await.unwrap()).await,
            "hello"
        );
    }
);

wego_test_support::each_backend!(
    tower_middleware_stacks_on_the_client,
    |_backend| async move {
        let (_server, addr, _accepts) =
            wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = Client::builder().build().unwrap();
        let tagged = tower::ServiceBuilder::new()
            .map_request(|mut req: Request<Body>| {
                req.headers_mut()
                    .insert("x-tag", HeaderValue::from_static("from-a-layer"));
                req
            })
            .service(client);
        let req = Request::builder()
            .method(Method::GET)
            .uri(url(&addr, "/header"))
            .body(Body::empty())
            .unwrap();
        let resp = tagged.oneshot(req).await.unwrap();
        assert_eq!(text(resp).await, "from-a-layer");
    }
);

wego_test_support::each_backend!(bad_uris_are_request_errors, |_backend| async move {
    let client = Client::builder().build().unwrap();
    for uri in ["/relative", "ftp://127.0.0.1/", "not a uri"] {
        let err = client.get(uri).await.unwrap_err();
        assert!(err.is_request(), "{uri}: {err}");
    }
    // https needs the `tls` feature (tests/it/client_tls.rs has it on).
    if cfg!(not(feature = "tls")) {
        let err = client.get("https://127.0.0.1/").await.unwrap_err();
        assert!(err.is_request(), "{err}");
    }
});
