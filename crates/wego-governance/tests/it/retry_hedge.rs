//! Retry (retryable + idempotent only, budget) and backup requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tower_layer::Layer;
use wego_governance::Discover;
use wego_governance::hedge::HedgeLayer;
use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
use wego_governance::metrics::Metrics;
use wego_governance::retry::{Backoff, RetryBudget, RetryLayer};
use wego_governance::{Instance, StaticDiscover};

use crate::support::{BoxFut, FnService, TestError, call, inst, send, service_fn};

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
            .with_backoff(Backoff::new(
                Duration::from_millis(1),
                Duration::from_millis(2),
            ))
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

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

wego_test_support::each_backend!(
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
        let mut svc = HedgeLayer::new(Duration::from_millis(20), 2).layer(lb);
        // Round robin sends the first call to the stuck instance 1.
        let got = send(&mut svc, call(0)).await.unwrap();
        assert_eq!(got, 2);
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
