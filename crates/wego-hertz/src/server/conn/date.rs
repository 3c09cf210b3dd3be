//! The per-thread `Date` clock: one formatted value per thread, refreshed
//! when the wall clock's second may have changed.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime};

use wego_netpoll::rt;

use crate::codec::DateCache;

/// The thread's `Date` value and when it must be formatted again.
struct DateNow {
    cache: DateCache,
    text: [u8; 29],
    /// The monotonic time at which the wall clock's next second begins.
    refresh_at: Option<Instant>,
}

thread_local! {
    static DATE: RefCell<DateNow> = const {
        RefCell::new(DateNow { cache: DateCache::new(), text: [0; 29], refresh_at: None })
    };
}

/// The `Date` value for now, and now.
///
/// Reads only the runtime's clock ([`rt::now`], the monotonic clock or a
/// paused test clock), which the caller needs anyway (it is when the
/// connection's idle time starts); the wall clock is read again
/// once its next second may have begun, so a wall-clock step shows within a
/// second.
pub(in crate::server) fn date_now() -> ([u8; 29], Instant) {
    let now = rt::now();
    let text = DATE.with(|d| d.borrow_mut().at(now, SystemTime::now));
    (text, now)
}

impl DateNow {
    /// The value at monotonic time `now`; `wall` is asked for the wall
    /// clock only when the cached second may be over.
    fn at(&mut self, now: Instant, wall: impl FnOnce() -> SystemTime) -> [u8; 29] {
        if self.refresh_at.is_none_or(|at| now >= at) {
            let wall = wall();
            let into_second = wall
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |t| t.subsec_nanos());
            let rest = Duration::from_nanos(u64::from(1_000_000_000 - into_second));
            self.refresh_at = Some(now + rest);
            let fresh = self.cache.get(wall);
            let n = fresh.len().min(self.text.len());
            self.text[..n].copy_from_slice(&fresh[..n]);
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: [u8; 29]) -> String {
        String::from_utf8(t.to_vec()).unwrap()
    }

    /// Driven by a synthetic pair of clocks: the wall clock is read only
    /// when its second may have ended, and a step of the wall clock shows
    /// at the next second boundary.
    #[test]
    fn follows_the_wall_clock_across_seconds() {
        let mut d = DateNow {
            cache: DateCache::new(),
            text: [0; 29],
            refresh_at: None,
        };
        let t0 = Instant::now();
        // 2026-12-04 20:00:00.400 UTC.
        let noon = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_414_400_400);
        assert_eq!(text(d.at(t0, || noon)), "Fri, 04 Dec 2026 20:00:00 GMT");
        // Within the same second: the wall clock is not read at all.
        let same = d.at(t0 + Duration::from_millis(599), || unreachable!());
        assert_eq!(text(same), "Fri, 04 Dec 2026 20:00:00 GMT");
        // The next second has begun on the monotonic clock.
        let next = d.at(t0 + Duration::from_millis(600), || {
            noon + Duration::from_millis(600)
        });
        assert_eq!(text(next), "Fri, 04 Dec 2026 20:00:01 GMT");
        // A step of the wall clock (an hour forward) shows at the next
        // boundary, one second later at most.
        let stepped = d.at(t0 + Duration::from_millis(1_600), || {
            noon + Duration::from_millis(3_601_000)
        });
        assert_eq!(text(stepped), "Fri, 04 Dec 2026 21:00:01 GMT");
    }

    #[test]
    fn date_now_reads_the_real_clocks() {
        let before = DateCache::new().get(SystemTime::now()).to_vec();
        let start = Instant::now();
        let (text, at) = date_now();
        let after = DateCache::new().get(SystemTime::now()).to_vec();
        assert!(text[..] == before[..] || text[..] == after[..], "{text:?}");
        assert!(at >= start && at <= Instant::now());
    }
}
