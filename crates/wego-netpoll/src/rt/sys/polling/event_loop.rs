//! One event loop: a thread, its poller, its run queue and its timers.
//!
//! ```text
//!  ┌──────────── loop thread ───────────────────────────────────────────┐
//!  │ wait(poller, timeout = next timer or 0 if tasks are queued)        │
//!  │   → readiness events: mark each registration, wake its tasks      │
//!  │ expire timers (wake)                                               │
//!  │ move the injector (tasks scheduled from other threads) to the     │
//!  │   local queue                                                      │
//!  │ run the tasks queued now, FIFO; the ones they wake run next round │
//!  │ wake the tasks that yielded (`rt::yield_now`)                      │
//!  └────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Invariants:
//!
//! - A runnable scheduled on the loop's own thread goes to the thread-local
//!   queue without a lock or a system call; from any other thread it goes
//!   to the injector, and the poller is notified at most once per round
//!   (`notified` is cleared just before the injector is drained, so a push
//!   that finds it set knows a wake-up is still pending).
//! - Each round runs at most [`EVENT_INTERVAL`] tasks from the local queue
//!   (FIFO, tasks woken during the round included), then polls the poller
//!   again (without blocking if tasks are waiting): tasks that keep waking
//!   each other cannot starve I/O or timers, and a busy loop pays for the
//!   poller's system calls once per batch rather than once per task.
//! - A task that yields ([`defer`]) is woken only after the next poll for
//!   I/O, so it resumes after the timers and readiness that came due
//!   meanwhile have woken their tasks, as on tokio: a task that yields in a
//!   loop cannot hold a loop's timers and I/O back for a whole batch.
//! - Stopping aborts every task of the loop, runs the queue until it is
//!   empty so that each task's future is dropped on this thread, then drops
//!   what is left (timers, wakers held by registrations, runnables pushed
//!   late). After `closed` is set, a runnable scheduled on the loop is
//!   dropped at once, which drops its task.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use async_task::Runnable;
use slab::Slab;

use super::clock::Clock;
use super::io::ScheduledIo;
use super::poller::{Events, Poller};
use super::task::Header;
use super::timer::Timers;

/// How many tasks a round runs at most before it polls for I/O again
/// (tokio's `event_interval`). Polling for I/O costs at least one system
/// call (several with the `polling` crate, which arms a timerfd and re-arms
/// its notifier on every wait), so a busy loop runs a batch of tasks
/// between polls; the bound keeps I/O and timers from starving behind
/// tasks that wake each other.
const EVENT_INTERVAL: usize = 61;

/// Source of loop ids, unique in the process so that a thread can tell
/// whether it runs a given loop.
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// The id of the loop this thread runs (0: none).
    static RUNNING: Cell<usize> = const { Cell::new(0) };
    /// That loop's local run queue.
    static LOCAL: RefCell<VecDeque<Runnable>> = const { RefCell::new(VecDeque::new()) };
    /// Tasks of that loop that yielded, woken after its next poll for I/O.
    static DEFERRED: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Defers `waker` until the calling thread's loop has polled for I/O once
/// more (after its current round of tasks). `false` off a loop thread: the
/// caller wakes the task itself.
pub(crate) fn defer(waker: &Waker) -> bool {
    if RUNNING.with(Cell::get) == 0 {
        return false;
    }
    DEFERRED.with(|d| d.borrow_mut().push(waker.clone()));
    true
}

/// The part of a loop that other threads reach: its poller, injector,
/// timers, registrations and tasks.
pub(crate) struct LoopShared {
    id: usize,
    pub(crate) poller: Poller,
    injector: Mutex<VecDeque<Runnable>>,
    notified: AtomicBool,
    closed: AtomicBool,
    stop: AtomicBool,
    pub(crate) timers: Mutex<Timers>,
    pub(crate) io: Mutex<Slab<Arc<ScheduledIo>>>,
    pub(crate) tasks: Mutex<Slab<Arc<Header>>>,
    /// Connections placed here by `spawn_connection` and still served.
    pub(crate) live: AtomicUsize,
    /// Whether the loop reads readable sockets into their buffers
    /// (`eager.rs`) before their tasks run.
    pub(crate) eager_reads: bool,
    clock: Clock,
}

impl LoopShared {
    pub(crate) fn new(clock: Clock, eager_reads: bool) -> io::Result<Self> {
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            poller: Poller::new()?,
            injector: Mutex::new(VecDeque::new()),
            notified: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            timers: Mutex::new(Timers::default()),
            io: Mutex::new(Slab::new()),
            tasks: Mutex::new(Slab::new()),
            live: AtomicUsize::new(0),
            eager_reads,
            clock,
        })
    }

    /// The loop's clock (virtual under a paused test clock).
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Returns true once the loop has stopped for good.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Returns true if the calling thread runs this loop.
    pub(crate) fn is_current(&self) -> bool {
        RUNNING.with(Cell::get) == self.id
    }

    /// Queues a runnable: locally on the loop's thread, else through the
    /// injector with a wake-up of the poller.
    pub(crate) fn schedule(&self, runnable: Runnable) {
        if self.closed.load(Ordering::Acquire) {
            // The loop is gone: dropping the runnable drops the task.
            drop(runnable);
            return;
        }
        if self.is_current() {
            LOCAL.with(|q| q.borrow_mut().push_back(runnable));
            return;
        }
        self.injector
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(runnable);
        self.notify();
    }

    /// Wakes the poller unless a wake-up is already pending this round.
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            // A failed notify (eventfd write) cannot be acted upon; the loop
            // still sees the work at its next round.
            let _ = self.poller.notify();
        }
    }

    /// Wakes the poller if the caller is not the loop's own thread.
    pub(crate) fn notify_if_remote(&self) {
        if !self.is_current() {
            self.notify();
        }
    }

    /// Asks the loop to stop at its next round.
    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.poller.notify();
    }
}

/// Runs the loop on the calling thread until [`LoopShared::request_stop`].
pub(crate) fn run(shared: &LoopShared) {
    RUNNING.with(|r| r.set(shared.id));
    let mut events = Events::new();
    let mut woken: Vec<Waker> = Vec::new();
    loop {
        // Timers.
        let now = shared.now();
        shared
            .timers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .expire(now, &mut woken);
        for w in woken.drain(..) {
            w.wake();
        }
        // Tasks scheduled from other threads.
        shared.notified.store(false, Ordering::Release);
        let injected = std::mem::take(
            &mut *shared
                .injector
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        LOCAL.with(|q| q.borrow_mut().extend(injected));
        // Run queued tasks, the ones they wake included, up to the budget.
        for _ in 0..EVENT_INTERVAL {
            let Some(runnable) = LOCAL.with(|q| q.borrow_mut().pop_front()) else {
                break;
            };
            runnable.run();
        }
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        // I/O: without blocking if work is queued, else until the next timer.
        let busy =
            LOCAL.with(|q| !q.borrow().is_empty()) || DEFERRED.with(|d| !d.borrow().is_empty());
        let timeout = if busy {
            Some(Duration::ZERO)
        } else {
            let next = shared
                .timers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .next_deadline();
            shared.clock.timeout_until(next)
        };
        events.clear();
        match shared.poller.wait(&mut events, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // epoll_wait fails only on a broken poller; nothing on this
                // loop can make progress, so stop it and say why.
                tracing::error!(error = %e, "event loop poller failed; stopping the loop");
                break;
            }
        }
        for ev in events.iter() {
            let io = shared
                .io
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(ev.key)
                .cloned();
            if let Some(io) = io {
                io.dispatch(&ev);
            }
        }
        DEFERRED.with(|d| woken.append(&mut d.borrow_mut()));
        for w in woken.drain(..) {
            w.wake();
        }
    }
    DEFERRED.with(|d| d.borrow_mut().clear());
    shutdown(shared);
    RUNNING.with(|r| r.set(0));
}

/// Cancels every task of the loop, dropping each future on this thread,
/// then drops what is left.
fn shutdown(shared: &LoopShared) {
    let headers: Vec<Arc<Header>> = shared
        .tasks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(_, h)| Arc::clone(h))
        .collect();
    for h in &headers {
        h.abort();
    }
    drop(headers);
    // Aborted tasks end at their next poll; a bounded number of rounds
    // catches tasks woken while others are dropped.
    for _ in 0..4 {
        let injected = std::mem::take(
            &mut *shared
                .injector
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        LOCAL.with(|q| q.borrow_mut().extend(injected));
        let mut ran = false;
        while let Some(runnable) = LOCAL.with(|q| q.borrow_mut().pop_front()) {
            runnable.run();
            ran = true;
        }
        if !ran {
            break;
        }
    }
    shared.closed.store(true, Ordering::Release);
    // Runnables pushed before `closed` was seen, timer and I/O wakers: each
    // may hold the last reference to a task, whose schedule function holds
    // this loop.
    drop(std::mem::take(
        &mut *shared
            .injector
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    ));
    LOCAL.with(|q| q.borrow_mut().clear());
    drop(
        shared
            .timers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear(),
    );
    let ios: Vec<Arc<ScheduledIo>> = shared
        .io
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(_, io)| Arc::clone(io))
        .collect();
    for io in ios {
        io.close();
    }
}
