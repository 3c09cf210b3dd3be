//! Timers of the polling backend: one ordered map per loop, and [`Sleep`].
//!
//! A loop's timers are a `BTreeMap` keyed by `(deadline, sequence)`, so
//! that creating, moving and dropping a timer are `O(log n)` and the next
//! deadline is the first key. A [`Sleep`] registers itself at its first
//! pending poll, keeps a copy of the waker it registered so that repeated
//! polls from the same task take no lock, and removes its entry when it is
//! dropped or reset: a timeout that did not fire costs one insert and one
//! remove. The loop wakes every entry whose deadline has passed before it
//! runs its tasks and sleeps in the poller no longer than the next deadline;
//! `polling` waits with a `timerfd` on Linux, so a timer fires within the
//! scheduling latency of its deadline and never before it.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::event_loop::LoopShared;

/// The timers of one loop.
#[derive(Default)]
pub(crate) struct Timers {
    entries: BTreeMap<(Instant, u64), Waker>,
    seq: u64,
}

impl Timers {
    /// Inserts an entry; returns its key and whether it is now the earliest.
    fn insert(&mut self, deadline: Instant, waker: Waker) -> ((Instant, u64), bool) {
        self.seq = self.seq.wrapping_add(1);
        let key = (deadline, self.seq);
        self.entries.insert(key, waker);
        let first = self.entries.keys().next().is_some_and(|k| *k == key);
        (key, first)
    }

    /// Removes and returns the wakers of every entry due at `now`.
    pub(crate) fn expire(&mut self, now: Instant, woken: &mut Vec<Waker>) {
        while let Some(entry) = self.entries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            woken.push(entry.remove());
        }
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.entries.keys().next().map(|k| k.0)
    }

    /// Number of armed timers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops every entry (the loop is stopping).
    pub(crate) fn clear(&mut self) -> BTreeMap<(Instant, u64), Waker> {
        std::mem::take(&mut self.entries)
    }
}

/// A timer future of the polling backend; the facade's
/// [`Sleep`](crate::rt::Sleep) wraps it.
pub(crate) struct Sleep {
    deadline: Instant,
    owner: Arc<LoopShared>,
    /// The registered entry and the waker it holds.
    entry: Option<((Instant, u64), Waker)>,
}

impl Sleep {
    pub(crate) fn new(owner: Arc<LoopShared>, deadline: Instant) -> Self {
        Self {
            deadline,
            owner,
            entry: None,
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    pub(crate) fn is_elapsed(&self) -> bool {
        self.owner.now() >= self.deadline
    }

    pub(crate) fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline;
    }

    fn deregister(&mut self) {
        if let Some((key, _)) = self.entry.take() {
            self.owner
                .timers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entries
                .remove(&key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.owner.now() >= this.deadline {
            this.deregister();
            return Poll::Ready(());
        }
        if let Some((_, waker)) = &this.entry
            && waker.will_wake(cx.waker())
        {
            return Poll::Pending;
        }
        let first = {
            let mut timers = this
                .owner
                .timers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((key, _)) = this.entry.take() {
                timers.entries.remove(&key);
            }
            let (key, first) = timers.insert(this.deadline, cx.waker().clone());
            this.entry = Some((key, cx.waker().clone()));
            first
        };
        // A loop blocked in its poller must recompute its timeout when an
        // earlier deadline arrives from another thread.
        if first {
            this.owner.notify_if_remote();
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("armed", &self.entry.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn expire_wakes_due_entries_in_deadline_order_and_keeps_the_rest() {
        let mut t = Timers::default();
        let base = Instant::now();
        let noop = Waker::noop();
        let (late, _) = t.insert(base + Duration::from_millis(30), noop.clone());
        let (_, first) = t.insert(base + Duration::from_millis(10), noop.clone());
        assert!(first, "an earlier deadline becomes the first");
        let (_, first) = t.insert(base + Duration::from_millis(20), noop.clone());
        assert!(!first);
        assert_eq!(t.next_deadline(), Some(base + Duration::from_millis(10)));
        let mut woken = Vec::new();
        t.expire(base + Duration::from_millis(20), &mut woken);
        assert_eq!(
            woken.len(),
            2,
            "both due entries fire, the deadline itself included"
        );
        assert_eq!(t.len(), 1);
        assert_eq!(t.next_deadline(), Some(late.0));
        t.expire(base + Duration::from_millis(29), &mut woken);
        assert_eq!(woken.len(), 2, "never before the deadline");
        t.entries.remove(&late);
        assert_eq!(t.len(), 0);
        assert_eq!(t.next_deadline(), None);
    }
}
