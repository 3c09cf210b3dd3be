//! Graceful shutdown of a server with work in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Dialer, Shutdown, rt};
use wego_test_support::{each_backend, loopback};

each_backend!(
    shutdown_finishes_in_flight_work_and_stops_accepting,
    |_backend| async move {
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let shutdown = Shutdown::new();
        let finished = Arc::new(AtomicUsize::new(0));
        // Every handler holds its request until the test opens the gate,
        // which it does only once the shutdown has begun.
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let accept_watcher = shutdown.watcher();
        let server = {
            let shutdown = shutdown.clone();
            let finished = finished.clone();
            let gate = gate.clone();
            rt::spawn(async move {
                loop {
                    let mut conn = tokio::select! {
                        c = listener.accept() => c.unwrap(),
                        () = accept_watcher.draining() => return,
                    };
                    let watcher = shutdown.watcher();
                    let finished = finished.clone();
                    let gate = gate.clone();
                    rt::spawn(async move {
                        let mut req = [0u8; 1];
                        conn.read_exact(&mut req).await.unwrap();
                        // In-flight work outlives the start of the shutdown.
                        gate.acquire().await.unwrap().forget();
                        conn.write_all(b"done").await.unwrap();
                        finished.fetch_add(1, Ordering::SeqCst);
                        drop(watcher);
                    });
                }
            })
        };
        let mut clients = Vec::new();
        for _ in 0..5 {
            let mut conn = Dialer::new().dial(&addr).await.unwrap();
            conn.write_all(b"x").await.unwrap();
            clients.push(conn);
        }
        // Let the server pick every request up before shutting down (a
        // condition polled under a deadline only a hang reaches).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while shutdown.active() < 6 {
            assert!(
                std::time::Instant::now() < deadline,
                "the server never took 5 connections"
            );
            rt::sleep(Duration::from_millis(5)).await;
        }
        let stopping = {
            let shutdown = shutdown.clone();
            rt::spawn(async move { shutdown.shutdown(Duration::from_secs(60)).await })
        };
        // The accept loop leaves; the five handlers are still held.
        server.await.unwrap();
        assert_eq!(finished.load(Ordering::SeqCst), 0);
        assert!(
            !stopping.is_finished(),
            "shutdown did not wait for work in flight"
        );
        gate.add_permits(5);
        let report = stopping.await.unwrap();
        assert!(report.is_graceful(), "{report:?}");
        assert_eq!(finished.load(Ordering::SeqCst), 5);
        for mut conn in clients {
            let mut reply = [0u8; 4];
            conn.read_exact(&mut reply).await.unwrap();
            assert_eq!(&reply, b"done");
        }
    }
);

each_backend!(
    shutdown_forces_work_past_the_deadline,
    |_backend| async move {
        let shutdown = Shutdown::new();
        let watcher = shutdown.watcher();
        let task = rt::spawn(async move {
            tokio::select! {
                () = rt::sleep(Duration::from_secs(60)) => panic!("not forced"),
                () = watcher.forced() => {}
            }
        });
        let report = shutdown.shutdown(Duration::from_millis(50)).await;
        assert_eq!(report.forced, 1);
        task.await.unwrap();
    }
);
