//! Consistent hashing on a request key, with virtual nodes.
//!
//! Each instance owns `replicas × weight / 100` points on a 64-bit ring
//! (at least one), placed by hashing `"address#i"`. A key goes to the first
//! point clockwise whose instance is available. Adding or removing one of
//! `n` instances moves only about `1/n` of the keys (tested statistically);
//! a key of an unavailable instance falls to the next instance on the ring,
//! and comes back when it recovers. Requests without a key get a random one.

use super::{Balancer, Node};
use crate::DEFAULT_WEIGHT;

/// Consistent hashing with virtual nodes.
#[derive(Debug)]
pub struct ConsistentHash {
    replicas: u32,
    ring: Vec<(u64, usize)>,
}

impl Default for ConsistentHash {
    fn default() -> Self {
        Self::new(160)
    }
}

/// 64-bit FNV-1a followed by a splitmix64 finaliser: stable across builds
/// and processes (unlike std's `DefaultHasher`), and well mixed.
pub fn hash64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix64(h)
}

/// splitmix64's finaliser: spreads a key's bits over the ring.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl ConsistentHash {
    /// Creates the balancer with `replicas` virtual nodes per instance of
    /// default weight (160, as ketama uses, by default).
    pub fn new(replicas: u32) -> Self {
        ConsistentHash {
            replicas: replicas.max(1),
            ring: Vec::new(),
        }
    }
}

impl Balancer for ConsistentHash {
    fn name(&self) -> &'static str {
        "consistent_hash"
    }

    fn rebuild(&mut self, nodes: &[Node]) {
        self.ring.clear();
        for (idx, node) in nodes.iter().enumerate() {
            if node.weight() == 0 {
                continue;
            }
            let points = (u64::from(self.replicas) * u64::from(node.weight())
                / u64::from(DEFAULT_WEIGHT))
            .clamp(1, 10_000);
            let addr = node.instance().address.to_string();
            for i in 0..points {
                self.ring
                    .push((hash64(format!("{addr}#{i}").as_bytes()), idx));
            }
        }
        self.ring.sort_unstable();
    }

    fn pick(
        &self,
        _nodes: &[Node],
        key: Option<u64>,
        available: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        if self.ring.is_empty() {
            return None;
        }
        let h = mix64(key.unwrap_or_else(|| fastrand::u64(..)));
        let start = self.ring.partition_point(|&(p, _)| p < h);
        let n = self.ring.len();
        (0..n)
            .map(|k| self.ring[(start + k) % n].1)
            .find(|&idx| available(idx))
    }
}
