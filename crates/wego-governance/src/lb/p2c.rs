//! Power of two choices on in-flight requests and latency (EWMA).
//!
//! Two distinct available instances are drawn at random; the one with the
//! lower cost `latency_ewma × (in_flight + 1) / weight` wins (the "P2C +
//! peak EWMA" of Finagle and linkerd). It needs no global state, reacts to a
//! slow or overloaded instance within a few calls, and avoids the herd
//! effect of always picking the least loaded.

use super::{Balancer, Node};

/// Power of two choices.
#[derive(Debug, Default)]
pub struct PowerOfTwo;

impl PowerOfTwo {
    /// Creates the balancer.
    pub fn new() -> Self {
        PowerOfTwo
    }

    fn cost(node: &Node) -> f64 {
        let s = node.stats();
        s.latency().as_secs_f64() * (s.in_flight() as f64 + 1.0) / f64::from(node.weight().max(1))
    }
}

impl Balancer for PowerOfTwo {
    fn name(&self) -> &'static str {
        "p2c"
    }

    fn rebuild(&mut self, _nodes: &[Node]) {}

    fn pick(
        &self,
        nodes: &[Node],
        _key: Option<u64>,
        available: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let n = nodes.len();
        let ok = |i: usize| nodes[i].weight() > 0 && available(i);
        let better = |a: usize, b: usize| {
            if Self::cost(&nodes[b]) < Self::cost(&nodes[a]) {
                b
            } else {
                a
            }
        };
        // Fast path: draw two distinct indices directly, without
        // allocating; most nodes are usually available.
        if n >= 2 {
            for _ in 0..4 {
                let (a, b) = two_distinct(n);
                if ok(a) && ok(b) {
                    return Some(better(a, b));
                }
            }
        }
        let candidates: Vec<usize> = (0..n).filter(|&i| ok(i)).collect();
        match candidates.len() {
            0 => None,
            1 => Some(candidates[0]),
            m => {
                let (a, b) = two_distinct(m);
                Some(better(candidates[a], candidates[b]))
            }
        }
    }
}

/// Two distinct uniform indices below `n` (n ≥ 2).
fn two_distinct(n: usize) -> (usize, usize) {
    let a = fastrand::usize(0..n);
    let mut b = fastrand::usize(0..n - 1);
    if b >= a {
        b += 1;
    }
    (a, b)
}
