//! Timeouts per call and per method, and fallback, on the paused clock.

use std::time::Duration;

use tower_layer::Layer;
use wego_governance::CallInfo;
use wego_governance::fallback::FallbackLayer;
use wego_governance::timeout::TimeoutLayer;
use wego_netpoll::rt;

use crate::support::{
    TICK, TestError, call, drive, poll_once, run_ahead_of_the_system_clock, send, service_fn,
    timer_slack,
};

const TIMEOUT: Duration = Duration::from_millis(20);

fn stuck() -> crate::support::FnService<u32> {
    service_fn(|_req| Box::pin(std::future::pending()))
}

fn is_timeout(r: &Result<u32, TestError>) -> bool {
    matches!(r, Err(TestError::Gov(e)) if e.is_timeout())
}

/// Asserts that `fut` times out `after` from now on the paused clock: still
/// waiting one tick before, timed out at `after`, give or take the
/// backend's [`timer_slack`].
async fn times_out_after(
    fut: impl Future<Output = Result<u32, TestError>>,
    after: Duration,
    slack: Duration,
) {
    let start = rt::now();
    let mut fut = std::pin::pin!(fut);
    assert!(poll_once(&mut fut).await.is_none(), "done at once");
    rt::advance(after - TICK).await.unwrap();
    assert!(
        poll_once(&mut fut).await.is_none(),
        "timed out before its deadline"
    );
    let r = drive(fut, 2 * TICK + slack).await;
    let took = rt::now() - start;
    assert!(is_timeout(&r), "{r:?}");
    assert!(
        (after..=after + slack).contains(&took),
        "timed out after {took:?}, not {after:?}"
    );
}

wego_test_support::each_backend_paused!(
    per_method_timeout_overrides_the_default,
    |backend| async move {
        run_ahead_of_the_system_clock().await;
        let mut svc = TimeoutLayer::new(Duration::from_secs(3600))
            .with_method("say", TIMEOUT)
            .layer(stuck());
        times_out_after(send(&mut svc, call(0)), TIMEOUT, timer_slack(backend)).await;
    }
);

wego_test_support::each_backend_paused!(
    the_request_deadline_bounds_the_timeout,
    |backend| async move {
        run_ahead_of_the_system_clock().await;
        let mut svc = TimeoutLayer::new(Duration::from_secs(3600)).layer(stuck());
        let req = call(0).with_timeout(TIMEOUT);
        times_out_after(send(&mut svc, req), TIMEOUT, timer_slack(backend)).await;
        let mut quick = TimeoutLayer::deadline_only().layer(service_fn(|req| {
            let n = req.body;
            Box::pin(async move { Ok(n) })
        }));
        assert_eq!(send(&mut quick, call(7)).await.unwrap(), 7);
    }
);

wego_test_support::each_backend_paused!(fallback_supplies_a_result, |_backend| async move {
    let svc = TimeoutLayer::new(TIMEOUT).layer(stuck());
    let mut svc = FallbackLayer::new(|e: TestError, callee: &str, method: &str| {
        assert_eq!((callee, method), ("echo", "say"));
        match e {
            TestError::Gov(g) if g.is_timeout() => Ok(42),
            e => Err(e),
        }
    })
    .layer(svc);
    let answer = drive(send(&mut svc, call(0)), TIMEOUT + 2 * TICK).await;
    assert_eq!(answer.unwrap(), 42);
});

// A timeout too long for an `Instant` means "no timeout": the call is not
// cut, and nothing overflows on the way to its deadline.
wego_test_support::each_backend_paused!(
    a_timeout_of_duration_max_never_fires,
    |_backend| async move {
        let mut quick = TimeoutLayer::new(Duration::MAX)
            .with_method("say", Duration::MAX)
            .layer(service_fn(|req| {
                let n = req.body;
                Box::pin(async move { Ok(n) })
            }));
        assert_eq!(send(&mut quick, call(7)).await.unwrap(), 7);
        let req = call(8).with_timeout(Duration::MAX);
        assert!(req.deadline() > Some(rt::now() + Duration::from_secs(365 * 24 * 3600)));
        assert_eq!(send(&mut quick, req).await.unwrap(), 8);
        let mut svc = TimeoutLayer::new(Duration::MAX).layer(stuck());
        let mut fut = std::pin::pin!(send(&mut svc, call(0).with_timeout(Duration::MAX)));
        assert!(poll_once(&mut fut).await.is_none(), "done at once");
        rt::advance(Duration::from_secs(365 * 24 * 3600))
            .await
            .unwrap();
        assert!(
            poll_once(&mut fut).await.is_none(),
            "timed out within a year"
        );
    }
);
