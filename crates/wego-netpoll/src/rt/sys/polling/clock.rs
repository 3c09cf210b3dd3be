//! The clock of a polling runtime: the system's monotonic clock, or a
//! paused virtual clock that only [`Clock::advance`] moves (the `test-util`
//! feature).
//!
//! Every loop of a runtime shares one clock. While it runs on real time,
//! `now()` is one relaxed load plus `Instant::now()`. Paused, a loop with
//! nothing to do waits in its poller until woken; `advance` moves the
//! virtual time and notifies every loop, which then fires the timers that
//! became due, in deadline order. Resumed, the clock runs on in real time
//! from where it was paused, as tokio's does: it never goes back, so
//! deadlines taken while it was paused keep their meaning.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A runtime's clock; clones share the time.
#[derive(Clone, Default)]
pub(crate) struct Clock {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Set once the clock is paused for the first time: from then on
    /// `now()` reads `time`.
    shifted: AtomicBool,
    time: Mutex<Time>,
}

/// Where the clock's time comes from.
// Only the `test-util` controls (`pause`, `resume`) leave `Real`.
#[cfg_attr(not(feature = "test-util"), allow(dead_code))]
#[derive(Default, Clone, Copy)]
enum Time {
    /// The system's clock.
    #[default]
    Real,
    /// Frozen at this instant, until advanced or resumed.
    Paused(Instant),
    /// `base` at the system instant `since`, running on in real time.
    Resumed { base: Instant, since: Instant },
}

impl Time {
    fn now(self) -> Instant {
        match self {
            Time::Real => Instant::now(),
            Time::Paused(t) => t,
            Time::Resumed { base, since } => base + since.elapsed(),
        }
    }
}

impl Clock {
    fn time(&self) -> std::sync::MutexGuard<'_, Time> {
        self.inner
            .time
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> Instant {
        if self.inner.shifted.load(Ordering::Acquire) {
            return self.time().now();
        }
        Instant::now()
    }

    /// How long a loop whose earliest timer is `next` may block.
    pub(crate) fn timeout_until(&self, next: Option<Instant>) -> Option<Duration> {
        let next = next?;
        let now = self.now();
        if self.is_frozen() {
            // Virtual time moves only by `advance`, which wakes the loop.
            return (next <= now).then_some(Duration::ZERO);
        }
        Some(next.saturating_duration_since(now))
    }

    fn is_frozen(&self) -> bool {
        self.inner.shifted.load(Ordering::Acquire) && matches!(*self.time(), Time::Paused(_))
    }

    /// Freezes the clock at the current instant.
    #[cfg(feature = "test-util")]
    pub(crate) fn pause(&self) {
        let mut time = self.time();
        if !matches!(*time, Time::Paused(_)) {
            *time = Time::Paused(time.now());
        }
        self.inner.shifted.store(true, Ordering::Release);
    }

    /// Moves a paused clock forward; a step too long for an `Instant`
    /// moves it as far as a "never" deadline
    /// ([`saturating_deadline`](crate::rt::time::saturating_deadline)).
    #[cfg(feature = "test-util")]
    pub(crate) fn advance(&self, by: Duration) -> bool {
        match &mut *self.time() {
            Time::Paused(t) => {
                *t = crate::rt::time::saturating_deadline(*t, by);
                true
            }
            Time::Real | Time::Resumed { .. } => false,
        }
    }

    /// Returns true while the clock is paused.
    #[cfg(feature = "test-util")]
    pub(crate) fn is_paused(&self) -> bool {
        self.is_frozen()
    }

    /// Lets the clock follow real time again, from where it was paused.
    #[cfg(feature = "test-util")]
    pub(crate) fn resume(&self) {
        let mut time = self.time();
        if let Time::Paused(base) = *time {
            *time = Time::Resumed {
                base,
                since: Instant::now(),
            };
        }
    }
}
