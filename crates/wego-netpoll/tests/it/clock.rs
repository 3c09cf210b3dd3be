//! The `test-util` clock: paused, timers fire only when it is advanced, on
//! every backend whose flavour allows it.
#![cfg(feature = "test-util")]

use std::future::Future;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use wego_netpoll::rt::{self, Flavor, Runtime};
use wego_test_support::runs;

#[test]
fn a_paused_clock_fires_timers_only_when_advanced() {
    for (backend, flavor) in runs() {
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::new(2).unwrap())
            .build()
            .unwrap();
        let out = rt.block_on(rt.spawn(async move {
            if flavor == Flavor::WorkStealing {
                let err = rt::pause().unwrap_err();
                assert!(err.is_runtime(), "{err}");
                assert!(err.to_string().contains("work-stealing"), "{err}");
                return;
            }
            rt::pause().unwrap();
            let real = Instant::now();
            let start = rt::now();
            let mut hour = std::pin::pin!(rt::sleep(Duration::from_secs(3600)));
            let mut minute = std::pin::pin!(rt::sleep(Duration::from_secs(60)));
            // Nothing is due yet: a poll registers the timer, pending.
            let pending = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(minute.as_mut().poll(cx).is_pending())
            })
            .await;
            assert!(pending && !minute.is_elapsed());
            rt::advance(Duration::from_secs(61)).await.unwrap();
            minute.as_mut().await;
            assert!(!hour.is_elapsed());
            rt::advance(Duration::from_secs(3600)).await.unwrap();
            hour.as_mut().await;
            assert!(rt::now() - start >= Duration::from_secs(3600));
            assert!(
                real.elapsed() < Duration::from_secs(30),
                "waited in real time"
            );
            rt::resume().unwrap();
            assert!(rt::advance(Duration::from_secs(1)).await.is_err());
        }));
        out.unwrap_or_else(|e| panic!("on {backend} {flavor}: {e}"));
    }
}

#[test]
fn a_task_that_yields_lets_due_timers_fire_first() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    for (backend, flavor) in runs() {
        if flavor == Flavor::WorkStealing {
            continue; // tokio cannot pause the work-stealing clock
        }
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::MIN)
            .build()
            .unwrap();
        let out = rt.block_on(rt.spawn(async move {
            rt::pause().unwrap();
            let fired = Arc::new(AtomicBool::new(false));
            let f = Arc::clone(&fired);
            let sleeper = rt::spawn(async move {
                rt::sleep(Duration::from_millis(1)).await;
                f.store(true, Ordering::SeqCst);
            });
            // The sleeper runs and registers its timer.
            rt::yield_now().await;
            // Past the deadline on either backend (tokio's timers have a
            // resolution of 1 ms).
            rt::advance(Duration::from_millis(2)).await.unwrap();
            // A task that yields in a loop resumes after the worker has
            // fired its due timers, not after a whole batch of tasks.
            let mut yields = 0;
            while !fired.load(Ordering::SeqCst) {
                assert!(yields < 100, "the due timer has not fired");
                rt::yield_now().await;
                yields += 1;
            }
            assert!(yields <= 2, "{yields} yields before a due timer fired");
            sleeper.await.unwrap();
            rt::resume().unwrap();
        }));
        out.unwrap_or_else(|e| panic!("on {backend} {flavor}: {e}"));
    }
}

// Resuming keeps the time the clock was advanced to, as tokio's does: the
// clock then runs on from there in real time, never back.
#[test]
fn resume_never_moves_the_clock_back() {
    for (backend, flavor) in runs() {
        if flavor == Flavor::WorkStealing {
            continue; // tokio cannot pause the work-stealing clock
        }
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::MIN)
            .build()
            .unwrap();
        let out = rt.block_on(rt.spawn(async move {
            rt::pause().unwrap();
            let start = rt::now();
            rt::advance(Duration::from_secs(3600)).await.unwrap();
            let advanced = rt::now();
            assert!(advanced - start >= Duration::from_secs(3600));
            rt::resume().unwrap();
            let resumed = rt::now();
            assert!(resumed >= advanced, "now() went back on resume");
            // A timer due an hour after the start is due now.
            rt::sleep_until(start + Duration::from_secs(3600)).await;
            // Paused again, the clock stops where it is.
            rt::pause().unwrap();
            assert!(rt::now() >= resumed);
            rt::resume().unwrap();
        }));
        out.unwrap_or_else(|e| panic!("on {backend} {flavor}: {e}"));
    }
}

// Advancing by a duration too long for an `Instant` moves the clock as far
// as a "never" deadline (about 30 years): the timers due before fire, the
// clock does not overflow.
#[test]
fn advancing_by_duration_max_saturates() {
    for (backend, flavor) in runs() {
        if flavor == Flavor::WorkStealing {
            continue; // tokio cannot pause the work-stealing clock
        }
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::MIN)
            .build()
            .unwrap();
        let out = rt.block_on(rt.spawn(async move {
            rt::pause().unwrap();
            let start = rt::now();
            let mut year = std::pin::pin!(rt::sleep(Duration::from_secs(365 * 24 * 3600)));
            rt::advance(Duration::MAX).await.unwrap();
            year.as_mut().await;
            assert!(rt::now() - start >= Duration::from_secs(365 * 24 * 3600));
            rt::resume().unwrap();
        }));
        out.unwrap_or_else(|e| panic!("on {backend} {flavor}: {e}"));
    }
}
