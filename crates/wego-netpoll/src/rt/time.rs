//! The facade's timer types: [`Sleep`] over each backend's timer, and
//! [`Timeout`], [`Interval`] and [`Elapsed`] built on it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

#[cfg(feature = "polling")]
use super::sys::polling;

pin_project! {
    /// A timer future, from [`sleep`](super::sleep) or [`sleep_until`](super::sleep_until).
    ///
    /// # Cancel safety
    ///
    /// Dropping it disarms the timer.
    #[must_use = "futures do nothing unless polled"]
    pub struct Sleep {
        #[pin]
        inner: SleepInner,
    }
}

// pin-project-lite does not carry `cfg` on variants into the projection,
// so each combination of backends declares the enum whole.
#[cfg(all(feature = "tokio", feature = "polling"))]
pin_project! {
    #[project = SleepProj]
    enum SleepInner {
        Tokio { #[pin] sleep: tokio::time::Sleep },
        Polling { sleep: polling::Sleep },
    }
}

#[cfg(all(feature = "tokio", not(feature = "polling")))]
pin_project! {
    #[project = SleepProj]
    enum SleepInner {
        Tokio { #[pin] sleep: tokio::time::Sleep },
    }
}

#[cfg(all(not(feature = "tokio"), feature = "polling"))]
pin_project! {
    #[project = SleepProj]
    enum SleepInner {
        Polling { sleep: polling::Sleep },
    }
}

impl Sleep {
    #[cfg(feature = "tokio")]
    pub(crate) fn from_tokio(sleep: tokio::time::Sleep) -> Self {
        Self {
            inner: SleepInner::Tokio { sleep },
        }
    }

    #[cfg(feature = "polling")]
    pub(crate) fn from_polling(sleep: polling::Sleep) -> Self {
        Self {
            inner: SleepInner::Polling { sleep },
        }
    }

    /// The instant at which the timer fires.
    pub fn deadline(&self) -> Instant {
        match &self.inner {
            #[cfg(feature = "tokio")]
            SleepInner::Tokio { sleep } => sleep.deadline().into_std(),
            #[cfg(feature = "polling")]
            SleepInner::Polling { sleep } => sleep.deadline(),
        }
    }

    /// Moves the deadline, re-arming a fired timer.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        match self.project().inner.project() {
            #[cfg(feature = "tokio")]
            SleepProj::Tokio { sleep } => sleep.reset(deadline.into()),
            #[cfg(feature = "polling")]
            SleepProj::Polling { sleep } => sleep.reset(deadline),
        }
    }

    /// Returns true if the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        match &self.inner {
            #[cfg(feature = "tokio")]
            SleepInner::Tokio { sleep } => sleep.is_elapsed(),
            #[cfg(feature = "polling")]
            SleepInner::Polling { sleep } => sleep.is_elapsed(),
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project().inner.project() {
            #[cfg(feature = "tokio")]
            SleepProj::Tokio { sleep } => sleep.poll(cx),
            #[cfg(feature = "polling")]
            SleepProj::Polling { sleep } => Pin::new(sleep).poll(cx),
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .finish()
    }
}

pin_project! {
    /// A future with a deadline, from [`timeout`](super::timeout).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        #[pin]
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    pub(crate) fn new(future: F, sleep: Sleep) -> Self {
        Self { future, sleep }
    }

    /// Returns the wrapped future, dropping the deadline.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The error of a [`Timeout`] whose deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// How far ahead a deadline that an [`Instant`] cannot hold is put: about
/// 30 years, as tokio's `Instant::far_future`. Nothing waits that long, so
/// such a deadline means "never"; a longer duration handed to code that
/// adds it to an `Instant` unchecked can be clamped to it.
pub const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `from + after`, or [`FAR_FUTURE`] after `from` when an [`Instant`]
/// cannot hold the sum (`Duration::MAX`, say): a deadline that never comes,
/// where the plain sum would panic.
pub(crate) fn saturating_deadline(from: Instant, after: Duration) -> Instant {
    from.checked_add(after)
        .or_else(|| from.checked_add(FAR_FUTURE))
        // An `Instant` spans hundreds of years past boot on every platform
        // Rust supports: 30 more years always fit. Were they not to, the
        // latest deadline it can hold is `from` itself.
        .unwrap_or(from)
}

/// How late a tick may be and still count as on time (tokio's choice).
const LATE: Duration = Duration::from_millis(5);

/// A periodic timer, from [`interval`](super::interval).
///
/// The first tick completes at once. A tick that comes late (the consumer
/// was slow) moves the schedule: the next tick is one period after the late
/// one, so missed ticks are delayed, not bursted. A period too long for an
/// [`Instant`] (`Duration::MAX`, say) puts the next tick about 30 years
/// ahead, as [`sleep`](super::sleep) clamps a deadline: in practice never.
#[derive(Debug)]
pub struct Interval {
    sleep: Pin<Box<Sleep>>,
    /// The scheduled instant of the next tick.
    next: Instant,
    period: Duration,
}

impl Interval {
    pub(crate) fn new(period: Duration) -> Self {
        assert!(
            !period.is_zero(),
            "rt::interval: the period must be non-zero"
        );
        let now = super::now();
        Self {
            sleep: Box::pin(super::sleep_until(now)),
            next: now,
            period,
        }
    }

    /// Waits for the next tick and returns its scheduled instant.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `tick()` consumes no tick.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let tick = self.next;
        let now = super::now();
        // On time (within the timer's resolution): keep the schedule. Late:
        // delay it, so that the next tick is a full period after this one.
        self.next = if now.saturating_duration_since(tick) > LATE {
            saturating_deadline(now, self.period)
        } else {
            saturating_deadline(tick, self.period)
        };
        let deadline = self.next;
        self.sleep.as_mut().reset(deadline);
        Poll::Ready(tick)
    }

    /// Restarts the period from now.
    pub fn reset(&mut self) {
        self.next = saturating_deadline(super::now(), self.period);
        let deadline = self.next;
        self.sleep.as_mut().reset(deadline);
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }
}
