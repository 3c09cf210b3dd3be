//! Smooth weighted round robin (nginx's algorithm).
//!
//! Each pick adds every candidate's weight to its current value, takes the
//! largest, and subtracts the total from the winner. Over any window of
//! `Σw` picks each instance is chosen exactly `w` times, interleaved rather
//! than in bursts (weights 5,1,1 give a a b a c a a, not a a a a a b c).

use std::sync::{Mutex, PoisonError};

use super::{Balancer, Node};

/// Smooth weighted round robin.
#[derive(Debug, Default)]
pub struct RoundRobin {
    current: Mutex<Vec<i64>>,
}

impl RoundRobin {
    /// Creates the balancer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Balancer for RoundRobin {
    fn name(&self) -> &'static str {
        "round_robin"
    }

    fn rebuild(&mut self, nodes: &[Node]) {
        *self
            .current
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = vec![0; nodes.len()];
    }

    fn pick(
        &self,
        nodes: &[Node],
        _key: Option<u64>,
        available: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut cur = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if cur.len() != nodes.len() {
            *cur = vec![0; nodes.len()];
        }
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for (i, node) in nodes.iter().enumerate() {
            let w = i64::from(node.weight());
            if w == 0 || !available(i) {
                continue;
            }
            cur[i] += w;
            total += w;
            if best.is_none_or(|b| cur[i] > cur[b]) {
                best = Some(i);
            }
        }
        let b = best?;
        cur[b] -= total;
        Some(b)
    }
}
