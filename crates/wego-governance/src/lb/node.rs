//! A balancer's view of one instance: [`Node`] with its live load figures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wego_netpoll::rt;

use crate::Instance;
use crate::breaker::CircuitBreaker;

/// Time constant of the latency EWMA: older samples fade with e^(-Δt/τ).
const EWMA_TAU: Duration = Duration::from_secs(10);
/// The latency assumed for an instance without samples (optimistic, so new
/// instances get traffic).
const INITIAL_LATENCY: Duration = Duration::from_millis(1);

/// Live load figures of one instance, kept across instance-set changes.
///
/// Call latency is measured on the runtime's clock ([`rt::now`]).
#[derive(Debug)]
pub struct Stats {
    in_flight: AtomicUsize,
    ewma: Mutex<(f64, Option<Instant>)>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            in_flight: AtomicUsize::new(0),
            ewma: Mutex::new((INITIAL_LATENCY.as_secs_f64(), None)),
        }
    }
}

impl Stats {
    /// Calls in flight to this instance.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The latency EWMA.
    pub fn latency(&self) -> Duration {
        let g = self.ewma.lock().unwrap_or_else(PoisonError::into_inner);
        Duration::from_secs_f64(g.0)
    }

    /// Adds a latency sample.
    pub fn observe(&self, latency: Duration, now: Instant) {
        let mut g = self.ewma.lock().unwrap_or_else(PoisonError::into_inner);
        let sample = latency.as_secs_f64();
        g.0 = match g.1 {
            None => sample,
            Some(last) => {
                let dt = now.saturating_duration_since(last).as_secs_f64();
                let w = (-dt / EWMA_TAU.as_secs_f64()).exp();
                // Peak-EWMA (Finagle, linkerd): a slower sample counts at once.
                if sample > g.0 {
                    sample
                } else {
                    g.0 * w + sample * (1.0 - w)
                }
            }
        };
        g.1 = Some(now);
    }

    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            stats: self.clone(),
            started: rt::now(),
        }
    }
}

/// Counts one call in flight until dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    stats: Arc<Stats>,
    started: Instant,
}

impl InFlight {
    pub(crate) fn finish(self, observe: bool) {
        if observe {
            let now = rt::now();
            self.stats
                .observe(now.saturating_duration_since(self.started), now);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One instance as a [`Balancer`](super::Balancer) sees it.
#[derive(Debug, Clone)]
pub struct Node {
    instance: Instance,
    stats: Arc<Stats>,
    pub(crate) breaker: Option<Arc<CircuitBreaker>>,
}

impl Node {
    /// Creates a node with fresh figures.
    pub fn new(instance: Instance) -> Self {
        Node {
            instance,
            stats: Arc::default(),
            breaker: None,
        }
    }

    pub(crate) fn with_parts(
        instance: Instance,
        stats: Arc<Stats>,
        breaker: Option<Arc<CircuitBreaker>>,
    ) -> Self {
        Node {
            instance,
            stats,
            breaker,
        }
    }

    /// The instance.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The instance's weight.
    pub fn weight(&self) -> u32 {
        self.instance.weight
    }

    /// Its live figures.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }
}
