//! HTTP/2 settings and lifetime: graceful shutdown with GOAWAY (streams in
//! flight finish, the rest is forced at the deadline), the idle timeout,
//! and settings checked at build.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use tokio::sync::{Notify, mpsc};
use wego_hertz::{Body, Server};
use wego_netpoll::rt;

use crate::h2_support::{collect, get};
use crate::support::{connect, start};

/// A service whose `/slow` waits for `gate`, telling `started` first.
fn gated(
    gate: Arc<Notify>,
    started: mpsc::UnboundedSender<()>,
) -> impl tower_service::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |req: Request<Body>| {
        let gate = Arc::clone(&gate);
        let started = started.clone();
        async move {
            if req.uri().path() == "/slow" {
                let _ = started.send(());
                gate.notified().await;
            }
            Ok::<_, Infallible>(Response::new(Body::from("done")))
        }
    })
}

wego_test_support::each_backend!(
    shutdown_sends_goaway_and_lets_streams_finish,
    |_backend| async move {
        let gate = Arc::new(Notify::new());
        let (tx, mut started) = mpsc::unbounded_channel();
        let (server, addr, task) = start(Server::builder(), gated(Arc::clone(&gate), tx)).await;
        let conn = connect(&addr).await;
        let (mut h2, h2conn) = h2::client::handshake(conn).await.unwrap();
        let closed = rt::spawn(async move { h2conn.await.is_ok() });
        let (resp, _) = h2.send_request(get("/slow"), true).unwrap();
        started.recv().await.unwrap();
        let s = server.clone();
        let shutdown = rt::spawn(async move { s.shutdown(Duration::from_secs(30)).await });
        // The connection drains: the stream in flight is answered.
        gate.notify_one();
        let r = collect(resp.await.unwrap()).await;
        assert_eq!(r.body(), &Bytes::from_static(b"done"));
        // Then the server closes it (GOAWAY, no error) and the shutdown is
        // graceful.
        assert!(closed.await.unwrap(), "the connection ended with an error");
        assert!(shutdown.await.unwrap().is_graceful());
        task.await.unwrap();
    }
);

wego_test_support::each_backend!(
    shutdown_forces_streams_past_the_deadline,
    |_backend| async move {
        let gate = Arc::new(Notify::new());
        let (tx, mut started) = mpsc::unbounded_channel();
        let (server, addr, _task) = start(Server::builder(), gated(gate, tx)).await;
        let conn = connect(&addr).await;
        let (mut h2, h2conn) = h2::client::handshake(conn).await.unwrap();
        rt::spawn(h2conn);
        let (resp, _) = h2.send_request(get("/slow"), true).unwrap();
        started.recv().await.unwrap();
        let report = server.shutdown(Duration::from_millis(100)).await;
        assert_eq!(report.forced, 1);
        assert!(resp.await.is_err(), "a forced stream got an answer");
    }
);

#[test]
fn bad_http2_settings_fail_the_build() {
    let cases = [
        (
            Server::builder().with_http2_max_concurrent_streams(0),
            "with_http2_max_concurrent_streams",
        ),
        (
            Server::builder().with_http2_max_frame_size(1000),
            "with_http2_max_frame_size",
        ),
        (
            Server::builder().with_http2_initial_stream_window_size(1 << 31),
            "with_http2_initial_stream_window_size",
        ),
        (
            Server::builder().with_http2_keep_alive_interval(Some(Duration::ZERO)),
            "with_http2_keep_alive_interval",
        ),
        (
            Server::builder().with_http2_handshake_timeout(Duration::ZERO),
            "with_http2_handshake_timeout",
        ),
    ];
    for (builder, name) in cases {
        let err = builder.build().unwrap_err();
        assert!(err.is_config() && err.to_string().contains(name), "{err}");
    }
}
