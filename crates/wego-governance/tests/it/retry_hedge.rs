//! Retry (retryable + idempotent only, budget) and backup requests.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower_layer::Layer;
use wego_governance::Discover;
use wego_governance::hedge::HedgeLayer;
use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
use wego_governance::metrics::Metrics;
use wego_governance::retry::{Backoff, RetryBudget, RetryLayer};
use wego_governance::{Instance, StaticDiscover};
use wego_netpoll::rt;

use crate::support::{
    BoxFut, FnService, TICK, TestError, call, drive, inst, run_ahead_of_the_system_clock, send,
    service_fn, timer_slack,
};

fn failing(counter: Arc<AtomicUsize>, err: fn() -> TestError) -> FnService<()> {
    service_fn(move |_req| {
        counter.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Err(err()) })
    })
}

wego_test_support::each_backend!(
    retries_only_retryable_idempotent_calls,
    |_backend| async move {
        let n = Arc::new(AtomicUsize::new(0));
        let mut svc = RetryLayer::new(3)
            .with_backoff(Backoff::none())
            .layer(failing(n.clone(), || TestError::Transport));
        assert!(send(&mut svc, call(0)).await.is_err());
        assert_eq!(n.swap(0, Ordering::SeqCst), 3, "max attempts");
        assert!(
            send(&mut svc, call(0).with_idempotent(false))
                .await
                .is_err()
        );
        assert_eq!(n.swap(0, Ordering::SeqCst), 1, "not idempotent: no retry");
        let mut business = RetryLayer::new(3).layer(failing(n.clone(), || TestError::Business));
        assert!(matches!(
            send(&mut business, call(0)).await,
            Err(TestError::Business)
        ));
        assert_eq!(n.swap(0, Ordering::SeqCst), 1, "business error: no retry");
    }
);

wego_test_support::each_backend!(
    the_budget_caps_retries_during_an_outage,
    |_backend| async move {
        let n = Arc::new(AtomicUsize::new(0));
        let metrics = Metrics::new();
        let budget = Arc::new(RetryBudget::new(0.1, 0, Duration::from_secs(60)));
        let mut svc = RetryLayer::new(3)
            .with_backoff(Backoff::none())
            .with_budget(budget)
            .with_metrics(metrics.clone())
            .layer(failing(n.clone(), || TestError::Transport));
        for i in 0..200 {
            assert!(send(&mut svc, call(i)).await.is_err());
        }
        let attempts = n.load(Ordering::SeqCst);
        println!("outage: 200 calls -> {attempts} attempts (budget 10%)");
        assert!(attempts <= 220, "{attempts}");
        assert!(attempts >= 210, "{attempts}");
        assert_eq!(metrics.retries("echo") as usize, attempts - 200);
    }
);

#[test]
fn backoff_is_jittered_and_capped() {
    let b = Backoff::new(Duration::from_millis(10), Duration::from_millis(80));
    for retry in 1..10 {
        let cap = Duration::from_millis((10u64 << (retry - 1)).min(80));
        for _ in 0..100 {
            assert!(b.delay(retry) <= cap);
        }
    }
    let spread: std::collections::HashSet<_> = (0..50).map(|_| b.delay(3)).collect();
    assert!(spread.len() > 10, "jitter spreads delays");
}

// A backoff too long for an `Instant` ends the retries of a call with a
// deadline (the wait would outlast it) instead of overflowing.
wego_test_support::each_backend_paused!(
    a_backoff_past_the_deadline_gives_up_without_overflow,
    |_backend| async move {
        let n = Arc::new(AtomicUsize::new(0));
        let mut svc = RetryLayer::new(3)
            .with_backoff(Backoff::new(Duration::MAX, Duration::MAX))
            .layer(failing(n.clone(), || TestError::Transport));
        for _ in 0..20 {
            let req = call(0).with_timeout(Duration::from_secs(1));
            assert!(send(&mut svc, req).await.is_err());
            // The jittered wait is a uniform fraction of `Duration::MAX`:
            // it outlasts the second but for odds of 1 in 10^19.
            assert_eq!(n.swap(0, Ordering::SeqCst), 1, "no retry");
        }
    }
);

wego_test_support::each_backend_paused!(
    the_budget_refills_once_its_window_passes,
    |_backend| async move {
        let n = Arc::new(AtomicUsize::new(0));
        // No ratio: a reserve of 1 retry a second over a 10 s window.
        let window = Duration::from_secs(10);
        let budget = Arc::new(RetryBudget::new(0.0, 1, window));
        let mut svc = RetryLayer::new(2)
            .with_backoff(Backoff::none())
            .with_budget(budget)
            .layer(failing(n.clone(), || TestError::Transport));
        for i in 0..12 {
            assert!(send(&mut svc, call(i)).await.is_err());
        }
        assert_eq!(n.swap(0, Ordering::SeqCst), 12 + 10, "10 retries spent");
        rt::advance(window - Duration::from_millis(1))
            .await
            .unwrap();
        assert!(send(&mut svc, call(0)).await.is_err());
        assert_eq!(n.swap(0, Ordering::SeqCst), 1, "still spent 1 ms before");
        rt::advance(Duration::from_millis(1)).await.unwrap();
        for i in 0..12 {
            assert!(send(&mut svc, call(i)).await.is_err());
        }
        assert_eq!(n.swap(0, Ordering::SeqCst), 12 + 10, "10 retries again");
    }
);

wego_test_support::each_backend_paused!(
    backoff_waits_stay_within_their_caps,
    |backend| async move {
        // Full jitter: retry k waits a uniform time in [0, cap k].
        let caps = [100, 200, 250].map(Duration::from_millis);
        let starts = Arc::new(Mutex::new(Vec::new()));
        let s = starts.clone();
        let svc = service_fn(move |_req| {
            s.lock().unwrap().push(rt::now());
            Box::pin(async { Err::<(), _>(TestError::Transport) })
        });
        let mut svc = RetryLayer::new(4)
            .with_backoff(Backoff::new(caps[0], caps[2]))
            .with_budget(Arc::new(RetryBudget::new(
                0.0,
                1000,
                Duration::from_secs(1),
            )))
            .layer(svc);
        let mut longest = [Duration::ZERO; 3];
        for i in 0..32 {
            let limit = caps.iter().sum::<Duration>() + 10 * TICK;
            assert!(drive(send(&mut svc, call(i)), limit).await.is_err());
            let at = std::mem::take(&mut *starts.lock().unwrap());
            assert_eq!(at.len(), 4, "every attempt made");
            for (k, pair) in at.windows(2).enumerate() {
                let waited = pair[1] - pair[0];
                // The clock moves a tick at a time past the timer's deadline.
                assert!(
                    waited < caps[k] + TICK + timer_slack(backend),
                    "retry {}: waited {waited:?}, cap {:?}",
                    k + 1,
                    caps[k]
                );
                longest[k] = longest[k].max(waited);
            }
        }
        // The waits spread over their range: with 32 draws the longest is
        // below half the cap once in 4 billion runs.
        for (k, cap) in caps.iter().enumerate() {
            assert!(
                longest[k] >= *cap / 2,
                "retry {}: longest wait {:?} of cap {cap:?}",
                k + 1,
                longest[k]
            );
        }
    }
);

wego_test_support::each_backend_paused!(
    no_retry_starts_at_or_past_the_call_deadline,
    |_backend| async move {
        run_ahead_of_the_system_clock().await;
        let attempts = Arc::new(AtomicUsize::new(0));
        let a = attempts.clone();
        // A first attempt takes `req.body` ms on the clock, then fails.
        let svc = service_fn(move |req| {
            let first = a.fetch_add(1, Ordering::SeqCst) == 0;
            let took = Duration::from_millis(u64::from(req.body));
            Box::pin(async move {
                if first {
                    rt::advance(took).await.unwrap();
                }
                Err::<(), _>(TestError::Transport)
            })
        });
        // A retry waits at most 10 ms.
        let mut svc = RetryLayer::new(2)
            .with_backoff(Backoff::new(
                Duration::from_millis(10),
                Duration::from_millis(10),
            ))
            .layer(svc);
        let deadline = Duration::from_secs(1);
        let limit = 2 * deadline;
        let early = call(980).with_timeout(deadline);
        assert!(drive(send(&mut svc, early), limit).await.is_err());
        assert_eq!(
            attempts.swap(0, Ordering::SeqCst),
            2,
            "a retry that ends before the deadline is made"
        );
        let late = call(1000).with_timeout(deadline);
        assert!(drive(send(&mut svc, late), limit).await.is_err());
        assert_eq!(
            attempts.swap(0, Ordering::SeqCst),
            1,
            "no retry once the deadline is reached"
        );
    }
);

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

wego_test_support::each_backend_paused!(
    a_backup_answers_and_the_slow_call_is_cancelled,
    |_backend| async move {
        let d = StaticDiscover::with_service("echo", vec![inst(1), inst(2)]);
        let cancelled = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicUsize::new(0));
        let (c2, n2) = (cancelled.clone(), calls.clone());
        let make = move |i: &Instance| {
            let port = i.address.as_tcp().unwrap().port();
            let (c, n) = (c2.clone(), n2.clone());
            service_fn(move |_req| {
                n.fetch_add(1, Ordering::SeqCst);
                let flag = DropFlag(c.clone());
                Box::pin(async move {
                    if port == 1 {
                        let _flag = flag;
                        std::future::pending::<()>().await;
                    }
                    Ok(port)
                }) as BoxFut<u16>
            })
        };
        let watch = d.discover("echo").await.unwrap();
        let lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new).layer(make);
        let delay = Duration::from_secs(5);
        let mut svc = HedgeLayer::new(delay, 2).layer(lb);
        // Round robin sends the first call to the stuck instance 1; the
        // backup goes out, and answers, once the delay has passed.
        let step = Duration::from_millis(10);
        let (got, waited) =
            wego_test_support::clocked(step, Duration::from_secs(60), send(&mut svc, call(0)))
                .await;
        assert_eq!(got.unwrap(), 2);
        assert!(
            waited >= delay && waited <= delay + step,
            "answered after {waited:?}, the backup's delay is {delay:?}"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "one backup, to the other instance"
        );
        assert!(
            cancelled.load(Ordering::SeqCst),
            "the slow attempt was dropped"
        );
    }
);

wego_test_support::each_backend!(fast_calls_send_no_backup, |_backend| async move {
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    let svc = service_fn(move |_req| {
        n.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    });
    let mut svc = HedgeLayer::new(Duration::from_secs(5), 3).layer(svc);
    for i in 0..20 {
        send(&mut svc, call(i)).await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 20);
});
