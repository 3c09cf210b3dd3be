//! The cost of one load-balancer pick, per balancer, for 10 and 100
//! instances (all available, and with one in three unavailable).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use wego_governance::Instance;
use wego_governance::lb::{Balancer, ConsistentHash, Node, PowerOfTwo, RoundRobin, WeightedRandom};
use wego_netpoll::Address;

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

criterion_group!(benches, bench);
criterion_main!(benches);
