//! [`spawn_connection`]: which worker serves an accepted connection, on
//! each backend (`sys/tokio/connection.rs`, `sys/polling/mod.rs`'s `place`).

use std::future::Future;

use super::JoinHandle;
use super::sys::{self, Which};
use crate::net::Conn;

/// Spawns the task serving an accepted connection, on the worker that should
/// own it; the call accept loops make for every connection.
///
/// - On a [`Flavor::PerCore`](super::Flavor::PerCore) runtime, picks the
///   worker with the fewest live connections (ties in round-robin order). If
///   that is not the worker whose poller the socket is registered with, the
///   socket is deregistered here and registered again by the task on the
///   target worker, so all of the connection's I/O and its task stay on one
///   thread. Peer and local addresses are kept. Works for TCP and Unix
///   connections.
/// - On a polling runtime, likewise picks the loop with the fewest live
///   connections, or, for a connection from a per-loop listener
///   ([`ListenerBuilder::per_loop`](crate::net::ListenerBuilder::per_loop)),
///   the loop that accepted it; a socket not yet registered (the usual case
///   for one just accepted) registers with that loop's poller at its first
///   wait, and one registered elsewhere is deregistered here first.
/// - On a [`Flavor::WorkStealing`](super::Flavor::WorkStealing) runtime, or
///   on a thread that is not a per-core worker (a blocking-pool thread, say),
///   it is [`spawn`](super::spawn)`(f(conn))`.
///
/// `f` runs on the target worker and builds the connection's future there.
///
/// If the socket cannot be moved (the target's poller refuses it, e.g. for
/// lack of memory), the connection is closed, the failure logged with
/// `tracing` at warn level, and `f` is not called; the returned handle then
/// completes at once.
///
/// # Panics
///
/// Panics if called outside a runtime, as [`spawn`](super::spawn) does.
///
/// # Examples
///
/// ```
/// use wego_netpoll::{Address, Listener, rt};
/// use wego_netpoll::io::AsyncWriteExt;
///
/// rt::block_on(async {
///     let listener = Listener::bind(&Address::loopback()).await?;
///     # let addr = listener.local_addr().clone();
///     # rt::spawn(async move { wego_netpoll::Dialer::new().dial(&addr).await });
///     let conn = listener.accept().await?;
///     let task = rt::spawn_connection(conn, |mut conn| async move {
///         let _ = conn.write_all(b"hello\n").await;
///     });
///     task.await.expect("the connection task does not panic");
///     Ok::<_, wego_netpoll::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
pub fn spawn_connection<F, Fut>(conn: Conn, f: F) -> JoinHandle<()>
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => sys::tokio::connection::spawn_connection(conn, f),
        #[cfg(feature = "polling")]
        Which::Polling => {
            let mut conn = conn;
            let home = conn.polling_home();
            JoinHandle::from_polling(sys::polling::place(home, move |target| {
                conn.release_unless_on(target);
                f(conn)
            }))
        }
    }
}
