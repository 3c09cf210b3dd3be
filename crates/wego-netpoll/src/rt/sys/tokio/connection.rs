//! Connection placement on the tokio backend: which worker serves an
//! accepted connection.
//!
//! On a [`Flavor::PerCore`](crate::rt::Flavor::PerCore) runtime every worker has
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
//! uneven should use [`Flavor::WorkStealing`](crate::rt::Flavor::WorkStealing).

use std::future::Future;

use super::per_core::{self, Current};
use crate::net::{Conn, DetachedConn};
use crate::rt::JoinHandle;

/// The tokio backend's `spawn_connection`; see the facade's docs.
pub(crate) fn spawn_connection<F, Fut>(conn: Conn, f: F) -> JoinHandle<()>
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let current = per_core::with_current(|c| c.cloned());
    match current {
        None => super::spawn(f(conn)),
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
        return JoinHandle::from_tokio(handle.spawn(async move {
            let _live = live;
            f(conn).await;
        }));
    }
    let detached = match conn.detach() {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot move a connection to another worker; closed");
            drop(live);
            return JoinHandle::from_tokio(handle.spawn(async {}));
        }
    };
    JoinHandle::from_tokio(handle.spawn(async move {
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
