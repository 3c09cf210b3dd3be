//! Timeouts per call and per method, and fallback.

use std::time::Duration;

use tower_layer::Layer;
use wego_governance::fallback::FallbackLayer;
use wego_governance::timeout::TimeoutLayer;

use crate::support::{TestError, call, send, service_fn};

fn stuck() -> crate::support::FnService<u32> {
    service_fn(|_req| Box::pin(std::future::pending()))
}

fn is_timeout(r: &Result<u32, TestError>) -> bool {
    matches!(r, Err(TestError::Gov(e)) if e.is_timeout())
}

wego_test_support::each_backend!(
    per_method_timeout_overrides_the_default,
    |_backend| async move {
        let mut svc = TimeoutLayer::new(Duration::from_secs(3600))
            .with_method("say", Duration::from_millis(20))
            .layer(stuck());
        assert!(is_timeout(&send(&mut svc, call(0)).await));
    }
);

wego_test_support::each_backend!(
    the_request_deadline_bounds_the_timeout,
    |_backend| async move {
        let mut svc = TimeoutLayer::new(Duration::from_secs(3600)).layer(stuck());
        let r = send(&mut svc, call(0).with_timeout(Duration::from_millis(20))).await;
        assert!(is_timeout(&r));
        let mut quick = TimeoutLayer::deadline_only().layer(service_fn(|req| {
            let n = req.body;
            Box::pin(async move { Ok(n) })
        }));
        assert_eq!(send(&mut quick, call(7)).await.unwrap(), 7);
    }
);

wego_test_support::each_backend!(fallback_supplies_a_result, |_backend| async move {
    let svc = TimeoutLayer::new(Duration::from_millis(10)).layer(stuck());
    let mut svc = FallbackLayer::new(|e: TestError, callee: &str, method: &str| {
        assert_eq!((callee, method), ("echo", "say"));
        match e {
            TestError::Gov(g) if g.is_timeout() => Ok(42),
            e => Err(e),
        }
    })
    .layer(svc);
    assert_eq!(send(&mut svc, call(0)).await.unwrap(), 42);
});
