//! Graceful shutdown, shared by every server.
//!
//! A server holds a [`Shutdown`]. Each accepted connection (or any unit of
//! in-flight work) holds a [`Watcher`] from [`Shutdown::watcher`]. Calling
//! [`Shutdown::shutdown`] moves through three phases:
//!
//! ```text
//!  Running ──shutdown()──> Draining ──deadline──> Forced
//!                              │                     │
//!                 watchers finish their work   watchers abort now
//!                 and drop; idle ones close
//! ```
//!
//! - **Draining**: [`Watcher::draining`] resolves. Accept loops stop
//!   accepting; connections finish the request in flight and close instead of
//!   waiting for the next one; idle keep-alive connections close at once.
//! - **Forced**: if watchers remain when the deadline passes,
//!   [`Watcher::forced`] resolves and they must close immediately.
//!
//! [`Shutdown::shutdown`] returns when every watcher is gone, or right after
//! forcing, with a [`ShutdownReport`].

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::sync::{Notify, watch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Running,
    Draining,
    Forced,
}

impl Phase {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Phase::Running,
            1 => Phase::Draining,
            _ => Phase::Forced,
        }
    }
}

#[derive(Debug)]
struct Inner {
    phase: watch::Sender<Phase>,
    /// The phase as a plain atomic, so that the checks a server makes on
    /// every request (`is_draining`) cost a load instead of the channel's
    /// lock. Always stored before the channel announces the same phase.
    now: AtomicU8,
    active: AtomicUsize,
    idle: Notify,
}

impl Inner {
    fn phase_now(&self) -> Phase {
        Phase::from_u8(self.now.load(Ordering::Acquire))
    }

    /// Moves the phase forward to `to` (never back): the atomic first, then
    /// the channel, which wakes the watchers waiting for it.
    fn advance(&self, to: Phase) {
        self.now.fetch_max(to as u8, Ordering::AcqRel);
        self.phase.send_if_modified(|p| {
            let moved = *p < to;
            if moved {
                *p = to;
            }
            moved
        });
    }
}

/// The trigger and tracker of a graceful shutdown. Cheap to clone; clones
/// share state.
#[derive(Debug, Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

/// What a [`Shutdown::shutdown`] call achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Watchers still alive when the deadline passed and that were forced.
    pub forced: usize,
}

impl ShutdownReport {
    /// Returns true if all work finished before the deadline.
    pub fn is_graceful(&self) -> bool {
        self.forced == 0
    }
}

impl Shutdown {
    /// A shutdown in the running phase with no watchers.
    pub fn new() -> Self {
        let (phase, _) = watch::channel(Phase::Running);
        Self {
            inner: Arc::new(Inner {
                phase,
                now: AtomicU8::new(Phase::Running as u8),
                active: AtomicUsize::new(0),
                idle: Notify::new(),
            }),
        }
    }

    /// Registers one unit of in-flight work; it counts until the watcher drops.
    pub fn watcher(&self) -> Watcher {
        self.inner.active.fetch_add(1, Ordering::AcqRel);
        Watcher {
            inner: self.inner.clone(),
            phase: self.inner.phase.subscribe(),
        }
    }

    /// Number of live watchers.
    pub fn active(&self) -> usize {
        self.inner.active.load(Ordering::Acquire)
    }

    /// Returns true once a shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.inner.phase_now() >= Phase::Draining
    }

    /// Begins draining without waiting.
    pub fn begin(&self) {
        self.inner.advance(Phase::Draining);
    }

    /// Drains: signals every watcher, waits up to `deadline` for all of them
    /// to drop, then forces the rest.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the shutdown in whatever phase it reached.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.begin();
        if crate::rt::timeout(deadline, self.wait_idle()).await.is_ok() {
            return ShutdownReport { forced: 0 };
        }
        let forced = self.active();
        self.inner.advance(Phase::Forced);
        tracing::warn!(
            forced,
            ?deadline,
            "graceful shutdown deadline passed; forcing close"
        );
        ShutdownReport { forced }
    }

    /// Waits until no watcher is alive.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.active() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One unit of in-flight work under a [`Shutdown`]; see the module docs.
#[derive(Debug)]
pub struct Watcher {
    inner: Arc<Inner>,
    phase: watch::Receiver<Phase>,
}

impl Watcher {
    /// Returns true once draining (or forcing) has begun.
    pub fn is_draining(&self) -> bool {
        self.inner.phase_now() >= Phase::Draining
    }

    /// Returns true once the deadline has passed and work must stop now.
    pub fn is_forced(&self) -> bool {
        self.inner.phase_now() >= Phase::Forced
    }

    /// Resolves when draining begins: stop accepting, close when idle.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn draining(&self) {
        self.wait_for(Phase::Draining).await;
    }

    /// Resolves when the deadline has passed: abort now.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn forced(&self) {
        self.wait_for(Phase::Forced).await;
    }

    /// Resolves once the phase is `phase` or later.
    ///
    /// A server polls this on every wake-up of a connection's task (it sits
    /// in a `select!` beside the connection's work), so a poll that can tell
    /// nothing changed costs two atomic operations and a waker comparison.
    /// The channel is polled with a relay waker that records that the
    /// channel woke it: only then (or on the first poll) is the channel
    /// polled again, which renews the registration its wake-up used up.
    async fn wait_for(&self, phase: Phase) {
        let mut rx = self.phase.clone();
        // The sender lives in `inner`, which this watcher keeps alive, so the
        // channel never closes under us; treat a closed channel as reached.
        let mut changed = std::pin::pin!(rx.wait_for(|p| *p >= phase));
        let relay = Arc::new(Relay {
            fired: AtomicBool::new(true),
            task: Mutex::new(None),
        });
        let relay_waker = Waker::from(Arc::clone(&relay));
        let mut task: Option<Waker> = None;
        std::future::poll_fn(|cx| {
            if self.inner.phase_now() >= phase {
                return Poll::Ready(());
            }
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                task = Some(cx.waker().clone());
                *relay.task.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(cx.waker().clone());
            }
            if relay.fired.swap(false, Ordering::AcqRel)
                && changed
                    .as_mut()
                    .poll(&mut Context::from_waker(&relay_waker))
                    .is_ready()
            {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
    }
}

/// The waker a watcher's phase channel wakes: it notes that the channel
/// fired, then wakes the task.
struct Relay {
    fired: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        if let Some(task) = &*self.task.lock().unwrap_or_else(PoisonError::into_inner) {
            task.wake_by_ref();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if self.inner.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> crate::rt::Runtime {
        crate::rt::Runtime::builder().build().unwrap()
    }

    #[test]
    fn shutdown_with_no_work_is_graceful() {
        rt().block_on(async {
            let s = Shutdown::new();
            assert!(s.shutdown(Duration::from_millis(10)).await.is_graceful());
            assert!(s.is_draining());
        });
    }

    #[test]
    fn watchers_see_draining_then_finish() {
        rt().block_on(async {
            let s = Shutdown::new();
            let w = s.watcher();
            let task = crate::rt::spawn(async move {
                w.draining().await;
                // finish in-flight work, then drop the watcher
                crate::rt::sleep(Duration::from_millis(20)).await;
                drop(w);
            });
            let report = s.shutdown(Duration::from_secs(5)).await;
            assert!(report.is_graceful());
            assert_eq!(s.active(), 0);
            task.await.unwrap();
        });
    }

    #[test]
    fn stuck_watchers_are_forced_after_the_deadline() {
        rt().block_on(async {
            let s = Shutdown::new();
            let w = s.watcher();
            let task = crate::rt::spawn(async move {
                w.forced().await;
                assert!(w.is_forced());
            });
            let report = s.shutdown(Duration::from_millis(30)).await;
            assert_eq!(report.forced, 1);
            task.await.unwrap();
            assert_eq!(s.active(), 0);
        });
    }

    /// `forced()` sits beside other work in a `select!`: woken by that work
    /// it only checks the phase, and the wake-up of draining (which uses up
    /// its registration) must not make it miss the wake-up of forcing.
    #[test]
    fn forced_is_seen_after_other_wake_ups_and_draining() {
        rt().block_on(async {
            let s = Shutdown::new();
            let w = s.watcher();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
            let task = crate::rt::spawn(async move {
                let mut forced = std::pin::pin!(w.forced());
                let mut woken = 0;
                loop {
                    tokio::select! {
                        biased;
                        () = forced.as_mut() => break woken,
                        Some(()) = rx.recv() => woken += 1,
                    }
                }
            });
            let pause = || crate::rt::sleep(Duration::from_millis(5));
            tx.send(()).unwrap();
            pause().await;
            s.begin();
            pause().await;
            tx.send(()).unwrap();
            pause().await;
            let report = s.shutdown(Duration::from_millis(20)).await;
            assert_eq!(report.forced, 1);
            let woken = crate::rt::timeout(Duration::from_secs(5), task)
                .await
                .expect("forced() missed the forcing")
                .unwrap();
            assert_eq!(woken, 2);
        });
    }
}
