//! Test harness shared by wego's crates (`publish = false`).
//!
//! - [`on_each_backend`] / [`each_backend!`]: run one async test body on every
//!   network backend compiled into this build and in every runtime
//!   [`Flavor`] that backend has (tokio: per-core and work-stealing;
//!   polling: per-loop scheduling only, which is per-core, so it runs once),
//!   each on a fresh two-worker runtime. `WEGO_TEST_BACKEND=tokio` (or
//!   `polling`) and `WEGO_TEST_FLAVOR=per-core` (or `work-stealing`)
//!   restrict the runs.
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
    for (backend, flavor) in runs() {
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::new(2).expect("invariant: 2 is non-zero"))
            .build()
            .unwrap_or_else(|e| panic!("cannot build the {backend} {flavor} runtime: {e}"));
        let fut = body(backend);
        // Run the body as a spawned task so that it executes on a worker
        // thread, as server code does, and report panics with the backend.
        let res = rt.block_on(async move { rt_spawn(fut).await });
        if let Err(e) = res {
            panic!("test body failed on the {backend} backend, {flavor} runtime: {e}");
        }
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
