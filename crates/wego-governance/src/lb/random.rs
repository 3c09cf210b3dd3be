//! Weighted random.

use super::{Balancer, Node};

/// Picks an instance at random with probability proportional to its weight.
#[derive(Debug, Default)]
pub struct WeightedRandom;

impl WeightedRandom {
    /// Creates the balancer.
    pub fn new() -> Self {
        WeightedRandom
    }
}

impl Balancer for WeightedRandom {
    fn name(&self) -> &'static str {
        "weighted_random"
    }

    fn rebuild(&mut self, _nodes: &[Node]) {}

    fn pick(
        &self,
        nodes: &[Node],
        _key: Option<u64>,
        available: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let weight = |i: usize| {
            if available(i) {
                u64::from(nodes[i].weight())
            } else {
                0
            }
        };
        let total: u64 = (0..nodes.len()).map(weight).sum();
        if total == 0 {
            return None;
        }
        let mut r = fastrand::u64(0..total);
        for i in 0..nodes.len() {
            let w = weight(i);
            if r < w {
                return Some(i);
            }
            r -= w;
        }
        None
    }
}
