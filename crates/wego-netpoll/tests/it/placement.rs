//! `rt::spawn_connection`: connections spread over per-core workers, move
//! to the worker that serves them (TCP and Unix), keep their addresses, and
//! fall back to a plain spawn on a work-stealing runtime.

use std::num::NonZeroUsize;
use tokio::sync::mpsc;
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::rt::{self, Flavor, Runtime};
use wego_netpoll::{Address, Conn, Dialer, Listener};
use wego_test_support::{each_backend, loopback, unix_socket_path};

/// What a connection's task saw: its thread, and its addresses.
#[derive(Debug)]
struct Served {
    thread: String,
    local: Address,
    peer: Address,
    /// Told when the task's echo loop has ended.
    ended: tokio::sync::oneshot::Receiver<()>,
}

/// Accepts `n` connections and hands each to `spawn_connection`; each task
/// reports where it runs, then echoes until the peer closes. Returns the
/// accepting thread's name.
async fn accept_and_place(listener: Listener, n: usize, report: mpsc::UnboundedSender<Served>) {
    for _ in 0..n {
        let conn = listener.accept().await.unwrap();
        let report = report.clone();
        rt::spawn_connection(conn, move |conn| echo(conn, report));
    }
}

async fn echo(mut conn: Conn, report: mpsc::UnboundedSender<Served>) {
    let (ended_tx, ended) = tokio::sync::oneshot::channel();
    let _ended = Ended(Some(ended_tx));
    let _ = report.send(Served {
        thread: std::thread::current().name().unwrap_or("?").to_owned(),
        local: conn.local_addr().clone(),
        peer: conn.peer_addr().clone(),
        ended,
    });
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

struct Ended(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for Ended {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

async fn round_trip(conn: &mut Conn, payload: &[u8]) {
    conn.write_all(payload).await.unwrap();
    let mut back = vec![0u8; payload.len()];
    conn.read_exact(&mut back).await.unwrap();
    assert_eq!(back, payload);
}

fn per_core(workers: usize, name: &str) -> Runtime {
    Runtime::builder()
        .flavor(Flavor::PerCore)
        .worker_threads(NonZeroUsize::new(workers).unwrap())
        .thread_name(name)
        .build()
        .unwrap()
}

/// Two connections open at once on a 2-worker runtime: one per worker, so
/// at least one was moved off the accepting worker, and both echo there.
fn moves_to_another_worker(addr: Address, name: &str) {
    let rt = per_core(2, name);
    let listener = rt.block_on(Listener::bind(&addr)).unwrap();
    let addr = listener.local_addr().clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // The accept loop runs as a task on worker 0.
    let acceptor = rt.spawn(async move {
        accept_and_place(listener, 2, tx).await;
        std::thread::current().name().unwrap().to_owned()
    });
    rt.block_on(async move {
        let mut a = Dialer::new().dial(&addr).await.unwrap();
        let served_a = rx.recv().await.unwrap();
        let mut b = Dialer::new().dial(&addr).await.unwrap();
        let served_b = rx.recv().await.unwrap();
        let acceptor = acceptor.await.unwrap();
        assert_eq!(acceptor, format!("{name}-0"));
        let mut threads = [served_a.thread.clone(), served_b.thread.clone()];
        threads.sort();
        assert_eq!(threads, [format!("{name}-0"), format!("{name}-1")]);
        for (conn, served) in [(&mut a, &served_a), (&mut b, &served_b)] {
            // Addresses survive the move (an unnamed Unix client's peer
            // address is empty on both ends).
            assert_eq!(&served.local, conn.peer_addr());
            if let Address::Tcp(_) = conn.local_addr() {
                assert_eq!(&served.peer, conn.local_addr());
            }
            round_trip(conn, b"hello").await;
            let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            let (mut r, mut w) = wego_netpoll::io::split(conn);
            let write = async { w.write_all(&big).await.unwrap() };
            let read = async {
                let mut back = vec![0u8; big.len()];
                r.read_exact(&mut back).await.unwrap();
                assert_eq!(back, big);
            };
            tokio::join!(write, read);
        }
    });
}

#[test]
fn spawn_connection_moves_a_tcp_conn_to_another_worker() {
    moves_to_another_worker(Address::loopback(), "wego-pt");
}

#[test]
fn spawn_connection_moves_a_unix_conn_to_another_worker() {
    let path = unix_socket_path("placement");
    moves_to_another_worker(Address::Unix(path.clone()), "wego-pu");
    let _ = std::fs::remove_file(path);
}

#[test]
fn spawn_connection_balances_by_live_connections() {
    let rt = per_core(2, "wego-pb");
    let listener = rt.block_on(Listener::bind(&Address::loopback())).unwrap();
    let addr = listener.local_addr().clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    rt.spawn(accept_and_place(listener, 11, tx));
    rt.block_on(async move {
        let mut conns = Vec::new();
        for _ in 0..10 {
            let mut c = Dialer::new().dial(&addr).await.unwrap();
            let served = rx.recv().await.unwrap();
            round_trip(&mut c, b"ping").await;
            conns.push((c, served));
        }
        let on_0 = conns
            .iter()
            .filter(|(_, s)| s.thread.ends_with("-0"))
            .count();
        assert_eq!(on_0, 5);
        // Close three connections of worker 1 and wait for their tasks to
        // end: the next connection goes to worker 1, now the emptier one.
        let mut closed = 0;
        for i in (0..10).rev() {
            if closed < 3 && conns[i].1.thread.ends_with("-1") {
                let (c, served) = conns.remove(i);
                drop(c);
                served.ended.await.unwrap();
                closed += 1;
            }
        }
        // The live count drops when the task's future is dropped, just
        // after `ended` fires; a connect round trip is far longer.
        let mut c = Dialer::new().dial(&addr).await.unwrap();
        assert!(rx.recv().await.unwrap().thread.ends_with("-1"));
        round_trip(&mut c, b"pong").await;
    });
}

#[test]
fn spawn_connection_is_a_plain_spawn_on_work_stealing() {
    let rt = Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .worker_threads(NonZeroUsize::new(2).unwrap())
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let (tx, mut rx) = mpsc::unbounded_channel();
        rt::spawn(accept_and_place(listener, 1, tx));
        let mut c = Dialer::new().dial(&addr).await.unwrap();
        let served = rx.recv().await.unwrap();
        assert_eq!(&served.peer, c.local_addr());
        round_trip(&mut c, b"hi").await;
    });
}

// Many concurrent connections through spawn_connection, on every flavour.
each_backend!(
    spawn_connection_serves_many_connections,
    |_backend| async move {
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let (tx, _rx) = mpsc::unbounded_channel();
        rt::spawn(accept_and_place(listener, 200, tx));
        let mut clients = Vec::new();
        for i in 0..200u32 {
            let addr = addr.clone();
            clients.push(rt::spawn(async move {
                let mut c = Dialer::new().dial(&addr).await.unwrap();
                round_trip(&mut c, &i.to_be_bytes()).await;
            }));
        }
        for c in clients {
            c.await.unwrap();
        }
    }
);
