//! The circuit breaker state machine (no I/O; the `*_at` methods take the
//! instant, so the unit tests need no clock).
//!
//! ```text
//!            failures ≥ threshold                 cool-down passed
//!  Closed ───────────────────────────▶ Open ───────────────────────▶ HalfOpen
//!    ▲                                  ▲                              │
//!    │        enough probe successes    │      a probe fails           │
//!    └──────────────────────────────────┼──────────────────────────────┤
//!                                       └──────────────────────────────┘
//! ```
//!
//! Closed trips on either trigger: `consecutive_failures` failures in a row,
//! or an error rate ≥ `error_rate` over the sliding window once it holds at
//! least `min_requests` calls. HalfOpen lets `half_open_probes` calls through
//! at a time; `half_open_probes` successes close it, one failure reopens it.
//!
//! Every state change starts a new generation, and each admitted call
//! carries the generation it was admitted in (its [`Admission`]). An
//! outcome counts only in the generation it was admitted in, as in Go's
//! `sony/gobreaker`: a call admitted while closed that answers after the
//! breaker opened and went half-open is no probe, and neither closes nor
//! reopens it nor frees a probe slot.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wego_netpoll::rt;

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls pass; outcomes are counted.
    Closed,
    /// Calls are refused until the cool-down passes.
    Open,
    /// A few probe calls pass to test recovery.
    HalfOpen,
}

impl BreakerState {
    /// The state as a lowercase name (`closed`, `open`, `half_open`).
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// The state as a gauge value: 0 closed, 1 open, 2 half-open.
    pub fn as_gauge(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A state change, as reported to a [`BreakerObserver`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BreakerEvent {
    /// Which breaker: a service name, or `service/address` per instance.
    pub scope: Arc<str>,
    /// The previous state.
    pub from: BreakerState,
    /// The new state.
    pub to: BreakerState,
}

/// Receives breaker state changes (metrics, logs, tests).
pub type BreakerObserver = Arc<dyn Fn(&BreakerEvent) + Send + Sync>;

/// When a breaker trips and how it recovers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BreakerConfig {
    /// Length of the sliding window for the error rate, on the runtime's
    /// clock ([`rt::now`]).
    pub window: Duration,
    /// Calls the window must hold before the error rate may trip it.
    pub min_requests: u32,
    /// Error rate (0.0–1.0) that trips it.
    pub error_rate: f64,
    /// Failures in a row that trip it (0 disables the trigger).
    pub consecutive_failures: u32,
    /// Time spent open before probing, on the runtime's clock
    /// ([`rt::now`]).
    pub cool_down: Duration,
    /// Concurrent probes in half-open, and the successes that close it.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window: Duration::from_secs(10),
            min_requests: 20,
            error_rate: 0.5,
            consecutive_failures: 5,
            cool_down: Duration::from_secs(5),
            half_open_probes: 1,
        }
    }
}

impl BreakerConfig {
    /// Sets the sliding window length.
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }
    /// Sets the minimum sample for the error-rate trigger.
    pub fn with_min_requests(mut self, n: u32) -> Self {
        self.min_requests = n;
        self
    }
    /// Sets the error rate that trips the breaker (clamped to 0.0–1.0).
    pub fn with_error_rate(mut self, rate: f64) -> Self {
        self.error_rate = rate.clamp(0.0, 1.0);
        self
    }
    /// Sets the consecutive-failure trigger (0 disables it).
    pub fn with_consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive_failures = n;
        self
    }
    /// Sets the cool-down.
    pub fn with_cool_down(mut self, d: Duration) -> Self {
        self.cool_down = d;
        self
    }
    /// Sets the number of half-open probes (at least 1).
    pub fn with_half_open_probes(mut self, n: u32) -> Self {
        self.half_open_probes = n.max(1);
        self
    }
}

const BUCKETS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    epoch: u64,
    ok: u32,
    failed: u32,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    opened_at: Instant,
    consecutive: u32,
    buckets: [Bucket; BUCKETS],
    probes_in_flight: u32,
    probe_successes: u32,
    /// Counts state changes; an [`Admission`] carries the value it saw.
    generation: u64,
}

/// A call a [`CircuitBreaker`] let through: hand it back with the call's
/// outcome to [`CircuitBreaker::record`].
///
/// It names the breaker's generation (the state it was admitted in), so an
/// outcome that arrives after the breaker changed state is not counted
/// against the new state.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "record the call's outcome with CircuitBreaker::record"]
pub struct Admission {
    generation: u64,
}

/// One circuit breaker: a service's or an instance's.
///
/// It reads time from the runtime's clock ([`rt::now`]), so a paused test
/// clock drives its cool-down and its window.
pub struct CircuitBreaker {
    scope: Arc<str>,
    config: BreakerConfig,
    origin: Instant,
    inner: Mutex<Inner>,
    observer: Option<BreakerObserver>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("scope", &self.scope)
            .field("state", &self.state())
            .finish()
    }
}

/// What a call's outcome means to a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The callee answered.
    Success,
    /// The callee failed in a way that counts against its health.
    Failure,
    /// The call ended without saying anything about the callee's health
    /// (a business error, a cancelled call).
    Ignored,
}

impl CircuitBreaker {
    /// Creates a closed breaker.
    pub fn new(scope: impl Into<Arc<str>>, config: BreakerConfig) -> Self {
        let now = rt::now();
        CircuitBreaker {
            scope: scope.into(),
            config,
            origin: now,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                opened_at: now,
                consecutive: 0,
                buckets: [Bucket::default(); BUCKETS],
                probes_in_flight: 0,
                probe_successes: 0,
                generation: 0,
            }),
            observer: None,
        }
    }

    /// Reports state changes to `observer`.
    pub fn with_observer(mut self, observer: Option<BreakerObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// The breaker's scope name.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the cool-down since the breaker opened has passed at `now`
    /// (never, for a cool-down too long for an `Instant`: measured as time
    /// elapsed, not as a deadline that would overflow).
    fn cooled_down(&self, s: &Inner, now: Instant) -> bool {
        now.saturating_duration_since(s.opened_at) >= self.config.cool_down
    }

    /// The current state (an open breaker whose cool-down passed still reads
    /// `Open` until a call probes it).
    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// True if a call would be let through now (without taking a probe slot).
    pub fn is_call_permitted(&self) -> bool {
        self.is_call_permitted_at(rt::now())
    }

    pub(crate) fn is_call_permitted_at(&self, now: Instant) -> bool {
        let s = self.lock();
        match s.state {
            BreakerState::Closed => true,
            BreakerState::Open => self.cooled_down(&s, now),
            BreakerState::HalfOpen => s.probes_in_flight < self.config.half_open_probes,
        }
    }

    /// Asks to make a call: `Some` means go, and the caller must then hand
    /// the [`Admission`] back with the call's outcome to
    /// [`record`](Self::record), once; `None` means refused.
    pub fn try_acquire(&self) -> Option<Admission> {
        self.try_acquire_at(rt::now())
    }

    pub(crate) fn try_acquire_at(&self, now: Instant) -> Option<Admission> {
        let mut s = self.lock();
        match s.state {
            BreakerState::Closed => {}
            BreakerState::Open => {
                if !self.cooled_down(&s, now) {
                    return None;
                }
                self.transition(&mut s, BreakerState::HalfOpen, now);
                s.probes_in_flight = 1;
            }
            BreakerState::HalfOpen => {
                if s.probes_in_flight >= self.config.half_open_probes {
                    return None;
                }
                s.probes_in_flight += 1;
            }
        }
        Some(Admission {
            generation: s.generation,
        })
    }

    /// Records the outcome of a call [`try_acquire`](Self::try_acquire)
    /// admitted. An outcome from an earlier state (the breaker opened, or
    /// went half-open, since the call was admitted) is not counted.
    pub fn record(&self, admission: Admission, outcome: Outcome) {
        self.record_at(admission, outcome, rt::now());
    }

    pub(crate) fn record_at(&self, admission: Admission, outcome: Outcome, now: Instant) {
        let mut s = self.lock();
        if admission.generation != s.generation {
            // Admitted in an earlier state: nothing to learn about this one.
            return;
        }
        match s.state {
            BreakerState::Closed => {
                if outcome == Outcome::Ignored {
                    return;
                }
                let bucket_len =
                    (self.config.window / BUCKETS as u32).max(Duration::from_millis(1));
                let epoch = (now.saturating_duration_since(self.origin).as_nanos()
                    / bucket_len.as_nanos()) as u64;
                let b = &mut s.buckets[(epoch % BUCKETS as u64) as usize];
                if b.epoch != epoch {
                    *b = Bucket {
                        epoch,
                        ok: 0,
                        failed: 0,
                    };
                }
                if outcome == Outcome::Success {
                    b.ok += 1;
                    s.consecutive = 0;
                    return;
                }
                b.failed += 1;
                s.consecutive += 1;
                let oldest = epoch.saturating_sub(BUCKETS as u64 - 1);
                let (ok, failed) = s
                    .buckets
                    .iter()
                    .filter(|b| b.epoch >= oldest && b.epoch <= epoch)
                    .fold((0u64, 0u64), |(o, f), b| {
                        (o + u64::from(b.ok), f + u64::from(b.failed))
                    });
                let total = ok + failed;
                let by_rate = total >= u64::from(self.config.min_requests.max(1))
                    && failed as f64 >= self.config.error_rate * total as f64;
                let by_streak = self.config.consecutive_failures > 0
                    && s.consecutive >= self.config.consecutive_failures;
                if by_rate || by_streak {
                    self.trip(&mut s, now);
                }
            }
            BreakerState::HalfOpen => {
                s.probes_in_flight = s.probes_in_flight.saturating_sub(1);
                match outcome {
                    Outcome::Failure => self.trip(&mut s, now),
                    Outcome::Success => {
                        s.probe_successes += 1;
                        if s.probe_successes >= self.config.half_open_probes {
                            s.consecutive = 0;
                            s.buckets = [Bucket::default(); BUCKETS];
                            self.transition(&mut s, BreakerState::Closed, now);
                        }
                    }
                    Outcome::Ignored => {}
                }
            }
            // No call is admitted while open (a probe makes it half-open
            // first), so no admission names an open generation.
            BreakerState::Open => {}
        }
    }

    fn trip(&self, s: &mut Inner, now: Instant) {
        s.opened_at = now;
        self.transition(s, BreakerState::Open, now);
    }

    fn transition(&self, s: &mut Inner, to: BreakerState, _now: Instant) {
        let from = s.state;
        s.state = to;
        s.probes_in_flight = 0;
        s.probe_successes = 0;
        if from == to {
            return;
        }
        s.generation += 1;
        if to == BreakerState::Open {
            tracing::warn!(scope = %self.scope, %from, "circuit breaker opened");
        } else {
            tracing::info!(scope = %self.scope, %from, %to, "circuit breaker changed state");
        }
        if let Some(obs) = &self.observer {
            obs(&BreakerEvent {
                scope: self.scope.clone(),
                from,
                to,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig::default()
            .with_min_requests(10)
            .with_error_rate(0.5)
            .with_consecutive_failures(0)
            .with_cool_down(Duration::from_secs(1))
    }

    /// A call admitted and answered at `t`.
    fn call(b: &CircuitBreaker, outcome: Outcome, t: Instant) {
        let admitted = b.try_acquire_at(t).expect("the breaker admits the call");
        b.record_at(admitted, outcome, t);
    }

    #[test]
    fn error_rate_needs_the_minimum_sample() {
        let b = CircuitBreaker::new("s", cfg());
        let t = Instant::now();
        for _ in 0..9 {
            call(&b, Outcome::Failure, t);
        }
        assert_eq!(b.state(), BreakerState::Closed, "9 < min_requests");
        call(&b, Outcome::Failure, t);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire_at(t).is_none());
    }

    #[test]
    fn error_rate_below_threshold_stays_closed() {
        let b = CircuitBreaker::new("s", cfg());
        let t = Instant::now();
        for i in 0..100 {
            call(
                &b,
                if i % 3 == 0 {
                    Outcome::Failure
                } else {
                    Outcome::Success
                },
                t,
            );
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_cool_down_of_duration_max_keeps_it_open() {
        let b = CircuitBreaker::new(
            "s",
            cfg()
                .with_consecutive_failures(1)
                .with_cool_down(Duration::MAX),
        );
        let t = Instant::now();
        call(&b, Outcome::Failure, t);
        assert_eq!(b.state(), BreakerState::Open);
        let century = t + Duration::from_secs(100 * 365 * 24 * 3600);
        assert!(!b.is_call_permitted_at(century));
        assert!(b.try_acquire_at(century).is_none());
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let b = CircuitBreaker::new("s", cfg().with_window(Duration::from_secs(10)));
        let t = Instant::now();
        for _ in 0..5 {
            call(&b, Outcome::Failure, t);
        }
        let later = t + Duration::from_secs(30);
        for _ in 0..6 {
            call(&b, Outcome::Success, later);
        }
        for _ in 0..4 {
            call(&b, Outcome::Failure, later);
        }
        assert_eq!(b.state(), BreakerState::Closed, "4 of 10 in the window");
    }

    #[test]
    fn consecutive_failures_trip_and_success_resets() {
        let b = CircuitBreaker::new(
            "s",
            cfg().with_consecutive_failures(3).with_min_requests(1000),
        );
        let t = Instant::now();
        call(&b, Outcome::Failure, t);
        call(&b, Outcome::Failure, t);
        call(&b, Outcome::Success, t);
        call(&b, Outcome::Failure, t);
        call(&b, Outcome::Failure, t);
        assert_eq!(b.state(), BreakerState::Closed);
        call(&b, Outcome::Failure, t);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn half_open_probes_then_closes_or_reopens() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        let obs: BreakerObserver =
            Arc::new(move |e: &BreakerEvent| ev.lock().unwrap().push((e.from, e.to)));
        let b = CircuitBreaker::new(
            "s",
            cfg().with_consecutive_failures(1).with_half_open_probes(2),
        )
        .with_observer(Some(obs));
        let t = Instant::now();
        call(&b, Outcome::Failure, t);
        assert!(!b.is_call_permitted_at(t + Duration::from_millis(999)));
        let t2 = t + Duration::from_secs(1);
        assert!(b.is_call_permitted_at(t2));
        let p1 = b.try_acquire_at(t2).expect("a probe");
        let p2 = b.try_acquire_at(t2).expect("two probes");
        assert!(b.try_acquire_at(t2).is_none(), "no third probe");
        b.record_at(p1, Outcome::Success, t2);
        assert_eq!(b.state(), HalfOpen);
        b.record_at(p2, Outcome::Failure, t2);
        assert_eq!(b.state(), Open, "a failed probe reopens");
        let t3 = t2 + Duration::from_secs(1);
        let p1 = b.try_acquire_at(t3).expect("a probe");
        let p2 = b.try_acquire_at(t3).expect("two probes");
        b.record_at(p1, Outcome::Success, t3);
        b.record_at(p2, Outcome::Success, t3);
        assert_eq!(b.state(), Closed);
        use BreakerState::*;
        assert_eq!(
            *events.lock().unwrap(),
            vec![
                (Closed, Open),
                (Open, HalfOpen),
                (HalfOpen, Open),
                (Open, HalfOpen),
                (HalfOpen, Closed)
            ]
        );
    }

    #[test]
    fn outcomes_count_only_in_the_state_that_admitted_the_call() {
        let b = CircuitBreaker::new("s", cfg().with_consecutive_failures(1));
        let t = Instant::now();
        let before = b.try_acquire_at(t).expect("closed");
        let also_before = b.try_acquire_at(t).expect("closed");
        call(&b, Outcome::Failure, t);
        assert_eq!(b.state(), BreakerState::Open);
        let t2 = t + Duration::from_secs(1);
        let probe = b.try_acquire_at(t2).expect("the probe");
        // Late answers from before the trip: no close, no reopen, and the
        // probe slot stays taken.
        b.record_at(before, Outcome::Success, t2);
        b.record_at(also_before, Outcome::Failure, t2);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.try_acquire_at(t2).is_none(), "one probe at a time");
        b.record_at(probe, Outcome::Success, t2);
        assert_eq!(b.state(), BreakerState::Closed);
        // A call from before the trip that fails after the breaker closed
        // again does not trip the new closed state.
        let b = CircuitBreaker::new("s", cfg().with_consecutive_failures(1));
        let old = b.try_acquire_at(t).expect("closed");
        call(&b, Outcome::Failure, t);
        call(&b, Outcome::Success, t2);
        assert_eq!(b.state(), BreakerState::Closed);
        b.record_at(old, Outcome::Failure, t2);
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
