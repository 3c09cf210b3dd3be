//! The tokio backend of the runtime facade: tokio's multi-thread runtime
//! (the work-stealing flavour), per-core `current_thread` runtimes
//! ([`per_core`]), connection placement ([`connection`]) and `tokio::net`
//! sockets ([`net`]).
//!
//! These are the only calls of tokio's spawn and time functions in the
//! workspace; `clippy.toml` forbids them everywhere else. The per-core
//! flavour runs the same functions on `current_thread` runtimes: tokio's
//! free functions reach whichever runtime the calling thread is in.
#![allow(clippy::disallowed_methods)]

pub(crate) mod connection;
pub(crate) mod net;
pub(crate) mod per_core;

use std::future::Future;
use std::time::{Duration, Instant};

use crate::rt::{JoinHandle, Sleep};

pub(crate) type Runtime = tokio::runtime::Runtime;

/// Builds tokio's multi-thread (work-stealing) runtime.
pub(crate) fn build(threads: usize, name: &str) -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
}

pub(crate) fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    JoinHandle::from_tokio(tokio::spawn(future))
}

pub(crate) fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    JoinHandle::from_tokio(tokio::task::spawn_blocking(f))
}

pub(crate) fn sleep(duration: Duration) -> Sleep {
    Sleep::from_tokio(tokio::time::sleep(duration))
}

pub(crate) fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::from_tokio(tokio::time::sleep_until(deadline.into()))
}

/// tokio's clock (paused and advanced by tokio's test utilities).
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

pub(crate) async fn yield_now() {
    tokio::task::yield_now().await
}

/// Checks that the caller runs on a `current_thread` runtime (a per-core
/// worker), whose clock tokio can pause.
#[cfg(feature = "test-util")]
fn pausable() -> crate::Result<()> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread => Ok(()),
        Ok(_) => Err(crate::Error::runtime_config(
            "the test clock cannot be paused on the work-stealing flavour; use per-core",
        )),
        Err(_) => Err(crate::Error::runtime_config(
            "the test clock needs a wego runtime: call it inside block_on or a task",
        )),
    }
}

#[cfg(feature = "test-util")]
pub(crate) fn pause() -> crate::Result<()> {
    pausable()?;
    tokio::time::pause();
    Ok(())
}

#[cfg(feature = "test-util")]
pub(crate) async fn advance(by: Duration) -> crate::Result<()> {
    pausable()?;
    if !is_paused() {
        return Err(crate::Error::runtime_config(
            "advance needs a paused clock: call rt::pause first",
        ));
    }
    // tokio adds the step to its clock unchecked: a step too long for an
    // `Instant` goes as far as a "never" deadline instead of overflowing.
    let by = if now().checked_add(by).is_some() {
        by
    } else {
        crate::rt::time::FAR_FUTURE
    };
    tokio::time::advance(by).await;
    Ok(())
}

#[cfg(feature = "test-util")]
pub(crate) fn resume() -> crate::Result<()> {
    pausable()?;
    if !is_paused() {
        return Err(crate::Error::runtime_config("the clock is not paused"));
    }
    tokio::time::resume();
    Ok(())
}

/// Whether tokio's clock is paused: a paused clock does not move between
/// two readings.
#[cfg(feature = "test-util")]
fn is_paused() -> bool {
    let a = tokio::time::Instant::now();
    std::thread::yield_now();
    let b = tokio::time::Instant::now();
    a == b
}
