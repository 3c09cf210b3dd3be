//! [`Gates`] and [`Gated`]: a connection's side futures (its shutdown
//! signals, its idle and read timers) polled only after they woke.
//!
//! A connection's task wakes for its socket once or twice per request, and
//! `select!` polls every branch on each wake-up: shutdown watchers and
//! timers (a timer poll reads the clock) would cost a few hundred
//! instructions per request for signals that almost never fire. A
//! [`Gated`] future is instead polled with its connection's relay waker,
//! which counts the wake-ups before it wakes the task; the gate polls the
//! future again only once that count has moved, or when it was never polled
//! or was reset.
//!
//! One relay serves all of a connection's gates, so a wake-up of one makes
//! the others poll once more too: harmless, and rare.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// Counts the gated futures' wake-ups and passes each to the task.
#[derive(Default)]
struct Relay {
    wakes: AtomicUsize,
    task: AtomicWaker,
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::AcqRel);
        self.task.wake();
    }
}

/// A gate's count when its future must be polled whether or not it woke
/// (the relay's count, which starts at 0, never reaches it).
const UNSEEN: usize = usize::MAX;

/// A connection's relay, from which its gates are made: one per task whose
/// side futures are to be gated (see [`Gated`]).
///
/// ```
/// use std::time::{Duration, Instant};
/// use wego_netpoll::rt::{self, Gates};
///
/// rt::block_on(async {
///     let gates = Gates::new();
///     // Polled by the `select!` below only after it woke (or was reset),
///     // not on every turn the other branch causes.
///     let mut timer = std::pin::pin!(gates.gate(rt::sleep(Duration::from_secs(60))));
///     // A deadline moves through `get_pin_mut`, which also marks the timer
///     // for a poll.
///     let deadline = Instant::now() + Duration::from_millis(1);
///     timer.as_mut().get_pin_mut().reset(deadline);
///     let mut turns = 0;
///     loop {
///         tokio::select! {
///             () = timer.as_mut() => break,
///             () = std::future::ready(()), if turns < 3 => turns += 1,
///         }
///     }
///     assert!(Instant::now() >= deadline);
/// })
/// .unwrap();
/// ```
pub struct Gates {
    relay: Arc<Relay>,
}

impl std::fmt::Debug for Gates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gates")
            .field("wakes", &self.relay.wakes.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Gates {
    fn default() -> Self {
        Self::new()
    }
}

impl Gates {
    /// A new relay, with no wake-ups counted.
    pub fn new() -> Self {
        Self {
            relay: Arc::new(Relay::default()),
        }
    }

    /// `fut`, polled only after it woke: on its first poll, after each
    /// wake-up of any of this relay's gates, and after
    /// [`Gated::get_pin_mut`].
    pub fn gate<F: Future>(&self, fut: F) -> Gated<F> {
        Gated {
            fut,
            relay: Arc::clone(&self.relay),
            seen: UNSEEN,
        }
    }
}

pin_project_lite::pin_project! {
    /// A future polled only when its relay ([`Gates`]) counted a wake-up
    /// since its last poll.
    ///
    /// The future inside is polled with a waker of the relay, which counts
    /// the wake-up and then wakes the task that polled the gate. While the
    /// count has not moved, a poll of the gate returns `Pending` without
    /// reaching the future: so a future that can become ready without
    /// waking its waker (one that only reads a flag or a clock when polled)
    /// must not be gated.
    #[must_use = "futures do nothing unless polled"]
    pub struct Gated<F> {
        #[pin]
        fut: F,
        // Kept small: a connection's future holds several gates.
        relay: Arc<Relay>,
        // The relay's count at the last poll; `UNSEEN` until the first
        // poll and after `get_pin_mut`.
        seen: usize,
    }
}

impl<F> std::fmt::Debug for Gated<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gated")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl<F> Gated<F> {
    /// The future inside.
    pub fn get_ref(&self) -> &F {
        &self.fut
    }

    /// The future inside, to change (a timer's reset): it is polled at the
    /// next poll, whether or not it woke.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut F> {
        let this = self.project();
        *this.seen = UNSEEN;
        this.fut
    }
}

impl<F: Future> Future for Gated<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // The task's waker before the count: a wake-up after the count is
        // read then finds it, and the next poll sees the new count.
        this.relay.task.register(cx.waker());
        let wakes = this.relay.wakes.load(Ordering::Acquire);
        if *this.seen == wakes {
            return Poll::Pending;
        }
        *this.seen = wakes;
        // Made for this poll (one reference count), as the gated future is
        // polled only after a wake-up. Every waker made from the relay wakes
        // the same task; `Waker::will_wake` between two of them is only
        // best-effort, so the future may store the new one on such a poll.
        let waker = Waker::from(Arc::clone(this.relay));
        this.fut.poll(&mut Context::from_waker(&waker))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Waker;

    use super::*;

    /// Counts its polls; ready once `open` is set, waking the last waker it
    /// was polled with when `open` is called.
    #[derive(Default)]
    struct Probe {
        polls: AtomicUsize,
        open: std::sync::Mutex<(bool, Option<Waker>)>,
    }

    impl Probe {
        fn open(&self) {
            let waker = {
                let mut open = self.open.lock().unwrap();
                open.0 = true;
                open.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    fn probe_future(probe: &Probe) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            probe.polls.fetch_add(1, Ordering::Relaxed);
            let mut open = probe.open.lock().unwrap();
            if open.0 {
                Poll::Ready(())
            } else {
                open.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }

    /// A waker that counts its wake-ups: the task's.
    #[derive(Default)]
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn polls_the_future_only_after_it_woke() {
        let probe = Probe::default();
        let gates = Gates::new();
        let mut gated = std::pin::pin!(gates.gate(probe_future(&probe)));
        let task = Arc::new(Task::default());
        let waker = Waker::from(Arc::clone(&task));
        let mut cx = Context::from_waker(&waker);

        assert!(gated.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            probe.polls.load(Ordering::Relaxed),
            1,
            "first poll reaches it"
        );
        for _ in 0..3 {
            assert!(gated.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(
            probe.polls.load(Ordering::Relaxed),
            1,
            "not woken: not polled"
        );

        probe.open();
        assert_eq!(
            task.0.load(Ordering::Relaxed),
            1,
            "its wake-up reached the task"
        );
        assert!(gated.as_mut().poll(&mut cx).is_ready());
        assert_eq!(probe.polls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_reset_future_is_polled_again() {
        let probe = Probe::default();
        let gates = Gates::new();
        let mut gated = std::pin::pin!(gates.gate(probe_future(&probe)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(gated.as_mut().poll(&mut cx).is_pending());
        // What a timer reset does: it reaches the future inside.
        let _inner = gated.as_mut().get_pin_mut();
        assert!(gated.as_mut().poll(&mut cx).is_pending());
        assert_eq!(probe.polls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_wake_up_of_one_gate_polls_the_others_once() {
        let (a, b) = (Probe::default(), Probe::default());
        let gates = Gates::new();
        let mut ga = std::pin::pin!(gates.gate(probe_future(&a)));
        let mut gb = std::pin::pin!(gates.gate(probe_future(&b)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(ga.as_mut().poll(&mut cx).is_pending());
        assert!(gb.as_mut().poll(&mut cx).is_pending());

        a.open();
        assert!(gb.as_mut().poll(&mut cx).is_pending());
        assert_eq!(b.polls.load(Ordering::Relaxed), 2, "polled once more");
        assert!(gb.as_mut().poll(&mut cx).is_pending());
        assert_eq!(b.polls.load(Ordering::Relaxed), 2, "and no more");
        assert!(ga.as_mut().poll(&mut cx).is_ready());
    }
}
