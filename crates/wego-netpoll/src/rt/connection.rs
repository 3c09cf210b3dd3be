//! Connection placement: which worker serves an accepted connection.
//!
//! On a [`Flavor::PerCore`](super::Flavor::PerCore) runtime every worker has
//! its own poller, and a connection's task should run on the worker whose
//! poller watches its socket: readiness then wakes a task on the same thread
//! and no I/O event crosses threads. Accept loops hand each connection to
//! [`spawn_connection`], which picks the worker with the fewest live
//! connections and, if that is not the worker the socket is registered with,
//! moves the socket there:
//!
//! ```text
//!  worker 0 (accepts)                       worker 1 (target)
//!  conn.detach(): epoll_ctl(DEL), into_std  ──spawn──▶  attach(): from_std, epoll_ctl(ADD)
//!                                                       f(conn).await
//! ```
//!
//! Why the fewest live connections and not plain round-robin: both spread
//! wrk's 1,000 simultaneous connections evenly, but with connections of
//! uneven lifetimes (short HTTP/1.0 requests next to long RPC pools or
//! WebSockets) round-robin lets one worker collect the long ones, while the
//! live count keeps the number of connections per worker within one of
//! each other. The cost is one relaxed atomic load per worker per accepted
//! connection and one increment/decrement per connection. Ties are broken
//! from a rotating start, so equal loads fill in round-robin order.
//!
//! The live count balances connections, not work: a worker whose connections
//! are all busy is not avoided. Servers whose handlers are CPU-heavy and
//! uneven should use [`Flavor::WorkStealing`](super::Flavor::WorkStealing).

use std::future::Future;

use super::per_core::{self, Current};
use super::tokio_rt::{self, JoinHandle};
use crate::net::{Conn, DetachedConn};

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
    let current = per_core::with_current(|c| c.cloned());
    match current {
        None => tokio_rt::spawn(f(conn)),
        Some(current) => place(&current, conn, f),
    }
}

fn place<F, Fut>(current: &Current, conn: Conn, f: F) -> JoinHandle<()>
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let shared = &current.shared;
    let target = shared.least_loaded();
    let live = shared.track(target);
    let handle = shared.handle(target);
    if target == current.index {
        return tokio_rt::wrap(handle.spawn(async move {
            let _live = live;
            f(conn).await;
        }));
    }
    let detached = match conn.detach() {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot move a connection to another worker; closed");
            drop(live);
            return tokio_rt::wrap(handle.spawn(async {}));
        }
    };
    tokio_rt::wrap(handle.spawn(async move {
        let _live = live;
        if let Some(conn) = attach(detached) {
            f(conn).await;
        }
    }))
}

fn attach(detached: DetachedConn) -> Option<Conn> {
    match detached.attach() {
        Ok(conn) => Some(conn),
        Err(e) => {
            tracing::warn!(error = %e, "cannot register a moved connection; closed");
            None
        }
    }
}
