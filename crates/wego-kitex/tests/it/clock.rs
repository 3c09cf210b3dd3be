//! The paused test clock and the in-memory pipes of the timeout and
//! deadline tests.
//!
//! Those tests run under `wego_test_support::each_backend_paused!` (one
//! worker, the runtime's clock paused) and talk to the server over
//! in-memory pipes (`tokio::io::duplex`), so nothing waits for the kernel
//! and time moves only when a test moves it. A test moves the clock a
//! millisecond at a time ([`step_until`]) and, after each step, lets every
//! task run until it waits again ([`settle`]); an event is then seen at
//! the first step at which it happened, so "not before the deadline" and
//! "at the deadline" are one assertion on the time the steps took.

use std::future::Future;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use wego_netpoll::rt::{self, Backend};

/// One step of the clock.
pub(crate) const MS: Duration = Duration::from_millis(1);

/// How late a timer may fire on `backend`: tokio's timer wheel counts
/// whole milliseconds and rounds a deadline up to the next one, so a timer
/// fires at its deadline or a step after; the polling backend's timers
/// fire at their deadline.
pub(crate) fn grain(backend: Backend) -> Duration {
    match backend.name() {
        "tokio" => MS,
        _ => Duration::ZERO,
    }
}

pub(crate) use wego_test_support::settle;

/// [`settle`]s, moves the paused clock forward by `by`, and settles again:
/// what the tasks could do before, they did at the earlier time.
pub(crate) async fn advance(by: Duration) {
    settle().await;
    rt::advance(by).await.expect("the clock is paused");
    settle().await;
}

/// Polls `fut` while the other tasks [`settle`]: its output if it finished
/// without the clock moving.
pub(crate) async fn settled<F: Future>(fut: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        out = fut => Some(out),
        () = settle() => None,
    }
}

/// Moves the clock a millisecond at a time until `fut` finishes; returns
/// its output and how far the clock moved ([`wego_test_support::clocked`]).
///
/// # Panics
///
/// If `fut` has not finished once the clock moved `limit`.
pub(crate) async fn step_until<F: Future>(limit: Duration, fut: F) -> (F::Output, Duration) {
    wego_test_support::clocked(MS, limit, fut).await
}

/// Moves the clock a millisecond at a time until `done` holds (asked after
/// each step has settled); returns how far the clock moved.
///
/// # Panics
///
/// If `done` does not hold once the clock moved `limit`.
pub(crate) async fn step_until_true(limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let t0 = rt::now();
    loop {
        settle().await;
        if done() {
            return rt::now() - t0;
        }
        assert!(rt::now() - t0 < limit, "still waiting after {limit:?}");
        rt::advance(MS).await.expect("the clock is paused");
    }
}

/// Asserts that `elapsed` is `deadline` on `backend`: not a step before
/// it, and at most [`grain`] late for each of the `timers` timers in the
/// chain that led to it.
#[track_caller]
pub(crate) fn assert_at(backend: Backend, elapsed: Duration, deadline: Duration, timers: u32) {
    let late = grain(backend) * timers;
    assert!(
        deadline <= elapsed && elapsed <= deadline + late,
        "at {elapsed:?}, expected at {deadline:?} (up to {late:?} late on {backend:?})"
    );
}

/// Reads what `io` holds without waiting, appending it to `got`; returns
/// true once the other end has closed and everything it sent was read.
pub(crate) fn drain(io: &mut DuplexStream, got: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        // Unconstrained: tokio's co-operative budget must not fake a
        // pending read.
        match tokio::task::unconstrained(io.read(&mut chunk)).now_or_never() {
            None => return false,
            Some(Ok(0) | Err(_)) => return true,
            Some(Ok(n)) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Whether the other end of `io` has closed; panics if it sent anything.
pub(crate) fn closed_silently(io: &mut DuplexStream) -> bool {
    let mut got = Vec::new();
    let closed = drain(io, &mut got);
    assert!(got.is_empty(), "answered {got:?}");
    closed
}

/// Sends `bytes` to `io` one at a time, `pause` apart, moving the clock a
/// millisecond at a time, until the other end closes; returns what it sent
/// back and how long after the first byte it closed.
///
/// # Panics
///
/// If all of `bytes` went out, or if `io` is still open after `limit`.
pub(crate) async fn trickle(
    io: &mut DuplexStream,
    bytes: &[u8],
    pause: Duration,
    limit: Duration,
) -> (Vec<u8>, Duration) {
    let t0 = rt::now();
    let mut got = Vec::new();
    let mut sent = 0;
    let mut next = t0;
    loop {
        if rt::now() >= next {
            assert!(sent < bytes.len(), "all {sent} bytes went out unhindered");
            if io.write_all(&bytes[sent..=sent]).await.is_err() {
                break;
            }
            sent += 1;
            next += pause;
        }
        advance(MS).await;
        if drain(io, &mut got) {
            break;
        }
        assert!(
            rt::now() - t0 < limit,
            "still open after {limit:?}, {sent} bytes sent"
        );
    }
    drain(io, &mut got);
    (got, rt::now() - t0)
}
