//! The thread-per-core flavour of the tokio backend ([`Flavor::PerCore`]).
//!
//! N worker threads, each running its own tokio `current_thread` runtime with
//! its own I/O driver (epoll instance), timer wheel and blocking pool: the
//! model of actix-web's workers and of Netpoll's per-poller loops.
//!
//! ```text
//!  caller thread ── Runtime::block_on(fut) ── Handle::block_on on worker 0
//!  wego-worker-0 ── Runtime::block_on(stop) ── tasks, epoll, timers of worker 0
//!  wego-worker-1 ── Runtime::block_on(stop) ── tasks, epoll, timers of worker 1
//! ```
//!
//! Invariants:
//!
//! - Each worker thread sits in its runtime's `Runtime::block_on` until
//!   [`Runtime`] is dropped or shut down, so its I/O and timers are always
//!   driven. That is what lets the caller's thread use worker 0's
//!   `Handle::block_on` (tokio's docs: on a `current_thread` runtime,
//!   `Handle::block_on` works while another thread drives the runtime), and
//!   so `Runtime::block_on` needs no `Send` bound.
//! - A worker's thread-local [`Current`] names the runtime's workers and its
//!   own index; [`spawn_connection`](crate::rt::spawn_connection) reads it to
//!   place connections. The caller thread of `block_on` gets index 0 for the
//!   duration of the call, since sockets created there register on worker 0.
//! - Dropping [`Runtime`] (or `shutdown_timeout`) tells every worker to stop,
//!   then joins every worker thread.
//!
//! [`Flavor::PerCore`]: crate::rt::Flavor::PerCore

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle as ThreadHandle;
use std::time::Duration;

use tokio::sync::oneshot;

/// The state every worker shares: handles of all workers and their loads.
pub(crate) struct Shared {
    workers: Box<[Worker]>,
    /// Round-robin cursor for [`Runtime::spawn`] and placement ties.
    next: AtomicUsize,
}

struct Worker {
    handle: tokio::runtime::Handle,
    /// Connections placed on this worker by `spawn_connection` and not yet
    /// finished.
    live: AtomicUsize,
}

impl Shared {
    pub(crate) fn len(&self) -> usize {
        self.workers.len()
    }

    pub(crate) fn handle(&self, index: usize) -> &tokio::runtime::Handle {
        &self.workers[index].handle
    }

    /// The next worker in round-robin order.
    pub(crate) fn next_round_robin(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len()
    }

    /// The worker with the fewest live connections; ties go to the first one
    /// found from a rotating start, so equal loads fill in round-robin order.
    pub(crate) fn least_loaded(&self) -> usize {
        let n = self.workers.len();
        if n == 1 {
            return 0;
        }
        let start = self.next_round_robin();
        let mut best = start;
        let mut best_live = usize::MAX;
        for k in 0..n {
            let i = (start + k) % n;
            let live = self.workers[i].live.load(Ordering::Relaxed);
            if live < best_live {
                best = i;
                best_live = live;
            }
        }
        best
    }

    /// Counts one live connection on worker `index` until the guard drops.
    pub(crate) fn track(self: &Arc<Self>, index: usize) -> LiveGuard {
        self.workers[index].live.fetch_add(1, Ordering::Relaxed);
        LiveGuard {
            shared: Arc::clone(self),
            index,
        }
    }

    /// Live connections per worker (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn live(&self) -> Vec<usize> {
        self.workers
            .iter()
            .map(|w| w.live.load(Ordering::Relaxed))
            .collect()
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

/// Decrements a worker's live-connection count when the connection's task
/// ends (completes, panics, is aborted or dropped at shutdown).
pub(crate) struct LiveGuard {
    shared: Arc<Shared>,
    index: usize,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.shared.workers[self.index]
            .live
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where the current thread is: which per-core runtime, and whose poller the
/// sockets created here register with.
#[derive(Clone)]
pub(crate) struct Current {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// Runs `f` with the current thread's per-core context, if it has one.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Current>) -> R) -> R {
    CURRENT.with(|c| f(c.borrow().as_ref()))
}

/// Sets the thread's context until dropped, then restores the previous one.
struct ContextGuard {
    previous: Option<Current>,
}

impl ContextGuard {
    fn enter(current: Current) -> Self {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(current));
        Self { previous }
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// How a worker should stop: drop its runtime (waiting for blocking tasks)
/// or shut it down with a deadline for them.
#[derive(Debug, Clone, Copy)]
struct Stop(Option<Duration>);

/// The per-core runtime: worker threads and the means to stop them.
pub(crate) struct Runtime {
    shared: Arc<Shared>,
    stops: Vec<oneshot::Sender<Stop>>,
    threads: Vec<ThreadHandle<()>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerCore")
            .field("workers", &self.shared.len())
            .finish_non_exhaustive()
    }
}

/// Builds `threads` current-thread runtimes and starts one thread per runtime.
pub(crate) fn build(threads: usize, name: &str) -> io::Result<Runtime> {
    let threads = threads.max(1);
    let mut runtimes = Vec::with_capacity(threads);
    for i in 0..threads {
        runtimes.push(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                // Names the worker's blocking-pool threads.
                .thread_name(format!("{name}-{i}-blk"))
                .build()?,
        );
    }
    let shared = Arc::new(Shared {
        workers: runtimes
            .iter()
            .map(|rt| Worker {
                handle: rt.handle().clone(),
                live: AtomicUsize::new(0),
            })
            .collect(),
        next: AtomicUsize::new(0),
    });
    let mut runtime = Runtime {
        shared: Arc::clone(&shared),
        stops: Vec::with_capacity(threads),
        threads: Vec::with_capacity(threads),
    };
    for (index, rt) in runtimes.into_iter().enumerate() {
        let (tx, rx) = oneshot::channel();
        let current = Current {
            shared: Arc::clone(&shared),
            index,
        };
        // On failure, `runtime`'s Drop stops and joins the workers started so
        // far; the runtimes not yet moved are dropped here.
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{index}"))
            .spawn(move || worker_main(rt, current, rx))?;
        runtime.stops.push(tx);
        runtime.threads.push(thread);
    }
    Ok(runtime)
}

fn worker_main(rt: tokio::runtime::Runtime, current: Current, stop: oneshot::Receiver<Stop>) {
    let guard = ContextGuard::enter(current);
    // Drives this worker's tasks, I/O and timers until told to stop. A
    // dropped sender (the Runtime was leaked or its Drop panicked) stops too.
    let how = rt.block_on(stop).unwrap_or(Stop(None));
    match how.0 {
        Some(timeout) => rt.shutdown_timeout(timeout),
        // Dropping a runtime waits for its blocking tasks, as tokio's
        // multi-thread runtime does on drop.
        None => drop(rt),
    }
    drop(guard);
}

impl Runtime {
    /// Runs `future` on the caller's thread, with worker 0's I/O and timers.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _context = ContextGuard::enter(Current {
            shared: Arc::clone(&self.shared),
            index: 0,
        });
        self.shared.handle(0).block_on(future)
    }

    /// Spawns on the next worker in round-robin order.
    pub(crate) fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let index = self.shared.next_round_robin();
        self.shared.handle(index).spawn(future)
    }

    pub(crate) fn shutdown_timeout(mut self, timeout: Duration) {
        self.stop(Some(timeout));
    }

    fn stop(&mut self, timeout: Option<Duration>) {
        for tx in self.stops.drain(..) {
            // A worker that already ended has dropped its receiver; fine.
            let _ = tx.send(Stop(timeout));
        }
        let me = std::thread::current().id();
        for thread in self.threads.drain(..) {
            // Dropped on one of its own workers (from inside a task): that
            // thread finishes on its own once the current task returns.
            if thread.thread().id() != me {
                // A worker thread does not panic: tasks' panics are caught
                // by tokio and the stop future cannot panic.
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_loaded_picks_the_emptiest_worker_and_rotates_on_ties() {
        let rt = build(3, "wego-ut").unwrap();
        let shared = Arc::clone(&rt.shared);
        // Equal loads: successive picks visit every worker.
        let mut seen: Vec<usize> = (0..3).map(|_| shared.least_loaded()).collect();
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2]);
        let a = shared.track(0);
        let b = shared.track(0);
        let c = shared.track(1);
        assert_eq!(shared.live(), [2, 1, 0]);
        for _ in 0..5 {
            assert_eq!(shared.least_loaded(), 2);
        }
        let d = shared.track(2);
        let e = shared.track(2);
        assert_eq!(shared.least_loaded(), 1);
        drop((a, b));
        assert_eq!(shared.live(), [0, 1, 2]);
        assert_eq!(shared.least_loaded(), 0);
        drop((c, d, e));
        assert_eq!(shared.live(), [0, 0, 0]);
    }
}
