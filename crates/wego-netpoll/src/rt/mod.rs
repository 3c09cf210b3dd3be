//! The runtime facade: spawning tasks, timers, and running a runtime.
//!
//! Upper crates (hertz, kitex, governance) call only these functions, never
//! `tokio::spawn` or `tokio::time` directly (the workspace's `clippy.toml`
//! forbids it), so that the network backend can be swapped.
//!
//! # Flavours: per-core (default) or work-stealing
//!
//! A [`Runtime`] on the tokio backend schedules tasks in one of two ways,
//! picked with [`Builder::flavor`]:
//!
//! - [`Flavor::PerCore`] (the default for [`Runtime::builder`] and
//!   [`block_on`]): N worker threads, each a tokio `current_thread` runtime
//!   with its own poller, timers and blocking pool, the model of actix-web
//!   and of Netpoll's per-poller loops. A task stays on the worker that
//!   spawned it; accept loops place each connection with
//!   [`spawn_connection`] on the worker with the fewest live connections,
//!   where all of its I/O happens. Every worker's run queue is unbounded and
//!   FIFO, so with 1,000 busy keep-alive connections none waits behind a
//!   bounded local queue's overflow: tail latency stays low. Servers are what
//!   this runtime is for, hence the default.
//! - [`Flavor::WorkStealing`]: tokio's multi-thread scheduler. Idle workers
//!   steal tasks from busy ones. Pick it when handlers are CPU-heavy and
//!   uneven (one request may compute for milliseconds while others wait
//!   behind it on a per-core worker), when a few connections carry most of
//!   the load (a multiplexed RPC client or a single HTTP/2 connection), or
//!   for clients and tools that are not servers.
//!
//! [`Runtime::block_on`] takes no `Send` bound in either flavour: on a
//! per-core runtime the future runs on the caller's thread with worker 0's
//! poller and timers (driven by worker 0's thread), and [`spawn`] there
//! spawns on worker 0. [`Runtime::spawn`] spreads tasks round-robin over the
//! workers.
//!
//! # Backend contract
//!
//! A backend is a module under `rt/sys/` (`tokio/` and `polling/`, side by
//! side as in mio's `sys/`) that provides, for the tasks it runs:
//!
//! 1. **Tasks**: `spawn` of a `Send + 'static` future from any thread inside
//!    the runtime, returning a [`JoinHandle`] that can be awaited or aborted
//!    (an aborted task ends at its next await point and its handle reports
//!    [`JoinError::is_cancelled`]; a panicking task reports
//!    [`JoinError::is_panic`] and its worker lives on, as does an aborted
//!    task whose future panics while it is dropped, as on tokio);
//!    `spawn_blocking` on a separate thread pool.
//! 2. **Timers**: [`sleep`] / [`sleep_until`] futures that never fire before
//!    their deadline and fire within a millisecond of it on an idle worker,
//!    on which [`timeout`] and [`interval`] are built. Timers must be cheap
//!    to create and drop (one per request is normal).
//! 3. **Sockets**: the [`net`](crate::net) types' registration with the
//!    backend's poller, tokio's `AsyncRead` / `AsyncWrite` (vectored writes
//!    included) on [`Conn`](crate::Conn), half-close by
//!    `shutdown()`, and `is_active` without consuming data; a connection
//!    stays on the thread (loop) that accepted or dialed it when the backend
//!    has per-thread loops, unless [`spawn_connection`] moves it, once, to
//!    the loop that will serve it.
//! 4. **Entry**: a [`Runtime`] built by [`Builder`] with N worker threads that
//!    runs a future to completion with [`Runtime::block_on`] (no `Send`
//!    bound), spawns from outside with [`Runtime::spawn`], and stops and
//!    joins its threads when dropped or shut down, dropping the tasks still
//!    running.
//!
//! The integration test `contract.rs` checks each of these on every
//! backend. When several backends are compiled in, [`Builder::backend`]
//! picks one at run time (default `Backend::Tokio` when the `tokio`
//! feature is on); the free functions here dispatch to the backend of the
//! runtime the caller runs on. Calling them outside any runtime panics, as
//! tokio's do.
//!
//! # Backends
//!
//! - `Backend::Tokio` (feature `tokio`, default): both flavours above, on
//!   tokio's runtime and `tokio::net`.
//! - `Backend::Polling` (feature `polling`): wego's own event loops on
//!   the `polling` crate, Netpoll's design: one loop per worker thread, each
//!   with its own poller (epoll, kqueue), FIFO run queue and timers; no
//!   tokio runtime underneath. It schedules per loop only: tasks never
//!   migrate, which is [`Flavor::PerCore`]; [`Flavor::WorkStealing`] is
//!   refused by [`Builder::build`]. Unix only.
//!
//! **What does not run on the polling backend**: code that needs tokio's
//! own runtime, i.e. `tokio::spawn`, `tokio::time`, `tokio::net`,
//! `tokio::fs`, `tokio::signal` or `tokio::task::spawn_blocking` called
//! directly. Such calls panic with tokio's "there is no reactor running"
//! message; wego's crates never make them (clippy's `disallowed-methods`
//! forbids them), and code on wego uses this facade instead. tokio's I/O
//! traits, `tokio::sync` and `tokio::select!`/`join!` need no runtime and
//! work on both backends.

use std::future::Future;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use crate::{Error, Result};

mod batched;
mod connection;
mod gate;
pub(crate) mod sys;
mod task;
mod time;

pub use batched::{Batched, batched};
pub use connection::spawn_connection;
pub use gate::{Gated, Gates};
pub use task::{JoinError, JoinHandle};
pub use time::{Elapsed, FAR_FUTURE, Interval, Sleep, Timeout};

use sys::Which;
#[cfg(feature = "polling")]
use sys::polling;
#[cfg(feature = "tokio")]
use sys::tokio as tokio_rt;
#[cfg(feature = "tokio")]
use sys::tokio::per_core;

/// Which network backend a [`Runtime`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// tokio's runtime and `tokio::net` (feature `tokio`, the default).
    #[cfg(feature = "tokio")]
    Tokio,
    /// wego's own event loops on the `polling` crate (feature `polling`).
    #[cfg(feature = "polling")]
    Polling,
}

impl Default for Backend {
    /// `Backend::Tokio` when compiled in, else `Backend::Polling`.
    fn default() -> Self {
        Backend::enabled()[0]
    }
}

impl Backend {
    /// Every backend compiled into this build, default first.
    pub fn enabled() -> &'static [Backend] {
        &[
            #[cfg(feature = "tokio")]
            Backend::Tokio,
            #[cfg(feature = "polling")]
            Backend::Polling,
        ]
    }

    /// The backend's name, as used in logs and test names.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "tokio")]
            Backend::Tokio => "tokio",
            #[cfg(feature = "polling")]
            Backend::Polling => "polling",
        }
    }

    /// The flavours this backend schedules with, default first: both on
    /// tokio, [`Flavor::PerCore`] only on polling (its loops never share
    /// tasks).
    pub fn flavors(self) -> &'static [Flavor] {
        match self {
            #[cfg(feature = "tokio")]
            Backend::Tokio => Flavor::all(),
            #[cfg(feature = "polling")]
            Backend::Polling => &[Flavor::PerCore],
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = Error;

    /// Parses a backend compiled into this build: `tokio` or `polling`.
    ///
    /// # Errors
    ///
    /// A backend this build lacks is named as such ("this binary was built
    /// without the polling backend"), with the cargo feature that brings it
    /// in; any other name is unknown.
    fn from_str(s: &str) -> Result<Self> {
        if let Some(b) = Backend::enabled().iter().copied().find(|b| b.name() == s) {
            return Ok(b);
        }
        if ["tokio", "polling"].contains(&s) {
            return Err(Error::runtime_config(format!(
                "this binary was built without the {s} backend: enable the `{s}` cargo feature"
            )));
        }
        let names: Vec<&str> = Backend::enabled().iter().map(|b| b.name()).collect();
        Err(Error::runtime_config(format!(
            "unknown backend {s:?}: expected {}",
            names.join(" or ")
        )))
    }
}

/// How a [`Runtime`] schedules tasks over its worker threads.
///
/// See the [module docs](self#flavours-per-core-default-or-work-stealing)
/// for when to pick which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Flavor {
    /// Thread-per-core (the default): each worker thread runs its own
    /// single-threaded scheduler, poller and timers; tasks never migrate.
    #[default]
    PerCore,
    /// tokio's multi-thread scheduler: workers share one poller and steal
    /// tasks from each other.
    WorkStealing,
}

impl Flavor {
    /// Both flavours, default first.
    pub fn all() -> &'static [Flavor] {
        &[Flavor::PerCore, Flavor::WorkStealing]
    }

    /// The flavour's name: `per-core` or `work-stealing`.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::PerCore => "per-core",
            Flavor::WorkStealing => "work-stealing",
        }
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Flavor {
    type Err = Error;

    /// Parses `per-core` or `work-stealing`.
    fn from_str(s: &str) -> Result<Self> {
        Flavor::all()
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                Error::runtime_config(format!(
                    "unknown runtime flavour {s:?}: expected per-core or work-stealing"
                ))
            })
    }
}

/// Builds a [`Runtime`].
#[derive(Debug, Clone)]
pub struct Builder {
    backend: Backend,
    flavor: Flavor,
    worker_threads: Option<NonZeroUsize>,
    thread_name: String,
    eager_reads: bool,
}

/// Whether the polling backend reads eagerly unless told otherwise
/// ([`Builder::eager_reads`]; docs/netpoll.md has the measurements).
const EAGER_READS_DEFAULT: bool = false;

impl Default for Builder {
    fn default() -> Self {
        Self {
            backend: Backend::default(),
            flavor: Flavor::default(),
            worker_threads: None,
            thread_name: "wego-worker".to_owned(),
            eager_reads: EAGER_READS_DEFAULT,
        }
    }
}

impl Builder {
    /// Picks the network backend (default `Backend::Tokio`).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Picks how tasks are scheduled (default [`Flavor::PerCore`]).
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Sets the number of worker threads (default: one per core).
    pub fn worker_threads(mut self, n: NonZeroUsize) -> Self {
        self.worker_threads = Some(n);
        self
    }

    /// Sets the name of the worker threads (default `wego-worker`; per-core
    /// workers append their index, `wego-worker-0`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Polling backend: whether a loop reads a readable connection into
    /// the connection's buffer ([`LinkBuffer`](crate::LinkBuffer)) before
    /// the connection's task runs, Netpoll's nocopy model (default off).
    ///
    /// With eager reads, a task's read takes bytes the loop has already
    /// read, with no system call; end of stream and errors come after the
    /// bytes that preceded them. At most 64 KiB, in at most 1024 reads,
    /// are buffered per connection: past that the loop stops reading that
    /// connection (the kernel and TCP flow control hold the rest) until its
    /// task drains the buffer. Without them, a task's read calls `recv` into its own
    /// buffer. The tokio backend ignores this setting.
    pub fn eager_reads(mut self, on: bool) -> Self {
        self.eager_reads = on;
        self
    }

    /// Builds the runtime.
    ///
    /// # Errors
    ///
    /// Fails if the backend cannot create its threads or poller, or if the
    /// backend does not schedule in the asked flavour
    /// ([`Backend::flavors`]: the polling backend has no work-stealing).
    pub fn build(self) -> Result<Runtime> {
        let threads = self
            .worker_threads
            .or_else(|| std::thread::available_parallelism().ok())
            .map_or(1, NonZeroUsize::get);
        if !self.backend.flavors().contains(&self.flavor) {
            return Err(Error::runtime_config(format!(
                "the {} backend has no {} flavour: its loops never share tasks",
                self.backend, self.flavor
            )));
        }
        let inner = match self.backend {
            #[cfg(feature = "tokio")]
            Backend::Tokio => match self.flavor {
                Flavor::WorkStealing => tokio_rt::build(threads, &self.thread_name)
                    .map(Inner::WorkStealing)
                    .map_err(|e| Error::runtime("cannot build the tokio runtime", e))?,
                Flavor::PerCore => per_core::build(threads, &self.thread_name)
                    .map(Inner::PerCore)
                    .map_err(|e| Error::runtime("cannot build the per-core tokio runtime", e))?,
            },
            #[cfg(feature = "polling")]
            Backend::Polling => {
                let options = polling::Options {
                    eager_reads: self.eager_reads,
                };
                polling::build(threads, &self.thread_name, options)
                    .map(Inner::Polling)
                    .map_err(|e| Error::runtime("cannot build the polling runtime", e))?
            }
        };
        Ok(Runtime {
            backend: self.backend,
            flavor: self.flavor,
            threads,
            inner,
        })
    }
}

/// A runtime: worker threads, pollers and timers, on one [`Backend`] and in
/// one [`Flavor`].
///
/// Dropping it stops every worker, cancels the tasks still running (they are
/// dropped at their next await point), waits for blocking tasks, and joins
/// the worker threads; [`shutdown_timeout`](Self::shutdown_timeout) bounds
/// the wait for blocking tasks.
#[derive(Debug)]
pub struct Runtime {
    backend: Backend,
    flavor: Flavor,
    threads: usize,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    #[cfg(feature = "tokio")]
    WorkStealing(tokio_rt::Runtime),
    #[cfg(feature = "tokio")]
    PerCore(per_core::Runtime),
    #[cfg(feature = "polling")]
    Polling(polling::Runtime),
}

impl Runtime {
    /// Returns a builder with the defaults: the default backend, per-core
    /// flavour, one worker per core.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The backend this runtime runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How this runtime schedules tasks.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The number of worker threads.
    pub fn worker_threads(&self) -> usize {
        self.threads
    }

    /// Runs a future to completion on this runtime, blocking the caller.
    ///
    /// The future runs on the caller's thread. Tasks it spawns run on the
    /// workers: on a per-core or polling runtime, on worker 0, whose poller
    /// and timers also serve the future's own sockets and sleeps.
    ///
    /// # Panics
    ///
    /// Panics if called from inside a runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::WorkStealing(rt) => rt.block_on(future),
            #[cfg(feature = "tokio")]
            Inner::PerCore(rt) => rt.block_on(future),
            #[cfg(feature = "polling")]
            Inner::Polling(rt) => rt.block_on(future),
        }
    }

    /// Spawns a task on this runtime from outside it; on a per-core or
    /// polling runtime successive calls go to the workers in round-robin
    /// order.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.inner {
            #[cfg(feature = "tokio")]
            Inner::WorkStealing(rt) => JoinHandle::from_tokio(rt.spawn(future)),
            #[cfg(feature = "tokio")]
            Inner::PerCore(rt) => JoinHandle::from_tokio(rt.spawn(future)),
            #[cfg(feature = "polling")]
            Inner::Polling(rt) => JoinHandle::from_polling(rt.spawn(future)),
        }
    }

    /// Shuts the runtime down: stops every worker and joins its thread,
    /// waiting at most `timeout` for blocking tasks (for as long as they
    /// take with a timeout too long for an [`Instant`], `Duration::MAX`).
    pub fn shutdown_timeout(self, timeout: Duration) {
        match self.inner {
            #[cfg(feature = "tokio")]
            Inner::WorkStealing(rt) => rt.shutdown_timeout(timeout),
            #[cfg(feature = "tokio")]
            Inner::PerCore(rt) => rt.shutdown_timeout(timeout),
            #[cfg(feature = "polling")]
            Inner::Polling(rt) => rt.shutdown_timeout(timeout),
        }
    }
}

/// Builds a default runtime (default backend, per-core, one worker per
/// core) and runs `future` on it: the `main` entry point.
///
/// # Errors
///
/// Fails if the runtime cannot be built.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    Ok(Runtime::builder().build()?.block_on(future))
}

/// Spawns a task on the current runtime.
///
/// On a per-core or polling runtime the task runs on the calling worker (on
/// worker 0 when called from [`Runtime::block_on`]'s future). Accept loops
/// use [`spawn_connection`] instead, which spreads connections over the
/// workers.
///
/// # Panics
///
/// Panics if called outside a runtime.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => tokio_rt::spawn(future),
        #[cfg(feature = "polling")]
        Which::Polling => JoinHandle::from_polling(polling::spawn(future)),
    }
}

/// Runs blocking code on the runtime's blocking pool.
///
/// Each call runs on a thread of its own while the pool is below its cap
/// (512 threads on either backend): a call goes to an idle thread only if
/// no earlier call has claimed it, else a new thread starts, so calls that
/// wait for each other do not deadlock.
///
/// # Panics
///
/// Panics if called outside a runtime.
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => tokio_rt::spawn_blocking(f),
        #[cfg(feature = "polling")]
        Which::Polling => JoinHandle::from_polling(polling::spawn_blocking(f)),
    }
}

/// Returns a future that completes after `duration`.
///
/// A duration too long for an [`Instant`] (`Duration::MAX`, say) sleeps
/// until about 30 years from now on every backend, as tokio clamps it:
/// in practice for ever.
///
/// # Panics
///
/// Panics if called outside a runtime.
pub fn sleep(duration: Duration) -> Sleep {
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => tokio_rt::sleep(duration),
        #[cfg(feature = "polling")]
        Which::Polling => Sleep::from_polling(polling::sleep(duration)),
    }
}

/// Returns a future that completes at `deadline`.
///
/// # Panics
///
/// Panics if called outside a runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => tokio_rt::sleep_until(deadline),
        #[cfg(feature = "polling")]
        Which::Polling => Sleep::from_polling(polling::sleep_until(deadline)),
    }
}

/// The current instant on the runtime's clock: the system's monotonic
/// clock, or the paused test clock (feature `test-util`).
///
/// Outside any runtime, the system's clock.
pub fn now() -> Instant {
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => tokio_rt::now(),
        #[cfg(feature = "polling")]
        Which::Polling => polling::now().unwrap_or_else(Instant::now),
    }
}

/// Returns the instant `duration` from now on the runtime's clock
/// ([`now`]): the deadline of a wait that may take `duration`.
///
/// A duration too long for an [`Instant`] (`Duration::MAX`, say) gives an
/// instant about 30 years ahead, as [`sleep`] clamps it: a deadline that
/// never comes in practice, where `rt::now() + duration` would panic. Turn
/// a configured or caller-supplied timeout into a deadline with it.
///
/// ```
/// # use std::time::Duration;
/// # use wego_netpoll::rt;
/// let soon = rt::deadline_in(Duration::from_secs(1));
/// let never = rt::deadline_in(Duration::MAX);
/// assert!(never > soon);
/// ```
pub fn deadline_in(duration: Duration) -> Instant {
    time::saturating_deadline(now(), duration)
}

/// Returns `instant + duration`, or an instant about 30 years after
/// `instant` when an [`Instant`] cannot hold the sum, as [`deadline_in`]
/// clamps it.
pub fn deadline_after(instant: Instant, duration: Duration) -> Instant {
    time::saturating_deadline(instant, duration)
}

/// Runs `future` with a deadline of `duration`; on expiry the future is
/// dropped and [`Elapsed`] returned. A duration too long for an
/// [`Instant`] is clamped as [`sleep`] clamps it.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout::new(future, sleep(duration))
}

/// Runs `future` until `deadline`; on expiry the future is dropped and
/// [`Elapsed`] returned.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout::new(future, sleep_until(deadline))
}

/// Returns an [`Interval`] that ticks every `period`, first at once.
///
/// Missed ticks are delayed, not bursted: a slow consumer sees ticks at least
/// `period` apart. A period too long for an [`Instant`] (`Duration::MAX`)
/// ticks once, then about 30 years later, as [`sleep`] clamps it: in
/// practice never again.
///
/// # Panics
///
/// Panics if `period` is zero, or when called outside a runtime.
pub fn interval(period: Duration) -> Interval {
    Interval::new(period)
}

/// Yields once to the scheduler, letting other tasks run.
///
/// On both backends the task resumes only after its worker has polled for
/// I/O and fired its due timers once more, so a task that yields in a loop
/// lets readiness and timers through at each yield.
pub async fn yield_now() {
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => tokio_rt::yield_now().await,
        #[cfg(feature = "polling")]
        Which::Polling => {
            let mut yielded = false;
            std::future::poll_fn(|cx| {
                if yielded {
                    return std::task::Poll::Ready(());
                }
                yielded = true;
                if !polling::defer(cx.waker()) {
                    cx.waker().wake_by_ref();
                }
                std::task::Poll::Pending
            })
            .await
        }
    }
}

/// Pauses the runtime's clock (feature `test-util`): [`now`] stops, and
/// timers fire only when [`advance`] moves the clock past their deadline.
///
/// - tokio backend: tokio's `time::pause` on the calling worker's runtime.
///   Each per-core worker has its own clock, so pause and advance from the
///   task whose timers matter; tokio auto-advances a paused clock when the
///   worker has nothing else to do.
/// - polling backend: one virtual clock for the whole runtime, shared by
///   every loop. It never auto-advances: only [`advance`] moves it.
///
/// # Errors
///
/// Fails outside a runtime, and on tokio's work-stealing flavour, whose
/// clock tokio cannot pause.
#[cfg(feature = "test-util")]
pub fn pause() -> Result<()> {
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => tokio_rt::pause(),
        #[cfg(feature = "polling")]
        Which::Polling => polling::pause(),
    }
}

/// Moves a paused clock forward by `by` and lets the timers that became due
/// fire (feature `test-util`). A step too long for an [`Instant`]
/// (`Duration::MAX`) moves the clock about 30 years, where [`sleep`] puts
/// a deadline that never comes.
///
/// # Errors
///
/// Fails outside a runtime, or if the clock is not paused.
#[cfg(feature = "test-util")]
pub async fn advance(by: Duration) -> Result<()> {
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => tokio_rt::advance(by).await,
        #[cfg(feature = "polling")]
        Which::Polling => polling::advance(by).await,
    }
}

/// Lets a paused clock follow real time again (feature `test-util`),
/// from the time it was advanced to: on every backend, as on tokio,
/// [`now`] never goes back on resume, so deadlines taken while the clock
/// was paused keep their meaning.
///
/// # Errors
///
/// Fails outside a runtime, or if the clock is not paused.
#[cfg(feature = "test-util")]
pub fn resume() -> Result<()> {
    match sys::current() {
        #[cfg(feature = "tokio")]
        Which::Tokio => tokio_rt::resume(),
        #[cfg(feature = "polling")]
        Which::Polling => polling::resume(),
    }
}
