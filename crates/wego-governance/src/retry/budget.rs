//! The retry budget: retries may be at most a ratio of recent requests.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use wego_netpoll::rt;

const SLOTS: usize = 10;

/// Caps retries at `min_per_sec × window + ratio × requests in the window`,
/// so that during an outage retries add at most `ratio` extra load instead
/// of multiplying it by the attempt count (Finagle's and linkerd's budget).
/// The window moves on the runtime's clock ([`rt::now`]).
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    reserve: u64,
    slot_len: Duration,
    origin: Instant,
    slots: Mutex<[(u64, u64, u64); SLOTS]>,
}

impl RetryBudget {
    /// A budget of `ratio` retries per request over a `window`, plus
    /// `min_per_sec` retries per second that are always allowed.
    pub fn new(ratio: f64, min_per_sec: u32, window: Duration) -> Self {
        let window = window.max(Duration::from_millis(SLOTS as u64));
        RetryBudget {
            ratio: ratio.max(0.0),
            reserve: (f64::from(min_per_sec) * window.as_secs_f64()).ceil() as u64,
            slot_len: window / SLOTS as u32,
            origin: rt::now(),
            slots: Mutex::new([(0, 0, 0); SLOTS]),
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.origin).as_nanos() / self.slot_len.as_nanos()) as u64
    }

    fn with_slot<R>(&self, now: Instant, f: impl FnOnce(&mut (u64, u64, u64), u64, u64) -> R) -> R {
        let epoch = self.epoch(now);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = epoch.saturating_sub(SLOTS as u64 - 1);
        let (mut requests, mut retries) = (0, 0);
        for s in slots.iter() {
            if s.0 >= oldest && s.0 <= epoch {
                requests += s.1;
                retries += s.2;
            }
        }
        let slot = &mut slots[(epoch % SLOTS as u64) as usize];
        if slot.0 != epoch {
            *slot = (epoch, 0, 0);
        }
        f(slot, requests, retries)
    }

    /// Records a first attempt.
    pub fn deposit(&self) {
        self.deposit_at(rt::now());
    }

    pub(crate) fn deposit_at(&self, now: Instant) {
        self.with_slot(now, |s, _, _| s.1 += 1);
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn withdraw(&self) -> bool {
        self.withdraw_at(rt::now())
    }

    pub(crate) fn withdraw_at(&self, now: Instant) -> bool {
        self.with_slot(now, |s, requests, retries| {
            let allowed = self.reserve as f64 + self.ratio * requests as f64;
            if (retries + 1) as f64 <= allowed {
                s.2 += 1;
                true
            } else {
                false
            }
        })
    }
}

impl Default for RetryBudget {
    /// 20 % of recent requests, plus 10 retries per second, over 10 s.
    fn default() -> Self {
        RetryBudget::new(0.2, 10, Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_capped_by_the_ratio() {
        let b = RetryBudget::new(0.1, 0, Duration::from_secs(10));
        let t = Instant::now();
        for _ in 0..100 {
            b.deposit_at(t);
        }
        let granted = (0..100).filter(|_| b.withdraw_at(t)).count();
        assert_eq!(granted, 10);
    }

    #[test]
    fn the_reserve_allows_retries_without_traffic() {
        let b = RetryBudget::new(0.0, 1, Duration::from_secs(10));
        let t = Instant::now();
        let granted = (0..100).filter(|_| b.withdraw_at(t)).count();
        assert_eq!(granted, 10);
    }

    #[test]
    fn the_budget_refills_as_the_window_moves() {
        let b = RetryBudget::new(0.5, 0, Duration::from_secs(1));
        let t = Instant::now();
        for _ in 0..10 {
            b.deposit_at(t);
        }
        assert_eq!((0..10).filter(|_| b.withdraw_at(t)).count(), 5);
        let later = t + Duration::from_secs(5);
        assert!(!b.withdraw_at(later), "old requests left the window");
        for _ in 0..4 {
            b.deposit_at(later);
        }
        assert_eq!((0..10).filter(|_| b.withdraw_at(later)).count(), 2);
    }
}
