//! The tokio backend of the runtime facade: the work-stealing flavour's
//! runtime, and the task and timer types both flavours share.
//!
//! These are the only calls of tokio's spawn and time functions in the
//! workspace; `clippy.toml` forbids them everywhere else. The per-core
//! flavour (`per_core.rs`) runs the same functions on `current_thread`
//! runtimes: tokio's free functions reach whichever runtime the calling
//! thread is in.
#![allow(clippy::disallowed_methods)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

pub(super) type Runtime = tokio::runtime::Runtime;

/// Builds tokio's multi-thread (work-stealing) runtime.
pub(super) fn build(threads: usize, name: &str) -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
}

pub(super) fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    JoinHandle {
        inner: tokio::spawn(future),
    }
}

/// Wraps a tokio join handle (from `Handle::spawn`) in ours.
pub(super) fn wrap<T>(inner: tokio::task::JoinHandle<T>) -> JoinHandle<T> {
    JoinHandle { inner }
}

pub(super) fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    JoinHandle {
        inner: tokio::task::spawn_blocking(f),
    }
}

pub(super) fn sleep(duration: Duration) -> Sleep {
    Sleep {
        inner: tokio::time::sleep(duration),
    }
}

pub(super) fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        inner: tokio::time::sleep_until(deadline.into()),
    }
}

pub(super) fn interval(period: Duration) -> Interval {
    let mut inner = tokio::time::interval(period);
    inner.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    Interval { inner }
}

pub(super) async fn yield_now() {
    tokio::task::yield_now().await
}

/// A handle to a spawned task: await it for the task's output, or abort it.
///
/// Dropping the handle detaches the task; it keeps running.
#[derive(Debug)]
pub struct JoinHandle<T> {
    inner: tokio::task::JoinHandle<T>,
}

impl<T> JoinHandle<T> {
    /// Cancels the task at its next await point.
    pub fn abort(&self) {
        self.inner.abort();
    }

    /// Returns true if the task has finished (completed, panicked or aborted).
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner)
            .poll(cx)
            .map_err(|inner| JoinError { inner })
    }
}

/// Why a task did not return its output: it panicked or was aborted.
pub struct JoinError {
    inner: tokio::task::JoinError,
}

impl JoinError {
    /// Returns true if the task was aborted.
    pub fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }

    /// Returns true if the task panicked.
    pub fn is_panic(&self) -> bool {
        self.inner.is_panic()
    }

    /// Returns the panic payload, to resume the panic on this thread.
    ///
    /// # Errors
    ///
    /// Returns the error back when the task did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn std::any::Any + Send + 'static>, JoinError> {
        self.inner
            .try_into_panic()
            .map_err(|inner| JoinError { inner })
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_cancelled() {
            f.write_str("task was cancelled")
        } else {
            f.write_str("task panicked")
        }
    }
}

impl std::error::Error for JoinError {}

pin_project! {
    /// A timer future, from [`sleep`](super::sleep) or [`sleep_until`](super::sleep_until).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Sleep {
        #[pin]
        inner: tokio::time::Sleep,
    }
}

impl Sleep {
    /// The instant at which the timer fires.
    pub fn deadline(&self) -> Instant {
        self.inner.deadline().into_std()
    }

    /// Moves the deadline, re-arming a fired timer.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.project().inner.reset(deadline.into());
    }

    /// Returns true if the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.inner.is_elapsed()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().inner.poll(cx)
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
    pub(super) fn new(future: F, sleep: Sleep) -> Self {
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

/// A periodic timer, from [`interval`](super::interval).
#[derive(Debug)]
pub struct Interval {
    inner: tokio::time::Interval,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `tick()` consumes no tick.
    pub async fn tick(&mut self) -> Instant {
        self.inner.tick().await.into_std()
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        self.inner.poll_tick(cx).map(tokio::time::Instant::into_std)
    }

    /// Restarts the period from now.
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.inner.period()
    }
}
