//! The polling backend: wego's own event loops, Netpoll's design in Rust.
//!
//! ```text
//!  caller ── Runtime::block_on(fut): polls fut on the caller's thread,
//!            parks between wake-ups; its sockets and timers use loop 0
//!  wego-worker-0 ── event_loop::run: poller 0, run queue 0, timers 0
//!  wego-worker-1 ── event_loop::run: poller 1, run queue 1, timers 1
//!  wego-worker-blk ── blocking pool (spawn_blocking), on demand
//! ```
//!
//! - One loop per worker thread (default: one per core), each with its own
//!   poller ([`poller`]: epoll on Linux, the `polling` crate's kqueue
//!   elsewhere), a local FIFO run queue of
//!   `async-task` tasks, an injector for tasks scheduled from other
//!   threads, and timers ([`timer`]). See [`event_loop`] for a round.
//! - [`spawn`] runs a task on the calling thread's loop; `Runtime::spawn`
//!   from outside goes round-robin; [`spawn_connection`] places a
//!   connection's task on the loop with the fewest live connections, and
//!   the socket registers with that loop's poller at its first `WouldBlock`
//!   ([`net`]).
//! - Sockets are non-blocking std sockets, registered edge-triggered
//!   ([`io`]); reads happen when the task polls (`AsyncRead`), writes are
//!   vectored; `is_active` answers from the poller's hang-up and readable
//!   reports without reading.
//! - Only per-loop scheduling exists: tasks never migrate between loops, so
//!   [`Flavor::WorkStealing`](crate::rt::Flavor::WorkStealing) is refused
//!   by the builder with a clear error.
//! - Dropping the runtime stops every loop (each cancels its tasks and drops
//!   their futures on its own thread), joins every loop thread, then waits
//!   for running blocking calls (bounded by `shutdown_timeout`).

mod blocking;
mod clock;
pub(crate) mod context;
mod eager;
mod event_loop;
mod io;
pub(crate) mod net;
mod per_loop;
mod poller;
mod task;
mod timer;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, Weak};
use std::task::{Poll, Wake, Waker};
use std::thread::{JoinHandle as ThreadHandle, Thread};
use std::time::{Duration, Instant};

use async_task::Runnable;

pub(crate) use clock::Clock;
pub(crate) use event_loop::{LoopShared, defer};
pub(crate) use per_loop::PerLoopListener;
pub(crate) use task::{JoinHandle, Outcome};
pub(crate) use timer::Sleep;

use context::Context;
use task::Header;

/// The most blocking-pool threads a runtime starts.
const MAX_BLOCKING_THREADS: usize = 512;

/// The state every loop and pool thread of one runtime shares.
pub(crate) struct Shared {
    loops: Box<[Arc<LoopShared>]>,
    next: AtomicUsize,
    blocking: blocking::Pool,
    clock: Clock,
}

impl Shared {
    pub(crate) fn loop_at(&self, index: usize) -> &Arc<LoopShared> {
        &self.loops[index]
    }

    fn next_round_robin(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.loops.len()
    }

    /// The loop with the fewest live connections; ties from a rotating start.
    fn least_loaded(&self) -> usize {
        let n = self.loops.len();
        if n == 1 {
            return 0;
        }
        let start = self.next_round_robin();
        let mut best = start;
        let mut best_live = usize::MAX;
        for k in 0..n {
            let i = (start + k) % n;
            let live = self.loops[i].live.load(Ordering::Relaxed);
            if live < best_live {
                best = i;
                best_live = live;
            }
        }
        best
    }

    #[cfg(feature = "test-util")]
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Wakes every loop (the paused clock moved).
    #[cfg(feature = "test-util")]
    pub(crate) fn notify_all(&self) {
        for l in self.loops.iter() {
            l.notify();
        }
    }
}

/// A polling runtime: loop threads and a blocking pool.
pub(crate) struct Runtime {
    shared: Arc<Shared>,
    threads: Vec<ThreadHandle<()>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Polling")
            .field("loops", &self.shared.loops.len())
            .finish_non_exhaustive()
    }
}

/// Settings of a polling runtime.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Loops read readable sockets into the connection's buffer before
    /// the task runs (`eager.rs`).
    pub(crate) eager_reads: bool,
}

/// Builds `threads` loops and starts one thread per loop.
pub(crate) fn build(threads: usize, name: &str, options: Options) -> std::io::Result<Runtime> {
    let clock = Clock::default();
    let loops = (0..threads.max(1))
        .map(|_| LoopShared::new(clock.clone(), options.eager_reads).map(Arc::new))
        .collect::<std::io::Result<Box<[_]>>>()?;
    let shared = Arc::new(Shared {
        loops,
        next: AtomicUsize::new(0),
        blocking: blocking::Pool::new(name.to_owned(), MAX_BLOCKING_THREADS),
        clock,
    });
    let mut runtime = Runtime {
        shared: Arc::clone(&shared),
        threads: Vec::with_capacity(shared.loops.len()),
    };
    for index in 0..shared.loops.len() {
        let ctx = Context {
            shared: Arc::clone(&shared),
            index,
        };
        // On failure, `runtime`'s Drop stops and joins the loops started so far.
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{index}"))
            .spawn(move || {
                let owner = Arc::clone(ctx.owner());
                let _guard = context::enter(ctx);
                event_loop::run(&owner);
            })?;
        runtime.threads.push(thread);
    }
    Ok(runtime)
}

impl Runtime {
    /// Runs `future` on the caller's thread, with loop 0's poller and timers.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert!(
            !context::is_entered(),
            "Runtime::block_on cannot be called inside a wego runtime"
        );
        let _guard = context::enter(Context {
            shared: Arc::clone(&self.shared),
            index: 0,
        });
        park_on(future)
    }

    /// Spawns on the next loop in round-robin order.
    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let index = self.shared.next_round_robin();
        spawn_on(&self.shared, index, future)
    }

    pub(crate) fn shutdown_timeout(mut self, timeout: Duration) {
        self.stop(Some(timeout));
    }

    fn stop(&mut self, timeout: Option<Duration>) {
        for l in self.shared.loops.iter() {
            l.request_stop();
        }
        let me = std::thread::current().id();
        for thread in self.threads.drain(..) {
            // Dropped on one of its own loops (from inside a task): that
            // thread finishes on its own once the current task returns.
            if thread.thread().id() != me {
                // A loop thread does not panic: task panics are caught.
                let _ = thread.join();
            }
        }
        self.shared.blocking.shutdown(timeout);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop(None);
    }
}

/// Wakes a thread parked in [`park_on`].
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Polls `future` on the calling thread, parking it between wake-ups.
fn park_on<F: Future>(future: F) -> F::Output {
    let parker = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&parker));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        while !parker.woken.swap(false, Ordering::AcqRel) {
            std::thread::park();
        }
    }
}

/// Spawns `future` on loop `index` of `shared`.
pub(crate) fn spawn_on<F>(shared: &Arc<Shared>, index: usize, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let owner = Arc::clone(shared.loop_at(index));
    let header = Arc::new(Header::default());
    let key = owner
        .tasks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(Arc::clone(&header));
    let schedule = {
        let owner = Arc::clone(&owner);
        move |runnable: Runnable| owner.schedule(runnable)
    };
    let weak = Arc::downgrade(&owner);
    let on_drop = move || {
        if let Some(owner) = weak.upgrade() {
            let mut tasks = owner.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            if tasks.contains(key) {
                tasks.remove(key);
            }
        }
    };
    let (runnable, handle) = task::create(future, schedule, header, on_drop);
    runnable.schedule();
    handle
}

/// Spawns on the current thread's loop.
pub(crate) fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let ctx = context::expect_current("rt::spawn");
    spawn_on(&ctx.shared, ctx.index, future)
}

/// Runs `f` on the current runtime's blocking pool.
pub(crate) fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let ctx = context::expect_current("rt::spawn_blocking");
    let weak: Weak<Shared> = Arc::downgrade(&ctx.shared);
    // Pool threads get the runtime's context, so that they may spawn, dial
    // or sleep (their sockets and timers use a round-robin loop).
    let enter: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
        if let Some(shared) = weak.upgrade() {
            let index = shared.next_round_robin();
            std::mem::forget(context::enter(Context { shared, index }));
        }
    });
    ctx.shared.blocking.spawn(f, enter)
}

/// A timer on the current thread's loop.
pub(crate) fn sleep_until(deadline: Instant) -> Sleep {
    let ctx = context::expect_current("rt::sleep");
    Sleep::new(Arc::clone(ctx.owner()), deadline)
}

/// A timer `duration` from now on the current thread's loop; a duration
/// too long for an `Instant` (`Duration::MAX`, say) is clamped to about 30
/// years ([`FAR_FUTURE`](crate::rt::time::FAR_FUTURE)), as tokio clamps it,
/// so that it means "never".
pub(crate) fn sleep(duration: Duration) -> Sleep {
    let ctx = context::expect_current("rt::sleep");
    let owner = Arc::clone(ctx.owner());
    let deadline = crate::rt::time::saturating_deadline(owner.now(), duration);
    Sleep::new(owner, deadline)
}

/// The current runtime's clock reading.
pub(crate) fn now() -> Option<Instant> {
    context::with_current(|c| c.shared.clock.now())
}

/// Binds a per-loop listener: `bind(k)` makes loop `k`'s socket (bound
/// with `SO_REUSEPORT` on one address), whose acceptor runs on loop `k`.
pub(crate) fn bind_per_loop(
    mut bind: impl FnMut(usize) -> std::io::Result<std::net::TcpListener>,
) -> std::io::Result<PerLoopListener> {
    let ctx = context::current().ok_or_else(context::outside_runtime)?;
    let sockets = (0..ctx.shared.loops.len())
        .map(&mut bind)
        .collect::<std::io::Result<Vec<_>>>()?;
    PerLoopListener::start(&ctx.shared, sockets)
}

/// Picks the loop that will serve a connection (`home` if given and valid,
/// else the one with the fewest live connections), counts it live there
/// until its task ends, and runs `make(target)` and its future on that
/// loop.
pub(crate) fn place<M, Fut>(home: Option<usize>, make: M) -> JoinHandle<()>
where
    M: FnOnce(&Arc<LoopShared>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let ctx = context::expect_current("rt::spawn_connection");
    let shared = &ctx.shared;
    let target = match home {
        Some(k) if k < shared.loops.len() => k,
        _ => shared.least_loaded(),
    };
    let owner = Arc::clone(shared.loop_at(target));
    owner.live.fetch_add(1, Ordering::Relaxed);
    let live = task::OnDrop::new({
        let owner = Arc::clone(&owner);
        move || {
            owner.live.fetch_sub(1, Ordering::Relaxed);
        }
    });
    spawn_on(shared, target, async move {
        let _live = live;
        make(&owner).await;
    })
}

#[cfg(feature = "test-util")]
fn current_clock() -> crate::Result<Context> {
    context::current().ok_or_else(|| {
        crate::Error::runtime_config(
            "the test clock needs a wego runtime: call it inside block_on or a task",
        )
    })
}

#[cfg(feature = "test-util")]
pub(crate) fn pause() -> crate::Result<()> {
    current_clock()?.shared.clock().pause();
    Ok(())
}

#[cfg(feature = "test-util")]
pub(crate) async fn advance(by: Duration) -> crate::Result<()> {
    let ctx = current_clock()?;
    if !ctx.shared.clock().advance(by) {
        return Err(crate::Error::runtime_config(
            "advance needs a paused clock: call rt::pause first",
        ));
    }
    ctx.shared.notify_all();
    // Let the loops fire the timers that became due before the caller
    // goes on (a loop fires due timers before it runs its next tasks).
    crate::rt::yield_now().await;
    Ok(())
}

#[cfg(feature = "test-util")]
pub(crate) fn resume() -> crate::Result<()> {
    let ctx = current_clock()?;
    if !ctx.shared.clock().is_paused() {
        return Err(crate::Error::runtime_config("the clock is not paused"));
    }
    ctx.shared.clock().resume();
    ctx.shared.notify_all();
    Ok(())
}
