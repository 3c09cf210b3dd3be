//! wego's client over HTTP/2 by prior knowledge against wego's and
//! hyper's servers: requests multiplexed on one connection, a second
//! connection when the server's stream limit is reached, streaming both
//! ways past the flow-control window, the body and header limits, the
//! read-idle timeout, GOAWAY, and HTTP/2 chosen per request.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body::Body as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use wego_hertz::{Body, Client, Server};
use wego_netpoll::{Address, rt};

use crate::client_support::{Accepts, raw_server, url, wego_server};
use crate::proxy::within;

async fn app(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(match req.uri().path() {
        "/echo" => Response::new(req.into_body()),
        "/big" => Response::new(Body::from(vec![b'x'; 100])),
        "/te" => {
            let te: Vec<&str> = req
                .headers()
                .get_all("te")
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect();
            Response::new(Body::from(te.join(" | ")))
        }
        // The length of the body a GET would have had (RFC 9110 §8.6).
        "/not-modified" | "/no-content" => {
            let status = if req.uri().path() == "/no-content" {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::NOT_MODIFIED
            };
            Response::builder()
                .status(status)
                .header("content-length", "100")
                .body(Body::empty())
                .unwrap()
        }
        _ => Response::new(Body::from("hello")),
    })
}

wego_test_support::each_backend!(http2_requests_share_one_connection, |_backend| async move {
    let (_server, addr, accepts) = wego_server(Server::builder(), tower::service_fn(app)).await;
    let client = Client::builder()
        .with_http2_prior_knowledge()
        .build()
        .unwrap();
    // The first request opens the connection; the next ten run at once
    // on it as streams.
    let resp = client.get(url(&addr, "/")).await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(
        &resp.into_body().collect_limited(10).await.unwrap()[..],
        b"hello"
    );
    let all = futures_util::future::join_all((0..10).map(|_| {
        let client = client.clone();
        let u = url(&addr, "/");
        async move {
            let resp = client.get(u).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.into_body().collect_limited(10).await.unwrap()
        }
    }))
    .await;
    assert!(all.iter().all(|b| &b[..] == b"hello"));
    assert_eq!(accepts.get(), 1);
});

wego_test_support::each_backend!(
    http2_streams_both_ways_and_limits_the_body,
    |_backend| async move {
        let (_server, addr, _accepts) =
            wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = Client::builder()
            .with_http2_prior_knowledge()
            .with_max_response_body(50)
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(1);
        let upload = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        tx.send(Ok(Bytes::from_static(b"ping"))).await.unwrap();
        let resp = client
            .request(Request::post(url(&addr, "/echo")).body(upload).unwrap())
            .await
            .unwrap();
        let mut body = resp.into_body();
        let echoed = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&echoed[..], b"ping");
        tx.send(Ok(Bytes::from_static(b"pong"))).await.unwrap();
        let echoed = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&echoed[..], b"pong");
        drop(tx);
        while let Some(frame) = body.frame().await {
            assert!(frame.unwrap().into_data().unwrap().is_empty());
        }
        let body = client.get(url(&addr, "/big")).await.unwrap().into_body();
        let err = body.collect_limited(1000).await.unwrap_err();
        assert!(err.is_too_large(), "{err}");
    }
);

wego_test_support::each_backend!(
    http2_head_204_and_304_have_empty_bodies_whatever_their_length,
    |_backend| async move {
        let (_server, addr, _accepts) =
            wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = Client::builder()
            .with_http2_prior_knowledge()
            .with_max_response_body(10)
            .build()
            .unwrap();
        let head = Request::head(url(&addr, "/big")).body(Body::empty());
        let get = |path| Request::get(url(&addr, path)).body(Body::empty());
        for (req, status) in [
            (head.unwrap(), StatusCode::OK),
            (get("/not-modified").unwrap(), StatusCode::NOT_MODIFIED),
            (get("/no-content").unwrap(), StatusCode::NO_CONTENT),
        ] {
            let what = format!("{} {}", req.method(), req.uri().path());
            let resp = client.request(req).await.unwrap();
            assert_eq!(resp.version(), Version::HTTP_2);
            assert_eq!(resp.status(), status, "{what}");
            assert_eq!(resp.headers()["content-length"], "100", "{what}");
            let body = resp.into_body();
            assert_eq!(body.size_hint().exact(), Some(0), "{what}");
            assert!(body.is_end_stream(), "{what}");
            let bytes = body
                .collect_limited(10)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(bytes.is_empty(), "{what}");
        }
    }
);

wego_test_support::each_backend!(
    http2_requests_send_te_trailers_only,
    |_backend| async move {
        // RFC 9113 §8.2.2: TE may only say `trailers` over HTTP/2. What
        // HTTP/1.1 would send as it is goes as `te: trailers` when it
        // lists trailers, and is dropped when it does not.
        let (_server, addr, _accepts) =
            wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = Client::builder()
            .with_http2_prior_knowledge()
            .build()
            .unwrap();
        for (te, seen) in [
            (&["trailers"][..], "trailers"),
            (&["trailers, deflate"][..], "trailers"),
            (&["Trailers"][..], "trailers"),
            (&["gzip", "trailers"][..], "trailers"),
            (&["gzip"][..], ""),
        ] {
            let mut req = Request::get(url(&addr, "/te"));
            for value in te {
                req = req.header("te", *value);
            }
            let resp = client
                .request(req.body(Body::empty()).unwrap())
                .await
                .unwrap_or_else(|e| panic!("{te:?}: {e}"));
            assert_eq!(resp.version(), Version::HTTP_2);
            assert_eq!(resp.status(), StatusCode::OK, "{te:?}");
            let body = resp.into_body().collect_limited(100).await.unwrap();
            assert_eq!(&body[..], seen.as_bytes(), "{te:?}");
        }
    }
);

wego_test_support::each_backend!(
    http2_is_chosen_per_request_by_version,
    |_backend| async move {
        let (_server, addr, _accepts) =
            wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = Client::builder().build().unwrap();
        let h1 = client.get(url(&addr, "/")).await.unwrap();
        assert_eq!(h1.version(), Version::HTTP_11);
        let req = Request::get(url(&addr, "/"))
            .version(Version::HTTP_2)
            .body(Body::empty())
            .unwrap();
        let h2 = client.request(req).await.unwrap();
        assert_eq!(h2.version(), Version::HTTP_2);
        assert_eq!(
            &h2.into_body().collect_limited(10).await.unwrap()[..],
            b"hello"
        );
    }
);

wego_test_support::each_backend!(
    http2_flow_control_carries_bodies_past_the_window,
    |_backend| async move {
        // 1 MiB each way is sixteen times the default 64 KiB window: the
        // upload waits for window updates, the download releases window as
        // it is read; without either the exchange stalls.
        let (_server, addr, _accepts) =
            wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = Client::builder()
            .with_http2_prior_knowledge()
            .build()
            .unwrap();
        let chunks = (0..64u8).map(|i| Ok::<_, Infallible>(Bytes::from(vec![i; 16 * 1024])));
        let upload = Body::from_stream(futures_util::stream::iter(chunks));
        let resp = client
            .request(Request::post(url(&addr, "/echo")).body(upload).unwrap())
            .await
            .unwrap();
        let mut body = resp.into_body();
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            got.extend_from_slice(&frame.unwrap().into_data().unwrap());
        }
        assert_eq!(got.len(), 64 * 16 * 1024);
        assert!(
            got.chunks(16 * 1024)
                .enumerate()
                .all(|(i, c)| c.iter().all(|&b| usize::from(b) == i))
        );
    }
);

/// `/hold`: tells the test it arrived, then answers once released.
async fn holding(
    arrived: mpsc::Sender<()>,
    release: Arc<tokio::sync::Semaphore>,
    req: Request<Body>,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/hold" {
        arrived.send(()).await.unwrap();
        release.acquire().await.unwrap().forget();
    }
    Ok(Response::new(Body::from("held")))
}

wego_test_support::each_backend!(
    http2_opens_a_second_connection_when_streams_run_out,
    |_backend| async move {
        let (arrived_tx, mut arrived) = mpsc::channel(8);
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let r = Arc::clone(&release);
        let svc = tower::service_fn(move |req| holding(arrived_tx.clone(), Arc::clone(&r), req));
        let (_server, addr, accepts) =
            wego_server(Server::builder().with_http2_max_concurrent_streams(2), svc).await;
        let client = Client::builder()
            .with_http2_prior_knowledge()
            .build()
            .unwrap();
        // One exchange first, so the server's SETTINGS (2 streams) are in.
        let resp = client.get(url(&addr, "/")).await.unwrap();
        drop(resp.into_body().collect_limited(10).await.unwrap());
        let held: Vec<_> = (0..3)
            .map(|_| {
                let client = client.clone();
                let u = url(&addr, "/hold");
                rt::spawn(async move {
                    let resp = client.get(u).await.unwrap();
                    resp.into_body().collect_limited(10).await.unwrap()
                })
            })
            .collect();
        // All three reach a handler at once only if the third did not
        // queue behind the first connection's two streams.
        for _ in 0..3 {
            arrived.recv().await.unwrap();
        }
        assert_eq!(accepts.get(), 2);
        release.add_permits(3);
        for h in held {
            assert_eq!(&h.await.unwrap()[..], b"held");
        }
        // Both connections stay in use: more requests open none.
        for _ in 0..4 {
            client.get(url(&addr, "/")).await.unwrap();
        }
        assert_eq!(accepts.get(), 2);
    }
);

/// Spawns hyper's tasks on the backend's runtime.
#[derive(Clone, Copy)]
struct Spawn;

impl<F> hyper::rt::Executor<F> for Spawn
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        rt::spawn(fut);
    }
}

type HyperBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

async fn hyper_app(req: Request<Incoming>) -> Result<Response<HyperBody>, Infallible> {
    Ok(match req.uri().path() {
        "/echo" => Response::new(req.into_body().boxed()),
        _ => Response::new(
            Full::new(Bytes::from_static(b"hyper h2"))
                .map_err(|never| match never {})
                .boxed(),
        ),
    })
}

/// hyper's HTTP/2 server; the first connection closes gracefully (GOAWAY)
/// after its first request when `goaway_first` is set, and reports when it
/// has ended.
async fn hyper_h2_server(goaway_first: bool) -> (Address, Accepts, mpsc::Receiver<()>) {
    let (ended_tx, ended) = mpsc::channel(1);
    let (addr, accepts) = raw_server(move |n, conn| {
        let ended_tx = ended_tx.clone();
        async move {
            let served = Arc::new(tokio::sync::Notify::new());
            let s = Arc::clone(&served);
            let svc = hyper::service::service_fn(move |req| {
                s.notify_one();
                hyper_app(req)
            });
            let conn = hyper::server::conn::http2::Builder::new(Spawn)
                .serve_connection(TokioIo::new(conn), svc);
            let mut conn = std::pin::pin!(conn);
            if goaway_first && n == 0 {
                tokio::select! {
                    _ = conn.as_mut() => {}
                    () = served.notified() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
                ended_tx.send(()).await.unwrap();
            } else {
                let _ = conn.await;
            }
        }
    })
    .await;
    (addr, accepts, ended)
}

wego_test_support::each_backend!(http2_against_hyper, |_backend| async move {
    let (addr, accepts, _) = hyper_h2_server(false).await;
    let client = Client::builder()
        .with_http2_prior_knowledge()
        .build()
        .unwrap();
    for _ in 0..3 {
        let resp = client.get(url(&addr, "/")).await.unwrap();
        assert_eq!(resp.version(), Version::HTTP_2);
        assert_eq!(
            &resp.into_body().collect_limited(100).await.unwrap()[..],
            b"hyper h2"
        );
    }
    let chunks = (0..8u8).map(|i| Ok::<_, Infallible>(Bytes::from(vec![i; 20_000])));
    let resp = client
        .request(
            Request::post(url(&addr, "/echo"))
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap(),
        )
        .await
        .unwrap();
    let body = resp.into_body().collect_limited(1 << 20).await.unwrap();
    assert_eq!(body.len(), 160_000);
    assert_eq!(accepts.get(), 1);
});

wego_test_support::each_backend!(
    http2_never_hands_out_a_connection_after_goaway,
    |_backend| async move {
        let (addr, accepts, mut ended) = hyper_h2_server(true).await;
        let client = Client::builder()
            .with_http2_prior_knowledge()
            .build()
            .unwrap();
        let resp = client.get(url(&addr, "/")).await.unwrap();
        drop(resp.into_body().collect_limited(100).await.unwrap());
        // The server sent GOAWAY and closed its first connection.
        ended.recv().await.unwrap();
        for _ in 0..3 {
            let resp = client.get(url(&addr, "/")).await.unwrap();
            assert_eq!(
                &resp.into_body().collect_limited(100).await.unwrap()[..],
                b"hyper h2"
            );
        }
        assert_eq!(accepts.get(), 2);
    }
);

wego_test_support::each_backend!(http2_response_limits_apply, |_backend| async move {
    let (addr, _) = raw_server(|_n, conn| async move {
        let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
            let mut resp = Response::new(
                Full::new(Bytes::from_static(b"x"))
                    .map_err(|never| match never {})
                    .boxed(),
            );
            if req.uri().path() == "/many" {
                for i in 0..20 {
                    resp.headers_mut().insert(
                        format!("x-h{i}").parse::<http::HeaderName>().unwrap(),
                        "v".parse().unwrap(),
                    );
                }
            }
            Ok::<Response<HyperBody>, Infallible>(resp)
        });
        let _ = hyper::server::conn::http2::Builder::new(Spawn)
            .serve_connection(TokioIo::new(conn), svc)
            .await;
    })
    .await;
    let client = Client::builder()
        .with_http2_prior_knowledge()
        .with_max_response_headers(10)
        .build()
        .unwrap();
    let e = client.get(url(&addr, "/many")).await.unwrap_err();
    assert!(e.is_protocol(), "{e}");
    // The connection still serves.
    let resp = client.get(url(&addr, "/")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
});

/// A handler that reads its request body and reports each piece's length,
/// then how the body ended: `0` at its end, `-1` on an error (a reset).
fn upload_watcher(
    seen: mpsc::UnboundedSender<i64>,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
> + Clone {
    tower::service_fn(move |req: Request<Body>| {
        let seen = seen.clone();
        async move {
            let respond_at_once = req.uri().path() == "/early";
            let mut body = req.into_body();
            let watch = async move {
                loop {
                    match body.frame().await {
                        Some(Ok(f)) => {
                            let n = f.into_data().map_or(0, |d| d.len());
                            let _ = seen.send(i64::try_from(n).unwrap());
                        }
                        Some(Err(_)) => {
                            let _ = seen.send(-1);
                            return;
                        }
                        None => {
                            let _ = seen.send(0);
                            return;
                        }
                    }
                }
            };
            // On a task of its own: the server drops a handler whose
            // stream was reset, and the watch must see the reset.
            let watched = rt::spawn(watch);
            if respond_at_once {
                // Answers with a streamed body at once, and reads the
                // upload on.
                let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(1);
                tx.send(Ok(Bytes::from_static(b"early"))).await.unwrap();
                let body = futures_util::stream::unfold((rx, tx), |(mut rx, tx)| async move {
                    rx.recv().await.map(|item| (item, (rx, tx)))
                });
                return Ok(Response::new(Body::from_stream(body)));
            }
            let _ = watched.await;
            Ok(Response::new(Body::empty()))
        }
    })
}

/// A streamed request body fed from the returned sender.
fn channel_body() -> (mpsc::Sender<Result<Bytes, Infallible>>, Body) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(1);
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    (tx, body)
}

wego_test_support::each_backend!(
    dropping_an_http2_request_stops_its_upload_and_resets_the_stream,
    |_backend| async move {
        let (seen_tx, mut seen) = mpsc::unbounded_channel();
        let (_server, addr, _) = wego_server(Server::builder(), upload_watcher(seen_tx)).await;
        let client = Client::builder()
            .with_http2_prior_knowledge()
            .build()
            .unwrap();
        let (tx, upload) = channel_body();
        tx.send(Ok(Bytes::from_static(b"first"))).await.unwrap();
        let req = Request::post(url(&addr, "/up")).body(upload).unwrap();
        let call = rt::spawn({
            let client = client.clone();
            async move { client.request(req).await }
        });
        assert_eq!(within(seen.recv()).await, Some(5));
        // The caller gives up before the response.
        call.abort();
        assert!(within(call).await.is_err());
        // The upload stops (its body is dropped) and the server sees the
        // stream reset rather than an endless upload.
        within(tx.closed()).await;
        assert_eq!(within(seen.recv()).await, Some(-1));
        // The connection still serves.
        let resp = client.get(url(&addr, "/")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
);

wego_test_support::each_backend!(
    dropping_an_http2_response_stops_its_upload_and_resets_the_stream,
    |_backend| async move {
        let (seen_tx, mut seen) = mpsc::unbounded_channel();
        let (_server, addr, _) = wego_server(Server::builder(), upload_watcher(seen_tx)).await;
        let client = Client::builder()
            .with_http2_prior_knowledge()
            .build()
            .unwrap();
        let (tx, upload) = channel_body();
        tx.send(Ok(Bytes::from_static(b"first"))).await.unwrap();
        let req = Request::post(url(&addr, "/early")).body(upload).unwrap();
        let resp = within(client.request(req)).await.unwrap();
        assert_eq!(within(seen.recv()).await, Some(5));
        // While the response is held the upload goes on.
        tx.send(Ok(Bytes::from_static(b"second"))).await.unwrap();
        assert_eq!(within(seen.recv()).await, Some(6));
        let mut body = resp.into_body();
        let first = within(body.frame()).await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "early");
        // The caller drops the response mid-way: the upload stops too.
        drop(body);
        within(tx.closed()).await;
        assert_eq!(within(seen.recv()).await, Some(-1));
    }
);
