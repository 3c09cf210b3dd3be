//! The runtime facade: spawning tasks, timers, and running a runtime.
//!
//! Upper crates (hertz, kitex, governance) call only these functions, never
//! `tokio::spawn` or `tokio::time` directly (the workspace's `clippy.toml`
//! forbids it), so that the network backend can be swapped.
//!
//! # Backend contract
//!
//! A backend is a module beside this one (`tokio_rt.rs` today; `polling` is the
//! planned second) that provides, for the tasks it runs:
//!
//! 1. **Tasks**: `spawn` of a `Send + 'static` future from any thread inside
//!    the runtime, returning a [`JoinHandle`] that can be awaited or aborted;
//!    `spawn_blocking` on a separate thread pool.
//! 2. **Timers**: [`sleep`] / [`sleep_until`] futures with millisecond
//!    precision or better, on which [`timeout`] and [`interval`] are built.
//!    Timers must be cheap to create and drop (one per request is normal).
//! 3. **Sockets**: the [`net`](crate::net) types' registration with the
//!    backend's poller; a connection stays on the thread (loop) that accepted
//!    or dialed it when the backend has per-thread loops.
//! 4. **Entry**: a [`Runtime`] built by [`Builder`] with N worker threads that
//!    runs a future to completion with [`Runtime::block_on`].
//!
//! When several backends are compiled in, [`Builder::backend`] picks one at
//! run time (default [`Backend::Tokio`]); the free functions here dispatch to
//! the backend of the runtime the caller runs on. Calling them outside any
//! runtime panics, as tokio's do.

use std::future::Future;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use crate::{Error, Result};

mod tokio_rt;

pub use tokio_rt::{Elapsed, Interval, JoinError, JoinHandle, Sleep, Timeout};

/// Which network backend a [`Runtime`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backend {
    /// tokio's multi-thread runtime and `tokio::net` (the default).
    #[default]
    Tokio,
}

impl Backend {
    /// Every backend compiled into this build, default first.
    pub fn enabled() -> &'static [Backend] {
        &[Backend::Tokio]
    }

    /// The backend's name, as used in logs and test names.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Tokio => "tokio",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Builds a [`Runtime`].
#[derive(Debug, Clone)]
pub struct Builder {
    backend: Backend,
    worker_threads: Option<NonZeroUsize>,
    thread_name: String,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            backend: Backend::default(),
            worker_threads: None,
            thread_name: "wego-worker".to_owned(),
        }
    }
}

impl Builder {
    /// Picks the network backend (default [`Backend::Tokio`]).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Sets the number of worker threads (default: one per core).
    pub fn worker_threads(mut self, n: NonZeroUsize) -> Self {
        self.worker_threads = Some(n);
        self
    }

    /// Sets the name of the worker threads (default `wego-worker`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Builds the runtime.
    ///
    /// # Errors
    ///
    /// Fails if the backend cannot create its threads or poller.
    pub fn build(self) -> Result<Runtime> {
        let threads = self
            .worker_threads
            .or_else(|| std::thread::available_parallelism().ok())
            .map_or(1, NonZeroUsize::get);
        match self.backend {
            Backend::Tokio => {
                let rt = tokio_rt::build(threads, &self.thread_name)
                    .map_err(|e| Error::runtime("cannot build the tokio runtime", e))?;
                Ok(Runtime {
                    backend: Backend::Tokio,
                    inner: rt,
                })
            }
        }
    }
}

/// A runtime: worker threads, a poller and timers, on one [`Backend`].
#[derive(Debug)]
pub struct Runtime {
    backend: Backend,
    inner: tokio_rt::Runtime,
}

impl Runtime {
    /// Returns a builder with the defaults: tokio backend, one worker per core.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The backend this runtime runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs a future to completion on this runtime, blocking the caller.
    ///
    /// # Panics
    ///
    /// Panics if called from inside a runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.inner.block_on(future)
    }

    /// Spawns a task on this runtime from outside it.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _guard = self.inner.enter();
        tokio_rt::spawn(future)
    }

    /// Shuts the runtime down, waiting at most `timeout` for blocking tasks.
    pub fn shutdown_timeout(self, timeout: Duration) {
        self.inner.shutdown_timeout(timeout);
    }
}

/// Builds a default runtime and runs `future` on it: the `main` entry point.
///
/// # Errors
///
/// Fails if the runtime cannot be built.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    Ok(Runtime::builder().build()?.block_on(future))
}

/// Spawns a task on the current runtime.
///
/// # Panics
///
/// Panics if called outside a runtime.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio_rt::spawn(future)
}

/// Runs blocking code on the runtime's blocking pool.
///
/// # Panics
///
/// Panics if called outside a runtime.
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio_rt::spawn_blocking(f)
}

/// Returns a future that completes after `duration`.
///
/// # Panics
///
/// Panics if polled outside a runtime.
pub fn sleep(duration: Duration) -> Sleep {
    tokio_rt::sleep(duration)
}

/// Returns a future that completes at `deadline`.
///
/// # Panics
///
/// Panics if polled outside a runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    tokio_rt::sleep_until(deadline)
}

/// Runs `future` with a deadline of `duration`; on expiry the future is
/// dropped and [`Elapsed`] returned.
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
/// `period` apart.
///
/// # Panics
///
/// Panics if `period` is zero, or when polled outside a runtime.
pub fn interval(period: Duration) -> Interval {
    tokio_rt::interval(period)
}

/// Yields once to the scheduler, letting other tasks run.
pub async fn yield_now() {
    tokio_rt::yield_now().await
}
