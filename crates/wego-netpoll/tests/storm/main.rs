//! 10,000 concurrent connections with random disconnects, half-closed and
//! reset peers, on every backend: every server task ends and no file
//! descriptor leaks.
//!
//! A process may hold 20,000 descriptors here, fewer than 10,000
//! connections need on both ends, so the clients run in a child process:
//! this test binary again, running [`storm_client`] with
//! `WEGO_STORM_CLIENT` set to the server's address. This binary holds only
//! these tests, so that nothing else opens descriptors while they are
//! counted.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::num::NonZeroUsize;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::rt::{self, Runtime};
use wego_netpoll::{Address, Conn, Dialer, Listener};

const CONNECTIONS: usize = 10_000;
const PAYLOAD: usize = 100;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Counts a live server task until dropped.
struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Echoes until end of stream, then closes its write half too.
async fn serve(mut conn: Conn, live: Live) {
    let _live = live;
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) => {
                let _ = conn.shutdown().await;
                return;
            }
            Ok(n) => {
                if conn.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

#[test]
fn ten_thousand_connections_with_disconnects_leak_no_fds_or_tasks() {
    if std::env::var_os("WEGO_STORM_CLIENT").is_some() {
        return;
    }
    for (backend, flavor) in wego_test_support::runs() {
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::new(2).unwrap())
            .build()
            .unwrap();
        let before = open_fds();
        let live = Arc::new(AtomicUsize::new(0));
        let accepted = rt.block_on(async {
            let listener = Listener::builder()
                .backlog(4096)
                .bind(&Address::loopback())
                .await
                .unwrap();
            let addr = listener.local_addr().clone();
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "storm_client", "--nocapture", "--test-threads=1"])
                .env("WEGO_STORM_CLIENT", addr.to_string())
                .env("WEGO_STORM_BACKEND", backend.name())
                .spawn()
                .unwrap();
            let waiter = rt::spawn_blocking(move || child.wait().unwrap());
            let mut accepted = 0;
            let mut waiter = std::pin::pin!(waiter);
            let status = loop {
                tokio::select! {
                    conn = listener.accept() => {
                        let conn = conn.unwrap();
                        accepted += 1;
                        live.fetch_add(1, Ordering::SeqCst);
                        let guard = Live(Arc::clone(&live));
                        rt::spawn_connection(conn, move |conn| serve(conn, guard));
                    }
                    status = &mut waiter => break status.unwrap(),
                }
            };
            assert!(status.success(), "client process failed: {status}");
            drop(listener);
            // The client has exited, so every connection is closed or reset
            // on its side; each server task ends at its next read.
            rt::timeout(Duration::from_secs(30), async {
                while live.load(Ordering::SeqCst) > 0 {
                    rt::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} server tasks still alive on {backend} {flavor}",
                    live.load(Ordering::SeqCst)
                )
            });
            accepted
        });
        assert_eq!(accepted, CONNECTIONS, "on {backend} {flavor}");
        drop(rt);
        let after = open_fds();
        assert!(
            after <= before,
            "descriptors leaked on {backend} {flavor}: {before} before, {after} after"
        );
    }
}

/// The client side, run in a child process by the test above.
#[test]
fn storm_client() {
    let Ok(addr) = std::env::var("WEGO_STORM_CLIENT") else {
        return;
    };
    let addr: Address = addr.parse().unwrap();
    // The clients run on the backend under test too.
    let backend = std::env::var("WEGO_STORM_BACKEND")
        .unwrap()
        .parse()
        .unwrap();
    let rt = Runtime::builder()
        .backend(backend)
        .worker_threads(NonZeroUsize::new(2).unwrap())
        .build()
        .unwrap();
    let done = rt.block_on(async move {
        let all_open = Arc::new(tokio::sync::Barrier::new(CONNECTIONS));
        let done = Arc::new(AtomicUsize::new(0));
        let dialer = Dialer::new().with_connect_timeout(Duration::from_secs(60));
        let mut tasks = Vec::with_capacity(CONNECTIONS);
        // A fixed-seed LCG: the same mix of behaviours on every run.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..CONNECTIONS {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let kind = (seed >> 33) % 4;
            let (addr, dialer) = (addr.clone(), dialer.clone());
            let (all_open, done) = (Arc::clone(&all_open), Arc::clone(&done));
            tasks.push(rt::spawn(async move {
                let mut conn = dialer.dial(&addr).await.unwrap();
                // Every connection is open at once before any goes away.
                all_open.wait().await;
                let payload = [kind as u8; PAYLOAD];
                match kind {
                    // Disconnect without a word.
                    0 => drop(conn),
                    // Half-close: send, shut the write half, read the echo
                    // until the server closes too.
                    1 => {
                        conn.write_all(&payload).await.unwrap();
                        conn.shutdown().await.unwrap();
                        let mut back = Vec::new();
                        conn.read_to_end(&mut back).await.unwrap();
                        assert_eq!(back, payload);
                    }
                    // Round trip, then reset.
                    2 => {
                        conn.write_all(&payload).await.unwrap();
                        let mut back = [0u8; PAYLOAD];
                        conn.read_exact(&mut back).await.unwrap();
                        socket2::SockRef::from(&conn)
                            .set_linger(Some(Duration::ZERO))
                            .unwrap();
                        drop(conn);
                    }
                    // Round trip, then an orderly close.
                    _ => {
                        conn.write_all(&payload).await.unwrap();
                        let mut back = [0u8; PAYLOAD];
                        conn.read_exact(&mut back).await.unwrap();
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        done.load(Ordering::SeqCst)
    });
    assert_eq!(done, CONNECTIONS);
}
