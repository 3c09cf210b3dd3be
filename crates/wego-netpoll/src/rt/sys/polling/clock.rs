//! The clock of a polling runtime: the system's monotonic clock, or a
//! paused virtual clock that only [`Clock::advance`] moves (the `test-util`
//! feature).
//!
//! Every loop of a runtime shares one clock. While it runs on real time,
//! `now()` is one relaxed load plus `Instant::now()`. Paused, a loop with
//! nothing to do waits in its poller until woken; `advance` moves the
//! virtual time and notifies every loop, which then fires the timers that
//! became due, in deadline order.

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
    paused: AtomicBool,
    /// The virtual time while paused.
    frozen: Mutex<Option<Instant>>,
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        if self.inner.paused.load(Ordering::Acquire) {
            let frozen = *self
                .inner
                .frozen
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(t) = frozen {
                return t;
            }
        }
        Instant::now()
    }

    /// How long a loop whose earliest timer is `next` may block.
    pub(crate) fn timeout_until(&self, next: Option<Instant>) -> Option<Duration> {
        let next = next?;
        let now = self.now();
        if self.inner.paused.load(Ordering::Acquire) {
            // Virtual time moves only by `advance`, which wakes the loop.
            return (next <= now).then_some(Duration::ZERO);
        }
        Some(next.saturating_duration_since(now))
    }

    /// Freezes the clock at the current instant.
    #[cfg(feature = "test-util")]
    pub(crate) fn pause(&self) {
        let mut frozen = self
            .inner
            .frozen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if frozen.is_none() {
            *frozen = Some(Instant::now());
        }
        self.inner.paused.store(true, Ordering::Release);
    }

    /// Moves a paused clock forward.
    #[cfg(feature = "test-util")]
    pub(crate) fn advance(&self, by: Duration) -> bool {
        let mut frozen = self
            .inner
            .frozen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match frozen.as_mut() {
            Some(t) => {
                *t += by;
                true
            }
            None => false,
        }
    }

    /// Returns true while the clock is paused.
    #[cfg(feature = "test-util")]
    pub(crate) fn is_paused(&self) -> bool {
        self.inner.paused.load(Ordering::Acquire)
    }

    /// Lets the clock follow real time again.
    #[cfg(feature = "test-util")]
    pub(crate) fn resume(&self) {
        self.inner.paused.store(false, Ordering::Release);
        *self
            .inner
            .frozen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}
