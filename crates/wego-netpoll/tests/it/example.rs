//! The `netpoll-echo` example's connection handler, driven over loopback.

#[allow(dead_code)] // its `main` is not called here
#[path = "../../examples/netpoll-echo.rs"]
mod netpoll_echo;

use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Dialer, Shutdown, rt};
use wego_test_support::{each_backend, loopback};

each_backend!(
    netpoll_echo_example_echoes_and_drains,
    |_backend| async move {
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let shutdown = Shutdown::new();
        let watcher = shutdown.watcher();
        let server = rt::spawn(async move {
            let conn = listener.accept().await.unwrap();
            netpoll_echo::echo(conn, watcher).await;
        });
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        for msg in [&b"hello"[..], &[7u8; 20_000][..]] {
            conn.write_all(msg).await.unwrap();
            let mut back = vec![0u8; msg.len()];
            conn.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
        }
        // Draining ends the idle connection's task: the example's shutdown path.
        assert!(
            shutdown
                .shutdown(std::time::Duration::from_secs(5))
                .await
                .is_graceful()
        );
        server.await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(conn.read_to_end(&mut rest).await.unwrap(), 0);
    }
);
