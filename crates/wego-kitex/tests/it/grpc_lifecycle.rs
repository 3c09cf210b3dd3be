//! Graceful shutdown with GOAWAY, keepalive pings and the health service.

use std::time::{Duration, Instant};

use wego_kitex::grpc::health::{
    HealthCheckRequest, HealthCheckResponse, HealthReporter, ServingStatus,
};
use wego_kitex::grpc::{Channel, Code, Request, Response, Server, Streaming};

use crate::grpc_common::*;

wego_test_support::each_backend!(
    graceful_shutdown_finishes_calls_in_flight,
    |_backend| async move {
        let server = Server::builder().build().unwrap();
        let (ch, server) = start_with(server, echo_router()).await;
        let slow = {
            let ch = ch.clone();
            wego_netpoll::rt::spawn(async move {
                ch.unary::<_, EchoResponse>(
                    UNARY,
                    Request::new(EchoRequest {
                        action: "sleep".into(),
                        msg: "300".into(),
                    }),
                )
                .await
            })
        };
        wego_netpoll::rt::sleep(Duration::from_millis(100)).await;
        let report = server.shutdown(Duration::from_secs(5)).await;
        assert!(report.is_graceful());
        let done = slow.await.unwrap().unwrap();
        assert_eq!(done.get_ref().msg, "300");
        // New calls on the drained connection fail as UNAVAILABLE.
        let err = ch
            .unary::<_, EchoResponse>(UNARY, Request::new(req("late")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err}");
    }
);

wego_test_support::each_backend!(forced_shutdown_cuts_long_calls, |_backend| async move {
    let (ch, server) = start_with(Server::default(), echo_router()).await;
    let slow = {
        let ch = ch.clone();
        wego_netpoll::rt::spawn(async move {
            ch.unary::<_, EchoResponse>(
                UNARY,
                Request::new(EchoRequest {
                    action: "sleep".into(),
                    msg: "10000".into(),
                }),
            )
            .await
        })
    };
    wego_netpoll::rt::sleep(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    let report = server.shutdown(Duration::from_millis(200)).await;
    assert!(!report.is_graceful());
    let err = wego_netpoll::rt::timeout(Duration::from_secs(3), slow)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::Unavailable | Code::Internal | Code::Cancelled
        ),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(3));
});

wego_test_support::each_backend!(
    keepalive_pings_keep_an_idle_connection,
    |_backend| async move {
        let server = Server::builder()
            .with_keepalive_interval(Duration::from_millis(50))
            .with_keepalive_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let s = server.clone();
        wego_netpoll::rt::spawn(async move { s.serve(listener, echo_router()).await });
        let ch = Channel::builder()
            .with_keepalive(Duration::from_millis(50), Duration::from_secs(1))
            .connect(&addr)
            .await
            .unwrap();
        wego_netpoll::rt::sleep(Duration::from_millis(400)).await;
        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("alive"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "alive");
    }
);

wego_test_support::each_backend!(keepalive_closes_a_silent_peer, |_backend| async move {
    // A "server" that completes the TCP handshake but never speaks HTTP/2
    // after the preface: the client's pings go unanswered.
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let (io_tx, io_rx) = tokio::sync::oneshot::channel();
    wego_netpoll::rt::spawn(async move {
        let conn = listener.accept().await.unwrap();
        // Answer the handshake, then stop polling the connection.
        let mut h2 = h2::server::handshake(conn).await.unwrap();
        let _ = wego_netpoll::rt::timeout(Duration::from_millis(50), h2.accept()).await;
        let _ = io_tx.send(h2);
        std::future::pending::<()>().await;
    });
    let ch = Channel::builder()
        .with_keepalive(Duration::from_millis(100), Duration::from_millis(200))
        .connect(&addr)
        .await
        .unwrap();
    let _held = io_rx.await.unwrap();
    wego_netpoll::rt::sleep(Duration::from_millis(800)).await;
    let err = wego_netpoll::rt::timeout(
        Duration::from_secs(2),
        ch.unary::<_, EchoResponse>(UNARY, Request::new(req("x"))),
    )
    .await
    .expect("a dead connection fails fast")
    .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
});

wego_test_support::each_backend!(health_check_and_watch, |_backend| async move {
    let health = HealthReporter::new();
    let ch = start(echo_router().merge(health.router())).await;
    let check = |svc: &str| {
        let ch = ch.clone();
        let r = Request::new(HealthCheckRequest {
            service: svc.into(),
        });
        async move {
            ch.unary::<_, HealthCheckResponse>("/grpc.health.v1.Health/Check", r)
                .await
        }
    };
    assert_eq!(
        check("").await.unwrap().get_ref().status,
        ServingStatus::Serving as i32
    );
    assert_eq!(
        check("echo.EchoServer").await.unwrap_err().code(),
        Code::NotFound
    );
    health.set_status("echo.EchoServer", ServingStatus::NotServing);
    assert_eq!(
        check("echo.EchoServer").await.unwrap().get_ref().status,
        ServingStatus::NotServing as i32
    );

    let resp: Response<Streaming<HealthCheckResponse>> = ch
        .server_streaming(
            "/grpc.health.v1.Health/Watch",
            Request::new(HealthCheckRequest {
                service: "echo.EchoServer".into(),
            }),
        )
        .await
        .unwrap();
    let mut w = resp.into_inner();
    assert_eq!(
        w.message().await.unwrap().unwrap().status,
        ServingStatus::NotServing as i32
    );
    health.set_status("echo.EchoServer", ServingStatus::Serving);
    assert_eq!(
        w.message().await.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );
    health.clear_status("echo.EchoServer");
    assert_eq!(
        w.message().await.unwrap().unwrap().status,
        ServingStatus::ServiceUnknown as i32
    );
});

wego_test_support::each_backend!(
    channel_redials_when_the_connection_is_gone,
    |_backend| async move {
        // The first connection is closed by the server (GOAWAY); later ones stay.
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let first = wego_netpoll::Shutdown::new();
        let first2 = first.clone();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let acc = accepted.clone();
        wego_netpoll::rt::spawn(async move {
            let server = Server::default();
            let keep = wego_netpoll::Shutdown::new();
            loop {
                let Ok(conn) = listener.accept().await else {
                    return;
                };
                let n = acc.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let w = if n == 0 {
                    first2.watcher()
                } else {
                    keep.watcher()
                };
                let s = server.clone();
                wego_netpoll::rt::spawn(
                    async move { s.serve_connection(conn, echo_router(), w).await },
                );
            }
        });
        let ch = Channel::connect(&addr).await.unwrap();
        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("one"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "one");
        first.shutdown(Duration::from_secs(1)).await;
        // Give the client a moment to read the GOAWAY and the close.
        wego_netpoll::rt::sleep(Duration::from_millis(50)).await;
        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("two"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "two");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
);
