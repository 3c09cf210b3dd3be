//! The LoadBalance service: picking, discovery changes, per-instance
//! breakers, and retries that avoid the failed instance.

use std::time::Duration;

use tower_layer::Layer;
use wego_governance::breaker::{BreakerConfig, BreakerState, Breakers};
use wego_governance::lb::{LoadBalanceLayer, RoundRobin, WeightedRandom};
use wego_governance::retry::{Backoff, RetryLayer};
use wego_governance::{Discover, StaticDiscover};

use crate::support::{Fleet, TestError, call, inst, send};

wego_test_support::each_backend!(balances_and_follows_discovery, |_backend| async move {
    let d = StaticDiscover::with_service("echo", vec![inst(1), inst(2)]);
    let fleet = Fleet::default();
    let watch = d.discover("echo").await.unwrap();
    let mut lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new).layer(fleet.make());
    for i in 0..10 {
        send(&mut lb, call(i)).await.unwrap();
    }
    assert_eq!((fleet.hits(1), fleet.hits(2)), (5, 5));
    d.insert("echo", inst(3));
    d.remove("echo", &inst(1));
    fleet.reset();
    for i in 0..10 {
        send(&mut lb, call(i)).await.unwrap();
    }
    assert_eq!((fleet.hits(1), fleet.hits(2), fleet.hits(3)), (0, 5, 5));
    d.set("echo", vec![]);
    let err = send(&mut lb, call(0)).await.unwrap_err();
    assert!(
        matches!(err, TestError::Gov(ref e) if e.is_no_instance()),
        "{err:?}"
    );
});

wego_test_support::each_backend!(
    a_retry_never_returns_to_the_failed_instance,
    |_backend| async move {
        let d = StaticDiscover::with_service("echo", vec![inst(1), inst(2), inst(3)]);
        let fleet = Fleet::default();
        fleet.set_down(1, true);
        let watch = d.discover("echo").await.unwrap();
        let lb = LoadBalanceLayer::new("echo", watch, WeightedRandom::new).layer(fleet.make());
        let mut client = RetryLayer::new(3).with_backoff(Backoff::none()).layer(lb);
        let calls = 300;
        for i in 0..calls {
            let port = send(&mut client, call(i)).await.unwrap();
            assert_ne!(port, 1);
        }
        let down_hits = fleet.hits(1);
        assert!(down_hits > 0);
        // Each call tried instance 1 at most once, so attempts = calls + failures.
        let total = fleet.total.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(total, calls as usize + down_hits);
    }
);

wego_test_support::each_backend!(
    a_retry_goes_back_when_it_is_the_only_instance,
    |_backend| async move {
        let d = StaticDiscover::with_service("echo", vec![inst(1)]);
        let fleet = Fleet::default();
        fleet.set_down(1, true);
        let watch = d.discover("echo").await.unwrap();
        let lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new).layer(fleet.make());
        let mut client = RetryLayer::new(3).with_backoff(Backoff::none()).layer(lb);
        assert!(matches!(
            send(&mut client, call(0)).await,
            Err(TestError::Transport)
        ));
        assert_eq!(fleet.hits(1), 3);
    }
);

wego_test_support::each_backend!(
    an_instance_breaker_opens_and_traffic_moves,
    |_backend| async move {
        let d = StaticDiscover::with_service("echo", vec![inst(1), inst(2)]);
        let fleet = Fleet::default();
        fleet.set_down(1, true);
        let breakers = Breakers::new(
            BreakerConfig::default()
                .with_consecutive_failures(3)
                .with_cool_down(Duration::from_secs(3600)),
        );
        let watch = d.discover("echo").await.unwrap();
        let mut lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new)
            .with_breaker(breakers.clone())
            .layer(fleet.make());
        let mut failures = 0;
        for i in 0..100 {
            if send(&mut lb, call(i)).await.is_err() {
                failures += 1;
            }
        }
        assert_eq!(failures, 3, "three failures open the breaker");
        assert_eq!(fleet.hits(1), 3);
        assert_eq!(fleet.hits(2), 97);
        let states = breakers.states();
        assert!(
            states.contains(&("echo/127.0.0.1:1".to_owned(), BreakerState::Open)),
            "{states:?}"
        );
    }
);

wego_test_support::each_backend!(
    retry_over_hedge_still_avoids_the_failed_instance,
    |_backend| async move {
        use wego_governance::hedge::HedgeLayer;
        let d = StaticDiscover::with_service("echo", vec![inst(1), inst(2), inst(3)]);
        let fleet = Fleet::default();
        fleet.set_down(1, true);
        let watch = d.discover("echo").await.unwrap();
        let lb = LoadBalanceLayer::new("echo", watch, WeightedRandom::new).layer(fleet.make());
        // The hedge layer opens its own call scope; the retry's must see its picks.
        let hedged = HedgeLayer::new(Duration::from_secs(60), 0).layer(lb);
        let mut client = RetryLayer::new(3)
            .with_backoff(Backoff::none())
            .layer(hedged);
        let calls = 300;
        for i in 0..calls {
            assert_ne!(send(&mut client, call(i)).await.unwrap(), 1);
        }
        let down_hits = fleet.hits(1);
        assert!(down_hits > 0);
        let total = fleet.total.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(total, calls as usize + down_hits);
    }
);

wego_test_support::each_backend!(
    a_fast_failure_triggers_the_backup_at_once,
    |_backend| async move {
        use wego_governance::hedge::HedgeLayer;
        let d = StaticDiscover::with_service("echo", vec![inst(1), inst(2)]);
        let fleet = Fleet::default();
        fleet.set_down(1, true);
        let watch = d.discover("echo").await.unwrap();
        let lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new).layer(fleet.make());
        // A one-hour hedge delay: only the failure can trigger the backup.
        let mut client = HedgeLayer::new(Duration::from_secs(3600), 1).layer(lb);
        assert_eq!(send(&mut client, call(0)).await.unwrap(), 2);
        assert_eq!((fleet.hits(1), fleet.hits(2)), (1, 1));
    }
);
