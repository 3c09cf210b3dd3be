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
        let accept_watcher = shutdown.watcher();
        let server = {
            let shutdown = shutdown.clone();
            let finished = finished.clone();
            rt::spawn(async move {
                loop {
                    let mut conn = tokio::select! {
                        c = listener.accept() => c.unwrap(),
                        () = accept_watcher.draining() => return,
                    };
                    let watcher = shutdown.watcher();
                    let finished = finished.clone();
                    rt::spawn(async move {
                        let mut req = [0u8; 1];
                        conn.read_exact(&mut req).await.unwrap();
                        // In-flight work outlives the shutdown call.
                        rt::sleep(Duration::from_millis(100)).await;
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
        // Let the server pick every request up before shutting down.
        while shutdown.active() < 6 {
            rt::sleep(Duration::from_millis(5)).await;
        }
        let report = shutdown.shutdown(Duration::from_secs(5)).await;
        assert!(report.is_graceful(), "{report:?}");
        assert_eq!(finished.load(Ordering::SeqCst), 5);
        server.await.unwrap();
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
