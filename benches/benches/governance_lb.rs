//! The cost of one load-balancer pick, per balancer, for 10 and 100
//! instances (all available, and with one in three unavailable); and the
//! per-call overhead of the governance client stack over a service that
//! answers at once.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tower_layer::Layer;
use wego_governance::breaker::{BreakerConfig, Breakers};
use wego_governance::lb::{
    Balancer, ConsistentHash, LoadBalanceLayer, Node, PowerOfTwo, RoundRobin, WeightedRandom,
};
use wego_governance::metrics::{Metrics, MetricsLayer};
use wego_governance::retry::RetryLayer;
use wego_governance::timeout::TimeoutLayer;
use wego_governance::trace::TraceLayer;
use wego_governance::{BoxError, Call, Instance, InstanceWatch};
use wego_netpoll::Address;
use wego_netpoll::rt::Runtime;

fn nodes(n: usize) -> Vec<Node> {
    (0..n)
        .map(|i| {
            let port = 10_000 + u16::try_from(i).expect("invariant: small n");
            Node::new(
                Instance::new(Address::Tcp(([10, 0, 0, 1], port).into()))
                    .with_weight(50 + (i as u32 % 3) * 50),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("governance_lb_pick");
    for n in [10usize, 100] {
        let ns = nodes(n);
        let balancers: Vec<Box<dyn Balancer>> = vec![
            Box::new(RoundRobin::new()),
            Box::new(WeightedRandom::new()),
            Box::new(ConsistentHash::default()),
            Box::new(PowerOfTwo::new()),
        ];
        for mut b in balancers {
            b.rebuild(&ns);
            let mut key = 0u64;
            group.bench_function(BenchmarkId::new(b.name(), n), |bench| {
                bench.iter(|| {
                    key = key.wrapping_add(1);
                    black_box(b.pick(&ns, Some(key), &|_| true))
                })
            });
            group.bench_function(
                BenchmarkId::new(format!("{}_partial", b.name()), n),
                |bench| {
                    bench.iter(|| {
                        key = key.wrapping_add(1);
                        black_box(b.pick(&ns, Some(key), &|i| i % 3 != 0))
                    })
                },
            );
        }
    }
    group.finish();
}

/// A service that answers at once: what remains is the layers' cost.
#[derive(Clone)]
struct Instant0;

impl tower_service::Service<Call<u32>> for Instant0 {
    type Response = u32;
    type Error = BoxError;
    type Future = std::future::Ready<Result<u32, BoxError>>;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Call<u32>) -> Self::Future {
        std::future::ready(Ok(req.body))
    }
}

fn run<S>(rt: &Runtime, svc: &S, iters: u64) -> Duration
where
    S: tower_service::Service<Call<u32>, Response = u32> + Clone,
    S::Error: std::fmt::Debug,
{
    let mut svc = svc.clone();
    rt.block_on(async move {
        let start = Instant::now();
        for i in 0..iters {
            std::future::poll_fn(|cx| svc.poll_ready(cx))
                .await
                .expect("invariant: always ready");
            let r = svc.call(Call::new("bench", "echo", i as u32)).await;
            black_box(r.expect("invariant: the service never fails"));
        }
        start.elapsed()
    })
}

fn stack(c: &mut Criterion) {
    let rt = Runtime::builder()
        .worker_threads(NonZeroUsize::new(1).expect("invariant: 1 is non-zero"))
        .build()
        .expect("invariant: a runtime builds");
    let watch = InstanceWatch::fixed(nodes(3).iter().map(|n| n.instance().clone()).collect());
    let mut group = c.benchmark_group("governance_stack_call");
    group.bench_function("bare_service", |b| {
        b.iter_custom(|n| run(&rt, &Instant0, n))
    });
    let lb = LoadBalanceLayer::new("bench", watch.clone(), RoundRobin::new)
        .with_breaker(Breakers::new(BreakerConfig::default()))
        .layer(|_: &Instance| Instant0);
    group.bench_function("load_balance_with_breakers", |b| {
        b.iter_custom(|n| run(&rt, &lb, n))
    });
    let retry = RetryLayer::new(3).layer(lb.clone());
    group.bench_function("plus_retry", |b| b.iter_custom(|n| run(&rt, &retry, n)));
    let metrics = Metrics::new();
    let full = TraceLayer::new().layer(
        MetricsLayer::new(metrics).layer(TimeoutLayer::new(Duration::from_secs(1)).layer(retry)),
    );
    group.bench_function("plus_timeout_metrics_trace", |b| {
        b.iter_custom(|n| run(&rt, &full, n))
    });
    group.finish();
}

criterion_group!(benches, bench, stack);
criterion_main!(benches);
