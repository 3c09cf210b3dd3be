//! Issue 6's proof: three echo instances registered in etcd, a client with
//! discovery, load balancing, a retry budget and per-instance breakers
//! under steady load. One instance dies abruptly and comes back; etcd
//! itself is killed and restarted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;
use wego_governance::breaker::{BreakerConfig, BreakerState, Breakers};
use wego_governance::discovery::etcd::{EtcdConfig, EtcdDiscover, EtcdRegistry};
use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
use wego_governance::metrics::{Metrics, MetricsLayer};
use wego_governance::retry::{Backoff, RetryBudget, RetryLayer};
use wego_governance::{Call, Discover, Instance, Registration, Registry};

use crate::echo::{EchoServer, make_client};
use crate::etcd::{config, wait_for};
use crate::support::{send, until};
use wego_test_support::etcd::EtcdServer;

struct Load {
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
    workers: Vec<wego_netpoll::rt::JoinHandle<()>>,
}

impl Load {
    fn start<S>(client: S, workers: usize) -> Load
    where
        S: Service<Call<u32>, Response = u16> + Clone + Send + 'static,
        S::Future: Send,
        S::Error: std::fmt::Debug,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(AtomicUsize::new(0));
        let workers = (0..workers)
            .map(|_| {
                let (mut client, stop, calls, failures) = (
                    client.clone(),
                    stop.clone(),
                    calls.clone(),
                    failures.clone(),
                );
                wego_netpoll::rt::spawn(async move {
                    let mut n = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        n = n.wrapping_add(1);
                        calls.fetch_add(1, Ordering::Relaxed);
                        if let Err(e) = send(&mut client, Call::new("echo", "say", n)).await {
                            eprintln!("proof: call failed: {e:?}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        // A steady rate, not a busy loop.
                        wego_netpoll::rt::sleep(Duration::from_millis(2)).await;
                    }
                })
            })
            .collect();
        Load {
            stop,
            calls,
            failures,
            workers,
        }
    }

    /// Returns once the workers have made `n` more calls.
    async fn made(&self, n: usize) {
        let from = self.calls.load(Ordering::Relaxed);
        until(&format!("{n} more calls"), Duration::from_secs(60), || {
            self.calls.load(Ordering::Relaxed) >= from + n
        })
        .await;
    }

    fn figures(&self) -> (usize, usize) {
        (
            self.calls.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }

    async fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            let _ = w.await;
        }
        (
            self.calls.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }
}

fn served(servers: &[EchoServer]) -> Vec<usize> {
    servers.iter().map(EchoServer::served).collect()
}

fn delta(a: &[usize], b: &[usize]) -> Vec<usize> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

async fn register_all(registry: &EtcdRegistry, servers: &[EchoServer]) -> Vec<Registration> {
    let mut regs = Vec::new();
    for s in servers {
        let r = Registration::new("echo", Instance::new(s.addr.clone()))
            .with_ttl(Duration::from_secs(2));
        registry.register(&r).await.unwrap();
        regs.push(r);
    }
    regs
}

wego_test_support::each_backend!(
    an_instance_dies_and_returns_under_load,
    |backend| async move {
        let Some(etcd) =
            EtcdServer::start("an_instance_dies_and_returns_under_load", backend).await
        else {
            return;
        };
        let mut servers = vec![
            EchoServer::start(None).await,
            EchoServer::start(None).await,
            EchoServer::start(None).await,
        ];
        // One registry per instance, as separate processes would have.
        let mut registries: Vec<EtcdRegistry> =
            (0..3).map(|_| EtcdRegistry::new(config(&etcd))).collect();
        for (r, s) in registries.iter().zip(&servers) {
            register_all(r, std::slice::from_ref(s)).await;
        }

        let discover = EtcdDiscover::new(config(&etcd));
        let mut watch = discover.discover("echo").await.unwrap();
        wait_for(&mut watch, 3, Duration::from_secs(5)).await;
        let metrics = Metrics::new();
        let breakers = Breakers::new(
            BreakerConfig::default()
                .with_consecutive_failures(3)
                .with_min_requests(20)
                .with_error_rate(0.5)
                .with_cool_down(Duration::from_millis(500)),
        )
        .with_observer(metrics.breaker_observer());
        let lb = LoadBalanceLayer::new("echo", watch.clone(), RoundRobin::new)
            .with_breaker(breakers.clone())
            .layer(make_client);
        let budget = Arc::new(RetryBudget::new(0.1, 5, Duration::from_secs(10)));
        let client = RetryLayer::new(3)
            .with_backoff(Backoff::new(
                Duration::from_millis(1),
                Duration::from_millis(20),
            ))
            .with_budget(budget)
            .with_metrics(metrics.clone())
            .layer(lb);
        let client = MetricsLayer::new(metrics.clone()).layer(client);

        // Each phase lasts a number of calls, not a time, so that a slow
        // machine makes it longer rather than emptier.
        let load = Load::start(client, 4);
        load.made(1000).await;
        let (c1, f1) = load.figures();
        let s1 = served(&servers);

        // Abrupt death: listener and connections closed, registrations no
        // longer kept alive (the lease expires after its 2 s TTL). The phase
        // lasts until discovery has dropped it, and 1000 calls more.
        let victim = servers[0].addr.clone();
        servers[0].kill();
        drop(registries.remove(0));
        wait_for(&mut watch, 2, Duration::from_secs(30)).await;
        let known_after_death = watch.current().len();
        assert!(
            watch.current().iter().all(|i| i.address != victim),
            "discovery dropped the victim: {:?}",
            watch.current()
        );
        load.made(1000).await;
        let (c2, f2) = load.figures();
        let s2 = served(&servers);

        // It comes back on the same address and registers again.
        servers[0] = EchoServer::start(Some(&victim)).await;
        // The restarted instance counts from zero, so the restart phase is
        // measured from here, not from `s2` (the dead instance's count).
        let s2_restart = served(&servers);
        let revived = EtcdRegistry::new(config(&etcd));
        register_all(&revived, &servers[..1]).await;
        // The phase lasts until discovery has it again, and 1000 calls more.
        wait_for(&mut watch, 3, Duration::from_secs(30)).await;
        load.made(1000).await;
        let (c3, f3) = load.stop().await;
        let s3 = served(&servers);

        let scope = format!("echo/{victim}");
        let refused = metrics.retries_refused("echo") as usize;
        println!("proof: phase        calls  failures  served per instance [victim, b, c]");
        println!("proof: steady      {:6}  {:8}  {:?}", c1, f1, s1);
        println!(
            "proof: victim dead {:6}  {:8}  {:?}",
            c2 - c1,
            f2 - f1,
            delta(&s2, &s1)
        );
        println!(
            "proof: restarted   {:6}  {:8}  {:?}",
            c3 - c2,
            f3 - f2,
            delta(&s3, &s2_restart)
        );
        println!(
            "proof: retries sent {}, refused by budget {}, breaker {scope}: opened {} times, closed {} times; instances known after death: {known_after_death}",
            metrics.retries("echo"),
            refused,
            metrics.breaker_transitions(&scope, BreakerState::Open),
            metrics.breaker_transitions(&scope, BreakerState::Closed),
        );

        assert_eq!(f1, 0, "no failure in steady state");
        assert!(
            f3 <= refused,
            "a call fails only when the budget refused its retry ({f3} > {refused})"
        );
        assert!(
            metrics.breaker_transitions(&scope, BreakerState::Open) >= 1,
            "the victim's breaker opened"
        );
        assert_eq!(
            known_after_death, 2,
            "its lease expired and discovery dropped it"
        );
        let dead = delta(&s2, &s1);
        assert_eq!(dead[0], 0);
        assert!(
            dead[1] > 100 && dead[2] > 100,
            "traffic moved to the others: {dead:?}"
        );
        let back = delta(&s3, &s2_restart);
        assert!(
            back[0] * 10 > (back[0] + back[1] + back[2]),
            "the restarted instance gets traffic again: {back:?}"
        );
        assert_eq!(watch.current().len(), 3);
    }
);

wego_test_support::each_backend!(etcd_restarts_under_load, |backend| async move {
    let Some(mut etcd) = EtcdServer::start("etcd_restarts_under_load", backend).await else {
        return;
    };
    let servers = vec![
        EchoServer::start(None).await,
        EchoServer::start(None).await,
        EchoServer::start(None).await,
    ];
    let registry = EtcdRegistry::new(config(&etcd));
    register_all(&registry, &servers).await;
    let discover = EtcdDiscover::new(config(&etcd));
    let mut watch = discover.discover("echo").await.unwrap();
    wait_for(&mut watch, 3, Duration::from_secs(5)).await;
    let lb = LoadBalanceLayer::new("echo", watch.clone(), RoundRobin::new).layer(make_client);
    let client = RetryLayer::new(3).with_backoff(Backoff::none()).layer(lb);
    let load = Load::start(client, 2);

    // A fresh discovery's first read counts the registrations in etcd.
    let count_keys = |etcd_config: EtcdConfig| async move {
        EtcdDiscover::new(etcd_config)
            .discover("echo")
            .await
            .unwrap()
            .current()
            .len()
    };

    for wipe in [false, true] {
        // Down for longer than the leases' TTL (2 s). This sleep orders
        // nothing: how long etcd stays away is the property under test
        // (clients keep their instances, and registrations come back, after
        // an outage longer than a lease lives without keep-alives), and no
        // event marks that time.
        etcd.kill();
        wego_netpoll::rt::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            watch.current().len(),
            3,
            "clients keep their last known instances while etcd is down"
        );
        etcd.restart(wipe).await;
        let back = wego_netpoll::rt::timeout(Duration::from_secs(15), async {
            loop {
                if count_keys(config(&etcd)).await == 3 {
                    break;
                }
                wego_netpoll::rt::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            back.is_ok(),
            "registrations came back after restart (wipe: {wipe})"
        );
        // The registrations stay, i.e. their leases are kept alive again:
        // seven more keep-alives per registration (one every TTL/3, each
        // acknowledged with its lease alive) span two TTLs, long enough for
        // a lease granted before the restart and not kept alive to expire.
        let kept = registry.keep_alives();
        until("21 keep-alives", Duration::from_secs(60), || {
            registry.keep_alives() >= kept + 21
        })
        .await;
        assert_eq!(count_keys(config(&etcd)).await, 3, "wipe: {wipe}");
        assert_eq!(watch.current().len(), 3, "wipe: {wipe}");
        println!(
            "proof: etcd restart (wipe: {wipe}): registrations back, {:?} calls/failures so far",
            load.figures()
        );
    }
    let (calls, failures) = load.stop().await;
    println!("proof: etcd restarts under load: {calls} calls, {failures} failures");
    assert_eq!(failures, 0, "etcd being down never fails a call");
    assert!(calls > 100);
});
