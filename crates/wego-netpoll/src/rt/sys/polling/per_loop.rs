//! Per-loop listeners: one `SO_REUSEPORT` socket per loop on the same
//! address, each accepting on its own loop.
//!
//! ```text
//!  kernel ── spreads new connections over the sockets (4-tuple hash)
//!  loop k: acceptor task ── accept(socket k) ──> channel ──> Listener::accept
//!  spawn_connection(conn) ── serves it on loop k, where it was accepted
//! ```
//!
//! The accept system calls run on every loop instead of the accepting
//! task's, and a connection's home is the loop whose socket took it, not
//! the least loaded one. The acceptor tasks end when the listener drops
//! (their handles abort them) and pass accept errors on in order; the
//! bounded channel holds them back while the accept loop is slow.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::net::{Listener, Stream};
use super::{JoinHandle, Shared, spawn_on};

/// An accepted stream and its peer's address.
type Accepted = (Stream, Option<SocketAddr>);

/// Accepted connections waiting for `accept` (per listener, all loops).
const BACKLOG: usize = 128;

/// A listener with one socket and one acceptor task per loop.
pub(crate) struct PerLoopListener {
    rx: Mutex<mpsc::Receiver<io::Result<Accepted>>>,
    acceptors: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for PerLoopListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerLoopListener")
            .field("loops", &self.acceptors.len())
            .finish_non_exhaustive()
    }
}

impl PerLoopListener {
    /// Registers `sockets[k]` (bound with `SO_REUSEPORT`, non-blocking)
    /// with loop `k` of `shared` and starts its acceptor there.
    pub(crate) fn start(shared: &Arc<Shared>, sockets: Vec<TcpListener>) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let mut acceptors = Vec::with_capacity(sockets.len());
        for (index, sock) in sockets.into_iter().enumerate() {
            let owner = Arc::clone(shared.loop_at(index));
            let listener = Listener::from_tcp_on(sock, owner)?;
            let tx = tx.clone();
            acceptors.push(spawn_on(shared, index, async move {
                loop {
                    let accepted = std::future::poll_fn(|cx| listener.poll_accept(cx))
                        .await
                        .map(|(s, peer)| (s.with_home(index), peer));
                    if tx.send(accepted).await.is_err() {
                        return;
                    }
                }
            }));
        }
        Ok(Self {
            rx: Mutex::new(rx),
            acceptors,
        })
    }

    /// The next connection any loop accepted; cancel safe.
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Accepted>> {
        let mut rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
        match rx.poll_recv(cx) {
            Poll::Ready(Some(res)) => Poll::Ready(res),
            Poll::Ready(None) => Poll::Ready(Err(io::Error::other(
                "the listener's acceptors have stopped (the runtime shut down)",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for PerLoopListener {
    fn drop(&mut self) {
        for a in &self.acceptors {
            a.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::num::NonZeroUsize;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::Address;
    use crate::net::{Dialer, Listener};
    use crate::rt::{self, Backend, Runtime};

    #[test]
    fn every_loop_accepts_and_serves_its_own_connections() {
        const CONNS: usize = 64;
        let runtime = Runtime::builder()
            .backend(Backend::Polling)
            .worker_threads(NonZeroUsize::new(2).expect("invariant: 2 is non-zero"))
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = Listener::builder()
                .per_loop(true)
                .bind(&Address::loopback())
                .await
                .unwrap();
            let addr = listener.local_addr().clone();
            assert_ne!(addr.as_tcp().unwrap().port(), 0);
            let (served_tx, mut served_rx) = tokio::sync::mpsc::unbounded_channel();
            let server = rt::spawn(async move {
                for _ in 0..CONNS {
                    let conn = listener.accept().await.unwrap();
                    let home = conn.polling_home().expect("accepted by one loop's socket");
                    let served = served_tx.clone();
                    rt::spawn_connection(conn, move |mut conn| async move {
                        let name = std::thread::current().name().unwrap_or("").to_owned();
                        let mut buf = [0u8; 5];
                        conn.read_exact(&mut buf).await.unwrap();
                        conn.write_all(&buf).await.unwrap();
                        served.send((home, name)).unwrap();
                    });
                }
            });
            let mut clients = Vec::new();
            for _ in 0..CONNS {
                let mut c = Dialer::new().dial(&addr).await.unwrap();
                c.write_all(b"hello").await.unwrap();
                clients.push(c);
            }
            for c in &mut clients {
                let mut back = [0u8; 5];
                c.read_exact(&mut back).await.unwrap();
                assert_eq!(&back, b"hello");
            }
            server.await.unwrap();
            let mut homes = BTreeSet::new();
            for _ in 0..CONNS {
                let (home, thread) = served_rx.recv().await.unwrap();
                // Served by the loop whose socket accepted it.
                assert_eq!(thread, format!("wego-worker-{home}"));
                homes.insert(home);
            }
            // The kernel spreads 64 connections over both sockets (that
            // its hash puts all on one has a chance of 2^-63).
            assert_eq!(homes, BTreeSet::from([0, 1]));
        });
    }
}
