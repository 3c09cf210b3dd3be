//! Server-side limits: QPS token bucket and concurrency.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;
use wego_governance::Call;
use wego_governance::limit::{ConcurrencyLimitLayer, RateLimitLayer};
use wego_netpoll::rt;

use crate::support::{TestError, call, send, service_fn};

/// Sends `calls` calls at once; the number let through (the others must be
/// rate-limit refusals).
async fn admitted<S>(svc: &mut S, calls: u32) -> usize
where
    S: Service<Call<u32>, Response = (), Error = TestError>,
{
    let mut ok = 0;
    for i in 0..calls {
        match send(svc, call(i)).await {
            Ok(()) => ok += 1,
            Err(TestError::Gov(e)) if e.is_rate_limited() && e.is_rejected() => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    ok
}

wego_test_support::each_backend_paused!(
    qps_limit_refuses_beyond_the_burst_and_refills_at_the_rate,
    |_backend| async move {
        let svc = service_fn(|_req| Box::pin(async { Ok(()) }));
        // 10 per second: a token every 100 ms, at most 5 stored.
        let mut svc = RateLimitLayer::new(10, 5).layer(svc);
        assert_eq!(admitted(&mut svc, 10).await, 5, "the burst");
        rt::advance(Duration::from_millis(99)).await.unwrap();
        assert_eq!(admitted(&mut svc, 1).await, 0, "1 ms before the next token");
        rt::advance(Duration::from_millis(1)).await.unwrap();
        assert_eq!(admitted(&mut svc, 2).await, 1, "one token at 100 ms");
        rt::advance(Duration::from_secs(60)).await.unwrap();
        assert_eq!(
            admitted(&mut svc, 10).await,
            5,
            "the refill stops at the burst"
        );
    }
);

wego_test_support::each_backend!(
    concurrency_limit_refuses_then_frees,
    |_backend| async move {
        let gates: Arc<Mutex<Vec<tokio::sync::oneshot::Sender<()>>>> = Arc::default();
        let g = gates.clone();
        let svc = service_fn(move |_req| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            g.lock().unwrap().push(tx);
            Box::pin(async move {
                let _ = rx.await;
                Ok(())
            })
        });
        let layer = ConcurrencyLimitLayer::new(2);
        let mut svc = layer.layer(svc);
        let a = svc_call(&mut svc);
        let b = svc_call(&mut svc);
        let refused = send(&mut svc, call(3)).await.unwrap_err();
        assert!(
            matches!(refused, TestError::Gov(ref e) if e.is_overloaded()),
            "{refused:?}"
        );
        for tx in gates.lock().unwrap().drain(..) {
            tx.send(()).unwrap();
        }
        a.await.unwrap();
        b.await.unwrap();
        assert_eq!(layer.available(), 2);
        let c = svc_call(&mut svc);
        for tx in gates.lock().unwrap().drain(..) {
            tx.send(()).unwrap();
        }
        c.await.unwrap();
    }
);

fn svc_call<S: Service<Call<u32>>>(svc: &mut S) -> S::Future {
    svc.call(call(0))
}

wego_test_support::each_backend_paused!(
    refusals_become_responses_for_infallible_services,
    |_backend| async move {
        use std::convert::Infallible;
        use wego_governance::limit::{IntoRejectionLayer, RecoverLayer};

        #[derive(Clone)]
        struct Handler;
        impl Service<Call<u32>> for Handler {
            type Response = u16;
            type Error = Infallible;
            type Future = std::future::Ready<Result<u16, Infallible>>;
            fn poll_ready(
                &mut self,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Infallible>> {
                std::task::Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: Call<u32>) -> Self::Future {
                std::future::ready(Ok(200))
            }
        }
        let svc = IntoRejectionLayer.layer(Handler);
        let svc = RateLimitLayer::new(1, 2).layer(svc);
        let mut svc =
            RecoverLayer::new(|e: &wego_governance::Error| if e.is_rejected() { 429 } else { 503 })
                .layer(svc);
        let mut statuses = Vec::new();
        for i in 0..4 {
            statuses.push(send(&mut svc, call(i)).await.unwrap());
        }
        assert_eq!(statuses, [200, 200, 429, 429]);
    }
);
