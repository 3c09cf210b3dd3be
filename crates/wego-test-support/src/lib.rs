//! Test harness shared by wego's crates (`publish = false`).
//!
//! - [`on_each_backend`] / [`each_backend!`]: run one async test body on every
//!   network backend compiled into this build and in every runtime
//!   [`Flavor`] that backend has (tokio: per-core and work-stealing;
//!   polling: per-loop scheduling only, which is per-core, so it runs once),
//!   each on a fresh two-worker runtime. `WEGO_TEST_BACKEND=tokio` (or
//!   `polling`) and `WEGO_TEST_FLAVOR=per-core` (or `work-stealing`)
//!   restrict the runs.
//! - [`on_each_backend_paused`] / [`each_backend_paused!`] (feature
//!   `test-util`): the same on every backend and flavour whose clock can
//!   pause, on a one-worker runtime, with the clock paused for the body;
//!   [`clocked`] steps that clock until a future completes and says when,
//!   [`settle`] lets every task run until it waits; [`Pipes`] is a
//!   connector whose connections are in-memory pipes to a served end.
//! - [`loopback`]: a listener on `127.0.0.1:0`.
//! - [`peer`]: find an outside peer program (curl, etcd, python modules) or
//!   skip the test with a printed reason, unless `WEGO_REQUIRE_PEERS=1`, in
//!   which case a missing peer fails the test.

use std::future::Future;
use std::num::NonZeroUsize;

use wego_netpoll::rt::{Backend, Flavor, Runtime};
use wego_netpoll::{Address, Listener};

pub mod etcd;
pub mod peer;

/// Runs `body` once per enabled backend and each runtime [`Flavor`] of
/// that backend ([`Backend::flavors`]), each with two workers, on a fresh
/// runtime each time.
///
/// The body receives the backend it runs on. A panic in any run fails the
/// test and names the backend and flavour. The environment variables
/// `WEGO_TEST_BACKEND` (`tokio` or `polling`) and `WEGO_TEST_FLAVOR`
/// (`per-core` or `work-stealing`) restrict the runs.
///
/// # Panics
///
/// Panics if a runtime cannot be built, an environment variable names no
/// enabled backend or flavour, or the body panics.
pub fn on_each_backend<F, Fut>(body: F)
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let two = NonZeroUsize::new(2).expect("invariant: 2 is non-zero");
    for (backend, flavor) in runs() {
        run_once(backend, flavor, two, "", body(backend));
    }
}

/// Runs `fut` on a fresh runtime of `backend` and `flavor` with `workers`
/// workers, as a spawned task so that it executes on a worker thread, as
/// server code does; a panic in it is reported with the run (and `what`
/// else sets the run apart).
fn run_once<Fut>(backend: Backend, flavor: Flavor, workers: NonZeroUsize, what: &str, fut: Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let rt = Runtime::builder()
        .backend(backend)
        .flavor(flavor)
        .worker_threads(workers)
        .build()
        .unwrap_or_else(|e| panic!("cannot build the {backend} {flavor} runtime: {e}"));
    if let Err(e) = rt.block_on(async move { rt_spawn(fut).await }) {
        panic!("test body failed on the {backend} backend, {flavor} runtime{what}: {e}");
    }
}

/// The (backend, flavour) pairs to run: every enabled backend with each of
/// its flavours, restricted by `WEGO_TEST_BACKEND` and `WEGO_TEST_FLAVOR`.
pub fn runs() -> Vec<(Backend, Flavor)> {
    let only_backend: Option<Backend> = env_choice("WEGO_TEST_BACKEND");
    let only_flavor: Option<Flavor> = env_choice("WEGO_TEST_FLAVOR");
    let mut runs = Vec::new();
    for &backend in Backend::enabled() {
        if only_backend.is_some_and(|b| b != backend) {
            continue;
        }
        for &flavor in backend.flavors() {
            if only_flavor.is_none_or(|f| f == flavor) {
                runs.push((backend, flavor));
            }
        }
    }
    runs
}

fn env_choice<T: std::str::FromStr>(var: &str) -> Option<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(var) {
        Ok(name) if !name.is_empty() => Some(name.parse().unwrap_or_else(|e| panic!("{var}: {e}"))),
        _ => None,
    }
}

async fn rt_spawn<Fut>(fut: Fut) -> Result<(), String>
where
    Fut: Future<Output = ()> + Send + 'static,
{
    match wego_netpoll::rt::spawn(fut).await {
        Ok(()) => Ok(()),
        Err(e) => match e.try_into_panic() {
            Ok(payload) => Err(payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".to_owned())),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// Declares a `#[test]` that runs an async body on every enabled backend.
///
/// ```ignore
/// wego_test_support::each_backend!(echo_works, |backend| async move {
///     // ...
/// });
/// ```
#[macro_export]
macro_rules! each_backend {
    ($(#[$meta:meta])* $name:ident, |$backend:pat_param| $body:expr) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            $crate::on_each_backend(|$backend| $body);
        }
    };
}

/// Runs `body` with the runtime's clock paused (feature `test-util`), once
/// per enabled backend and each flavour whose clock can pause: every flavour
/// but tokio's work-stealing one, whose clock tokio cannot pause.
///
/// Each run is a fresh runtime with **one** worker, so that every task the
/// body spawns sees the paused clock (tokio pauses a per-core worker's
/// clock, not its neighbours'). The body moves time with
/// [`wego_netpoll::rt::advance`]; the polling backend's clock moves only
/// then, and tokio's also jumps to the next timer when the worker has
/// nothing else to do. Bodies whose peers are in-memory pipes
/// (`tokio::io::duplex`) are deterministic on both: a timer fires at its
/// deadline on the clock and never early, whatever the machine's load.
///
/// # Panics
///
/// As [`on_each_backend`], and if the clock cannot be paused.
#[cfg(feature = "test-util")]
pub fn on_each_backend_paused<F, Fut>(body: F)
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for (backend, flavor) in runs() {
        if flavor == Flavor::WorkStealing {
            continue;
        }
        let fut = body(backend);
        let paused = async move {
            wego_netpoll::rt::pause().unwrap_or_else(|e| panic!("cannot pause the clock: {e}"));
            fut.await;
            // Left paused if the body panicked: the runtime goes anyway.
            let _ = wego_netpoll::rt::resume();
        };
        run_once(backend, flavor, NonZeroUsize::MIN, ", paused clock", paused);
    }
}

/// Declares a `#[test]` that runs its async body through
/// [`on_each_backend_paused`] (feature `test-util`):
///
/// ```ignore
/// wego_test_support::each_backend_paused!(times_out, |_backend| async move {
///     let start = wego_netpoll::rt::now();
///     wego_netpoll::rt::advance(std::time::Duration::from_secs(60)).await.unwrap();
///     assert!(wego_netpoll::rt::now() - start >= std::time::Duration::from_secs(60));
/// });
/// ```
#[cfg(feature = "test-util")]
#[macro_export]
macro_rules! each_backend_paused {
    ($(#[$meta:meta])* $name:ident, |$backend:pat_param| $body:expr) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            $crate::on_each_backend_paused(|$backend| $body);
        }
    };
}

/// Scheduler turns [`settle`] gives: far more than the hops of any
/// wake-up chain in a test (a timer, a server's task, a pipe, a client's
/// driver, the test's future).
#[cfg(feature = "test-util")]
pub const SETTLE_TURNS: usize = 100;

/// Lets every task that can go on without the clock run until it waits:
/// yields [`SETTLE_TURNS`] times (feature `test-util`). A yield never lets
/// tokio auto-advance a paused clock, and on both backends a yielded task
/// resumes after its worker has fired its due timers and polled its I/O.
#[cfg(feature = "test-util")]
pub async fn settle() {
    for _ in 0..SETTLE_TURNS {
        wego_netpoll::rt::yield_now().await;
    }
}

/// Drives `fut` on a paused clock (feature `test-util`): polls it while the
/// other tasks [`settle`], and while it is pending moves the clock forward
/// by `step`. Returns its output and how far the clock had moved when it
/// completed, so that a test can check a timeout fired at its deadline: at
/// the first step at or past it, never before it.
///
/// # Panics
///
/// Panics if the clock passes `limit` with `fut` still pending, or if the
/// clock is not paused.
#[cfg(feature = "test-util")]
pub async fn clocked<F: Future>(
    step: std::time::Duration,
    limit: std::time::Duration,
    fut: F,
) -> (F::Output, std::time::Duration) {
    use std::task::Poll;
    let start = wego_netpoll::rt::now();
    let mut fut = std::pin::pin!(fut);
    loop {
        for _ in 0..SETTLE_TURNS {
            if let Poll::Ready(out) =
                std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
            {
                return (out, wego_netpoll::rt::now() - start);
            }
            wego_netpoll::rt::yield_now().await;
        }
        let passed = wego_netpoll::rt::now() - start;
        assert!(
            passed < limit,
            "still pending after {passed:?} on the clock"
        );
        wego_netpoll::rt::advance(step)
            .await
            .unwrap_or_else(|e| panic!("cannot advance the clock: {e}"));
    }
}

/// A connector whose every connection is a fresh in-memory pipe (feature
/// `test-util`), for tests on the paused clock: `serve` gets the
/// connection's number (from 1) and the server's end, and the future it
/// returns runs as a task. The address a client dials is never looked at.
#[cfg(feature = "test-util")]
pub struct Pipes<F> {
    serve: F,
    opened: std::sync::atomic::AtomicUsize,
}

#[cfg(feature = "test-util")]
impl<F> Pipes<F> {
    /// Serves each connection with `serve`.
    pub fn new(serve: F) -> Self {
        Self {
            serve,
            opened: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

#[cfg(feature = "test-util")]
impl<F> std::fmt::Debug for Pipes<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipes")
            .field("opened", &self.opened)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "test-util")]
impl<F, Fut> wego_netpoll::net::Connect for Pipes<F>
where
    F: Fn(usize, tokio::io::DuplexStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Io = tokio::io::DuplexStream;

    async fn connect(&self, _addr: &Address) -> wego_netpoll::Result<Self::Io> {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let n = self
            .opened
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        drop(wego_netpoll::rt::spawn((self.serve)(n, server)));
        Ok(client)
    }
}

/// Binds a listener on `127.0.0.1` with an OS-chosen port.
///
/// # Panics
///
/// Panics if the loopback address cannot be bound.
pub async fn loopback() -> Listener {
    Listener::bind(&Address::loopback())
        .await
        .unwrap_or_else(|e| panic!("cannot bind loopback: {e}"))
}

/// A fresh Unix socket path in the system temp directory.
pub fn unix_socket_path(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("wego-{tag}-{}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}
