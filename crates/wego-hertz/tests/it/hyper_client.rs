//! The server as hyper 1.x's HTTP/1.1 client sees it: keep-alive reuse,
//! bodies streamed both ways, 100-continue, HEAD, and graceful shutdown.
//!
//! The raw-socket tests pin the exact bytes; these prove that a real client's
//! framing, connection reuse and close detection agree with ours. Where a
//! test needs to know "the other side has not finished yet", it gates a body
//! on a one-shot signal from the other side, so the test would hang (and
//! time out) if either side buffered a whole body.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use wego_hertz::server::{ClientAddr, ExpectDecision};
use wego_hertz::{Body, Server};
use wego_netpoll::{Dialer, rt};

use crate::client::{Full, get, hyper_connect, request};
use crate::support::{Gate, held_app, server_closed_all, start, start_app};

/// A one-shot signal that a `Fn` closure can fire once.
#[derive(Clone)]
struct Signal(Arc<Mutex<Option<oneshot::Sender<()>>>>);

impl Signal {
    fn new() -> (Self, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (Self(Arc::new(Mutex::new(Some(tx)))), rx)
    }

    fn fire(&self) {
        if let Some(tx) = self.0.lock().unwrap().take() {
            let _ = tx.send(());
        }
    }
}

/// A body that yields `first`, waits for `gate`, then yields `rest`.
fn gated_body(first: &'static str, gate: oneshot::Receiver<()>, rest: &'static str) -> Body {
    let stream = futures_util::stream::unfold(Some((first, gate, rest)), |state| async move {
        let (first, gate, rest) = state?;
        if !first.is_empty() {
            return Some((
                Ok(Bytes::from_static(first.as_bytes())),
                Some(("", gate, rest)),
            ));
        }
        match rt::timeout(Duration::from_secs(5), gate).await {
            Ok(Ok(())) => Some((Ok(Bytes::from_static(rest.as_bytes())), None)),
            _ => Some((Err(std::io::Error::other("gate never opened")), None)),
        }
    });
    Body::from_stream(stream)
}

/// A service that counts its clones: the server takes one per accepted
/// connection.
struct CountConnections<S> {
    inner: S,
    accepted: Arc<AtomicUsize>,
}

impl<S: Clone> Clone for CountConnections<S> {
    fn clone(&self) -> Self {
        self.accepted.fetch_add(1, Ordering::SeqCst);
        Self {
            inner: self.inner.clone(),
            accepted: Arc::clone(&self.accepted),
        }
    }
}

impl<S: tower_service::Service<Request<Body>>> tower_service::Service<Request<Body>>
    for CountConnections<S>
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> S::Future {
        self.inner.call(req)
    }
}

wego_test_support::each_backend!(keep_alive_reuses_one_connection, |_backend| async move {
    // Every answer names the peer the server saw.
    let inner = tower::service_fn(|req: Request<Body>| async move {
        let peer = req.extensions().get::<ClientAddr>().unwrap().0.to_string();
        let len = req
            .into_body()
            .collect_limited(1 << 20)
            .await
            .unwrap()
            .len();
        Ok::<_, Infallible>(Response::new(Body::from(format!("{peer} {len}"))))
    });
    let accepted = Arc::new(AtomicUsize::new(0));
    let svc = CountConnections {
        inner,
        accepted: Arc::clone(&accepted),
    };
    let (_server, addr, _task) = start(Server::builder(), svc).await;
    let mut c = hyper_connect(&addr).await;
    let me = c.local.to_string();
    let stream = futures_util::stream::iter(["ab", "cde"].map(|s| Ok::<_, Infallible>(s.into())));
    let requests = [
        (get("/"), 0),
        (request(Method::POST, "/", "hello"), 5),
        (request(Method::POST, "/", Body::from_stream(stream)), 5),
        (request(Method::PUT, "/", vec![b'x'; 100_000]), 100_000),
        (get("/again"), 0),
    ];
    for (req, len) in requests {
        let resp = c.fetch(req).await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.text(), format!("{me} {len}"));
        assert_eq!(resp.header("connection"), None);
    }
    assert!(!c.driver.is_finished(), "the connection is still open");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "accepted connections");
});

wego_test_support::each_backend!(
    chunked_upload_reaches_the_handler_before_it_ends,
    |_backend| async move {
        let (seen, seen_rx) = Signal::new();
        let svc = tower::service_fn(move |req: Request<Body>| {
            let seen = seen.clone();
            async move {
                let mut body = req.into_body();
                let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
                // Only now may the client send the rest.
                seen.fire();
                let rest = body.collect().await.unwrap().to_bytes();
                let text = format!("first={first:?} rest={rest:?}");
                Ok::<_, Infallible>(Response::new(Body::from(text)))
            }
        });
        let (_server, addr, _task) = start(Server::builder(), svc).await;
        let mut c = hyper_connect(&addr).await;
        let req = request(Method::POST, "/upload", gated_body("abc", seen_rx, "defgh"));
        let resp = c.send(req).await;
        let resp = Full::read(resp).await;
        assert_eq!(resp.text(), r#"first=b"abc" rest=b"defgh""#);
    }
);

wego_test_support::each_backend!(
    response_of_unknown_length_is_streamed,
    |_backend| async move {
        let (client_got_first, gate) = Signal::new();
        let gate = Arc::new(Mutex::new(Some(gate)));
        let svc = tower::service_fn(move |_req: Request<Body>| {
            let gate = gate.lock().unwrap().take();
            async move {
                let body = match gate {
                    Some(gate) => gated_body("one ", gate, "two"),
                    None => Body::from("plain"),
                };
                Ok::<_, Infallible>(Response::new(body))
            }
        });
        let (_server, addr, _task) = start(Server::builder(), svc).await;
        let mut c = hyper_connect(&addr).await;
        let resp = c.send(get("/stream")).await;
        assert_eq!(resp.headers()["transfer-encoding"], "chunked");
        assert!(resp.headers().get("content-length").is_none());
        let mut body = resp.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "one ");
        // The second chunk exists only once the client has read the first.
        client_got_first.fire();
        let rest = body.collect().await.unwrap().to_bytes();
        assert_eq!(rest, "two");
        // The chunked framing ended cleanly: the connection is reused.
        assert_eq!(c.fetch(get("/")).await.text(), "plain");
    }
);

wego_test_support::each_backend!(
    expect_continue_with_a_waiting_client,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut c = hyper_connect(&addr).await;
        // hyper's client does not wait for `100 Continue` on its own; it
        // reports 1xx responses through `on_informational`, so the body here
        // waits for that callback, as a careful client does.
        let (got_100, gate) = Signal::new();
        let informational = Arc::new(AtomicUsize::new(0));
        let mut req = request(Method::POST, "/collect", gated_body("", gate, "hello"));
        req.headers_mut()
            .insert("expect", "100-continue".parse().unwrap());
        let n = Arc::clone(&informational);
        hyper::ext::on_informational(&mut req, move |res| {
            assert_eq!(res.status(), StatusCode::CONTINUE);
            n.fetch_add(1, Ordering::SeqCst);
            got_100.fire();
        });
        let resp = c.fetch(req).await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.text(), "5");
        assert_eq!(informational.load(Ordering::SeqCst), 1);
        assert_eq!(c.fetch(get("/")).await.text(), "hello");
    }
);

wego_test_support::each_backend!(
    expect_continue_refused_before_the_body,
    |_backend| async move {
        let builder = Server::builder()
            .with_expect_hook(|_| ExpectDecision::Reject(StatusCode::UNAUTHORIZED));
        let (server, addr, _task) = start_app(builder).await;
        let mut c = hyper_connect(&addr).await;
        let (got_100, gate) = Signal::new();
        let mut req = request(Method::PUT, "/collect", gated_body("", gate, "never"));
        req.headers_mut()
            .insert("expect", "100-continue".parse().unwrap());
        let informational = Arc::new(AtomicUsize::new(0));
        let n = Arc::clone(&informational);
        hyper::ext::on_informational(&mut req, move |_| {
            n.fetch_add(1, Ordering::SeqCst);
            got_100.fire();
        });
        let resp = c.send(req).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers()["connection"], "close");
        assert_eq!(informational.load(Ordering::SeqCst), 0);
        // The server closed its side with the request body never sent (the
        // gate is still shut). When hyper notices depends on timing: it may
        // not read again while its request body is unfinished.
        assert!(server_closed_all(&server).await);
        drop(c);
    }
);

wego_test_support::each_backend!(head_responses_have_no_body, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut c = hyper_connect(&addr).await;
    let resp = c.fetch(request(Method::HEAD, "/", Body::empty())).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.header("content-length"), Some("5"));
    assert!(resp.body.is_empty());
    // A body of unknown length: neither framing header is sent for HEAD.
    let resp = c
        .fetch(request(Method::HEAD, "/stream", Body::empty()))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.header("transfer-encoding"), None);
    assert!(resp.body.is_empty());
    // hyper reads nothing after either head, so a stray body byte would
    // corrupt this response.
    assert_eq!(c.fetch(get("/")).await.text(), "hello");
});

wego_test_support::each_backend!(
    graceful_shutdown_finishes_the_request_in_flight,
    |_backend| async move {
        let gate = Gate::default();
        let (server, addr, task) = start(Server::builder(), held_app(&gate)).await;
        let mut idle = hyper_connect(&addr).await;
        assert_eq!(idle.fetch(get("/")).await.text(), "hello");
        let mut busy = hyper_connect(&addr).await;
        busy.send.ready().await.unwrap();
        let in_flight = busy.send.send_request(get("/held"));
        let in_flight = rt::spawn(in_flight);
        gate.started.notified().await;

        let s = server.clone();
        let shutdown = rt::spawn(async move { s.shutdown(Duration::from_secs(5)).await });
        // The idle connection is closed at once, cleanly.
        assert!(idle.closed().await.is_ok());
        // The request in flight gets its whole response, made after the
        // shutdown began and marked as the last.
        gate.release.notify_one();
        let resp = Full::read(in_flight.await.unwrap().unwrap()).await;
        assert_eq!(resp.text(), "held");
        assert_eq!(resp.header("connection"), Some("close"));
        assert!(busy.closed().await.is_ok());
        assert!(shutdown.await.unwrap().is_graceful());
        task.await.unwrap();
        assert!(Dialer::new().dial(&addr).await.is_err());
    }
);
