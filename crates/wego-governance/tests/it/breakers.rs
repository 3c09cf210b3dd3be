//! The per-service breaker layer: trips, refuses, probes, recovers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;
use wego_governance::breaker::{BreakerConfig, BreakerLayer, BreakerState, Breakers};
use wego_governance::metrics::Metrics;
use wego_netpoll::rt;

use crate::support::{TestError, call, send, service_fn};

wego_test_support::each_backend_paused!(
    service_breaker_trips_refuses_and_recovers,
    |_backend| async move {
        let failing = Arc::new(AtomicBool::new(true));
        let reached = Arc::new(AtomicUsize::new(0));
        let (f, r) = (failing.clone(), reached.clone());
        let svc = service_fn(move |_req| {
            r.fetch_add(1, Ordering::SeqCst);
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
        let cool_down = Duration::from_secs(5);
        let breakers = Breakers::new(
            BreakerConfig::default()
                .with_consecutive_failures(2)
                .with_cool_down(cool_down),
        )
        .with_observer(metrics.breaker_observer());
        let mut svc = BreakerLayer::with_breakers(breakers.clone()).layer(svc);
        // The clock is paused: the breaker opens at this instant.
        let tripped = rt::now();
        for _ in 0..2 {
            assert!(matches!(
                send(&mut svc, call(0)).await,
                Err(TestError::Transport)
            ));
        }
        let refused = send(&mut svc, call(0)).await.unwrap_err();
        assert!(
            matches!(refused, TestError::Gov(ref e) if e.is_breaker_open()),
            "{refused:?}"
        );
        assert_eq!(
            reached.load(Ordering::SeqCst),
            2,
            "a refusal never reaches the service"
        );
        assert_eq!(metrics.breaker_state("echo"), Some(BreakerState::Open));
        // The service is healthy again. Calls are refused until the
        // cool-down has passed on the clock; then one is let through as the
        // probe, and its success closes the breaker.
        failing.store(false, Ordering::SeqCst);
        rt::advance(cool_down - Duration::from_millis(1))
            .await
            .unwrap();
        let early = send(&mut svc, call(0)).await.unwrap_err();
        assert!(
            matches!(early, TestError::Gov(ref e) if e.is_breaker_open()),
            "1 ms before the cool-down ends: {early:?}"
        );
        assert_eq!(
            reached.load(Ordering::SeqCst),
            2,
            "a refusal reached the service"
        );
        rt::advance(Duration::from_millis(1)).await.unwrap();
        assert_eq!(rt::now() - tripped, cool_down);
        send(&mut svc, call(0))
            .await
            .expect("the probe is admitted when the cool-down ends");
        assert_eq!(
            reached.load(Ordering::SeqCst),
            3,
            "only the probe got through"
        );
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
        assert_eq!(metrics.breaker_transitions("echo", BreakerState::Open), 1);
        assert_eq!(metrics.breaker_transitions("echo", BreakerState::Closed), 1);
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

wego_test_support::each_backend_paused!(
    a_call_admitted_before_the_trip_is_no_probe,
    |_backend| async move {
        // Call 0 hangs until told to succeed; call 1 fails; call 2 (the
        // probe) hangs until told to succeed.
        let gates: Arc<std::sync::Mutex<Vec<Option<tokio::sync::oneshot::Receiver<()>>>>> =
            Arc::default();
        let mut release = Vec::new();
        for _ in 0..3 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            gates.lock().unwrap().push(Some(rx));
            release.push(Some(tx));
        }
        let g = gates.clone();
        let svc = service_fn(move |req| {
            let gate = g.lock().unwrap()[req.body as usize].take();
            Box::pin(async move {
                match gate {
                    Some(gate) if req.body != 1 => {
                        gate.await.unwrap();
                        Ok(())
                    }
                    _ => Err(TestError::Transport),
                }
            })
        });
        let cool_down = Duration::from_secs(5);
        let breakers = Breakers::new(
            BreakerConfig::default()
                .with_consecutive_failures(1)
                .with_cool_down(cool_down)
                .with_half_open_probes(1),
        );
        let mut svc = BreakerLayer::with_breakers(breakers.clone()).layer(svc);
        let state = || breakers.states()[0].1;
        // `call` asks the breaker: call 0 is admitted here, while closed.
        let slow = rt::spawn(svc.call(call(0)));
        assert!(matches!(
            send(&mut svc, call(1)).await,
            Err(TestError::Transport)
        ));
        assert_eq!(state(), BreakerState::Open);
        rt::advance(cool_down).await.unwrap();
        let probe = rt::spawn(svc.call(call(2)));
        assert_eq!(state(), BreakerState::HalfOpen);
        // The call from before the trip answers first: it says nothing
        // about recovery, and it was never a probe.
        release[0].take().unwrap().send(()).unwrap();
        slow.await.unwrap().unwrap();
        assert_eq!(state(), BreakerState::HalfOpen, "closed by a pre-trip call");
        let second = send(&mut svc, call(0)).await.unwrap_err();
        assert!(
            matches!(second, TestError::Gov(ref e) if e.is_breaker_open()),
            "a second probe got in: {second:?}"
        );
        // The probe's own success closes it.
        release[2].take().unwrap().send(()).unwrap();
        probe.await.unwrap().unwrap();
        assert_eq!(state(), BreakerState::Closed);
    }
);
