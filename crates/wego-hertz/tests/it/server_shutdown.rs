//! Graceful shutdown: in-flight requests finish, idle connections close,
//! hooks run, and the deadline forces what remains.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use wego_hertz::Server;
use wego_netpoll::{Dialer, rt};

use crate::support::{Gate, closed, connect, held_app, read_response, start};

wego_test_support::each_backend!(finishes_in_flight_requests, |_backend| async move {
    let runs = Arc::new(AtomicUsize::new(0));
    let stops = Arc::new(AtomicUsize::new(0));
    let (r, s) = (Arc::clone(&runs), Arc::clone(&stops));
    let builder = Server::builder()
        .on_run(move |_addr| {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .on_shutdown(move || {
            s.fetch_add(1, Ordering::SeqCst);
        });
    // `/held` says when it has started, then waits for the test to release
    // it: it is in flight while the shutdown begins.
    let gate = Gate::default();
    let (server, addr, task) = start(builder, held_app(&gate)).await;

    // One idle keep-alive connection, one with a request in flight.
    let mut idle = connect(&addr).await;
    let mut ibuf = BytesMut::new();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_response(&mut idle, &mut ibuf, false).await.unwrap();
    let mut busy = connect(&addr).await;
    busy.write_all(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    gate.started.notified().await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let s2 = server.clone();
    let shutdown = rt::spawn(async move { s2.shutdown(Duration::from_secs(5)).await });
    // The idle connection closes at once; the busy one gets its answer,
    // made after the shutdown began.
    assert!(closed(&mut idle).await);
    gate.release.notify_one();
    let mut buf = BytesMut::new();
    let resp = read_response(&mut busy, &mut buf, false).await.unwrap();
    assert_eq!(resp.body, b"held");
    assert!(resp.closes());
    let report = shutdown.await.unwrap();
    assert!(report.is_graceful());
    task.await.unwrap();
    assert_eq!(stops.load(Ordering::SeqCst), 1);
    assert_eq!(server.active(), 0);
    // No longer accepting.
    assert!(Dialer::new().dial(&addr).await.is_err());
});

wego_test_support::each_backend!(deadline_forces_stuck_requests, |_backend| async move {
    // Never released: the request is stuck.
    let gate = Gate::default();
    let (server, addr, task) = start(Server::builder(), held_app(&gate)).await;
    let mut conn = connect(&addr).await;
    conn.write_all(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    gate.started.notified().await;
    let report = server.shutdown(Duration::from_millis(100)).await;
    assert!(!report.is_graceful());
    assert_eq!(report.forced, 1);
    assert!(closed(&mut conn).await);
    task.await.unwrap();
});

wego_test_support::each_backend!(
    a_connection_that_sent_nothing_closes_at_shutdown,
    |_backend| async move {
        let server = Server::builder().build().unwrap();
        let svc = || tower::service_fn(crate::support::app);
        // Accepted, and silent: no byte of a first request (a browser's
        // preconnected socket, a load balancer's TCP check).
        let (io, mut silent) = tokio::io::duplex(4096);
        let silent_task = rt::spawn(server.serve_connection(io, svc()));
        // Accepted, with part of its first head: a request has begun.
        let (io, mut started) = tokio::io::duplex(4096);
        let started_task = rt::spawn(server.serve_connection(io, svc()));
        started.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();

        let s = server.clone();
        let shutdown = rt::spawn(async move { s.shutdown(Duration::from_secs(5)).await });
        // The silent one is closed at once, with no response.
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut rest)
            .await
            .unwrap();
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        silent_task.await.unwrap();
        // The begun one is served, and told the connection closes.
        started.write_all(b"Host: x\r\n\r\n").await.unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut started, &mut buf, false).await.unwrap();
        assert_eq!(resp.body, b"hello");
        assert!(resp.closes());
        started_task.await.unwrap();
        let report = shutdown.await.unwrap();
        assert!(report.is_graceful(), "forced {}", report.forced);
    }
);
