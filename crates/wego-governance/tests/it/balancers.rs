//! Statistical tests of the balancers' distributions.

use std::collections::HashMap;

use wego_governance::lb::{Balancer, ConsistentHash, Node, PowerOfTwo, RoundRobin, WeightedRandom};

use crate::support::inst;

fn nodes(weights: &[u32]) -> Vec<Node> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| Node::new(inst(1000 + i as u16).with_weight(w)))
        .collect()
}

fn counts(b: &dyn Balancer, nodes: &[Node], n: usize) -> Vec<usize> {
    let mut c = vec![0; nodes.len()];
    for _ in 0..n {
        c[b.pick(nodes, None, &|_| true).unwrap()] += 1;
    }
    c
}

#[test]
fn smooth_round_robin_interleaves_by_weight() {
    let ns = nodes(&[5, 1, 1]);
    let mut rr = RoundRobin::new();
    rr.rebuild(&ns);
    let seq: Vec<usize> = (0..7)
        .map(|_| rr.pick(&ns, None, &|_| true).unwrap())
        .collect();
    assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0], "nginx's smooth sequence");
    assert_eq!(
        counts(&rr, &ns, 7000),
        [5000, 1000, 1000],
        "exact per cycle"
    );
}

#[test]
fn round_robin_skips_unavailable_and_zero_weight() {
    let ns = nodes(&[1, 0, 1, 1]);
    let mut rr = RoundRobin::new();
    rr.rebuild(&ns);
    let mut c = [0; 4];
    for _ in 0..300 {
        c[rr.pick(&ns, None, &|i| i != 2).unwrap()] += 1;
    }
    assert_eq!(c, [150, 0, 0, 150]);
    assert_eq!(rr.pick(&ns, None, &|_| false), None);
}

#[test]
fn weighted_random_follows_weights() {
    let ns = nodes(&[1, 2, 3, 4]);
    let n = 200_000;
    let c = counts(&WeightedRandom::new(), &ns, n);
    for (i, &got) in c.iter().enumerate() {
        let p = (i + 1) as f64 / 10.0;
        let mean = p * n as f64;
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (got as f64 - mean).abs() < 6.0 * sd,
            "node {i}: {got} vs {mean} ± {sd}"
        );
    }
}

#[test]
fn power_of_two_avoids_the_slow_instance() {
    let ns = nodes(&[100, 100, 100]);
    let now = std::time::Instant::now();
    ns[0]
        .stats()
        .observe(std::time::Duration::from_millis(200), now);
    ns[1]
        .stats()
        .observe(std::time::Duration::from_millis(2), now);
    ns[2]
        .stats()
        .observe(std::time::Duration::from_millis(2), now);
    let c = counts(&PowerOfTwo::new(), &ns, 30_000);
    // The slow node wins only when drawn against itself, which P2C never does.
    assert_eq!(c[0], 0, "{c:?}");
    assert!(c[1] > 12_000 && c[2] > 12_000, "{c:?}");
}

fn ring(ns: &[Node]) -> ConsistentHash {
    let mut ch = ConsistentHash::default();
    ch.rebuild(ns);
    ch
}

fn owner(ch: &ConsistentHash, ns: &[Node], key: u64) -> String {
    ns[ch.pick(ns, Some(key), &|_| true).unwrap()]
        .instance()
        .address
        .to_string()
}

#[test]
fn consistent_hash_is_balanced_and_sticky() {
    let ns = nodes(&[100; 10]);
    let ch = ring(&ns);
    let mut c: HashMap<String, usize> = HashMap::new();
    for k in 0..100_000u64 {
        *c.entry(owner(&ch, &ns, k)).or_default() += 1;
        assert_eq!(owner(&ch, &ns, k), owner(&ch, &ns, k));
    }
    for (a, n) in &c {
        assert!((6_000..14_000).contains(n), "{a} owns {n} of 100000 keys");
    }
}

#[test]
fn consistent_hash_remaps_about_one_nth_of_keys() {
    let keys = 50_000u64;
    let ten = nodes(&[100; 10]);
    let nine: Vec<Node> = ten[..9].to_vec();
    let eleven = nodes(&[100; 11]);
    let (r10, r9, r11) = (ring(&ten), ring(&nine), ring(&eleven));
    let removed = ten[9].instance().address.to_string();
    let added = eleven[10].instance().address.to_string();
    let (mut moved_rm, mut moved_add) = (0, 0);
    for k in 0..keys {
        let before = owner(&r10, &ten, k);
        let after_rm = owner(&r9, &nine, k);
        if before != after_rm {
            assert_eq!(before, removed, "only the removed instance's keys move");
            moved_rm += 1;
        }
        let after_add = owner(&r11, &eleven, k);
        if before != after_add {
            assert_eq!(after_add, added, "moved keys go to the new instance");
            moved_add += 1;
        }
    }
    let f_rm = moved_rm as f64 / keys as f64;
    let f_add = moved_add as f64 / keys as f64;
    println!("consistent hash remap: remove 1 of 10 -> {f_rm:.4}, add 11th -> {f_add:.4}");
    assert!((0.06..0.14).contains(&f_rm), "{f_rm}");
    assert!((0.055..0.13).contains(&f_add), "{f_add}");
}

#[test]
fn consistent_hash_falls_over_to_the_next_and_comes_back() {
    let ns = nodes(&[100; 5]);
    let ch = ring(&ns);
    for k in 0..1000u64 {
        let home = ch.pick(&ns, Some(k), &|_| true).unwrap();
        let other = ch.pick(&ns, Some(k), &|i| i != home).unwrap();
        assert_ne!(home, other);
        assert_eq!(ch.pick(&ns, Some(k), &|_| true).unwrap(), home);
    }
}

#[test]
fn weights_scale_consistent_hash_shares() {
    let ns = nodes(&[100, 300]);
    let ch = ring(&ns);
    let heavy = (0..40_000u64)
        .filter(|&k| ch.pick(&ns, Some(k), &|_| true) == Some(1))
        .count();
    assert!((25_000..35_000).contains(&heavy), "{heavy}");
}
