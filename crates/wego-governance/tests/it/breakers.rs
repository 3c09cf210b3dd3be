//! The per-service breaker layer: trips, refuses, probes, recovers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tower_layer::Layer;
use wego_governance::breaker::{BreakerConfig, BreakerLayer, BreakerState, Breakers};
use wego_governance::metrics::Metrics;

use crate::support::{TestError, call, send, service_fn};

wego_test_support::each_backend!(
    service_breaker_trips_refuses_and_recovers,
    |_backend| async move {
        let failing = Arc::new(AtomicBool::new(true));
        let f = failing.clone();
        let svc = service_fn(move |_req| {
            let fail = f.load(Ordering::SeqCst);
            Box::pin(async move {
                if fail {
                    Err(TestError::Transport)
                } else {
                    Ok(())
                }
            })
        });
        let metrics = Metrics::new();
        let breakers = Breakers::new(
            BreakerConfig::default()
                .with_consecutive_failures(2)
                .with_cool_down(Duration::from_millis(50)),
        )
        .with_observer(metrics.breaker_observer());
        let mut svc = BreakerLayer::with_breakers(breakers.clone()).layer(svc);
        assert!(matches!(
            send(&mut svc, call(0)).await,
            Err(TestError::Transport)
        ));
        assert!(matches!(
            send(&mut svc, call(0)).await,
            Err(TestError::Transport)
        ));
        let refused = send(&mut svc, call(0)).await.unwrap_err();
        assert!(
            matches!(refused, TestError::Gov(ref e) if e.is_breaker_open()),
            "{refused:?}"
        );
        assert_eq!(metrics.breaker_state("echo"), Some(BreakerState::Open));
        // Business errors do not count against health.
        failing.store(false, Ordering::SeqCst);
        wego_netpoll::rt::sleep(Duration::from_millis(60)).await;
        send(&mut svc, call(0)).await.unwrap();
        assert_eq!(
            breakers.states(),
            vec![("echo".to_owned(), BreakerState::Closed)]
        );
        assert_eq!(metrics.breaker_state("echo"), Some(BreakerState::Closed));
        assert!(
            metrics
                .render()
                .contains("wego_breaker_transitions_total{scope=\"echo\",to=\"half_open\"} 1")
        );
    }
);

wego_test_support::each_backend!(
    business_errors_never_trip_the_breaker,
    |_backend| async move {
        let svc = service_fn(|_req| Box::pin(async { Err::<(), _>(TestError::Business) }));
        let mut svc =
            BreakerLayer::new(BreakerConfig::default().with_consecutive_failures(1)).layer(svc);
        for _ in 0..50 {
            assert!(matches!(
                send(&mut svc, call(0)).await,
                Err(TestError::Business)
            ));
        }
    }
);
