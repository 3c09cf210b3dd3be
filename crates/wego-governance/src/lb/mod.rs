//! Load balancing: the [`Balancer`] trait, four balancers, and the
//! [`LoadBalance`] service that picks an instance per call.
//!
//! # Writing a balancer
//!
//! A balancer sees the instance set as a slice of [`Node`]s (instance, weight,
//! in-flight calls, latency EWMA). [`Balancer::rebuild`] runs when the set
//! changes (precompute rings, tables); [`Balancer::pick`] runs per call and
//! must return the index of a node for which `available(i)` is true, or
//! `None`. Availability folds in open per-instance breakers and the instances
//! a retry must avoid, so a balancer never needs to know about either.
//!
//! ```
//! use wego_governance::lb::{Balancer, LoadBalanceLayer, Node};
//! use wego_governance::{Instance, InstanceWatch};
//! use tower_layer::Layer;
//!
//! /// Always the available instance with the fewest calls in flight.
//! struct LeastInFlight;
//!
//! impl Balancer for LeastInFlight {
//!     fn name(&self) -> &'static str {
//!         "least_in_flight"
//!     }
//!     fn rebuild(&mut self, _nodes: &[Node]) {}
//!     fn pick(&self, nodes: &[Node], _key: Option<u64>, ok: &dyn Fn(usize) -> bool) -> Option<usize> {
//!         (0..nodes.len()).filter(|&i| ok(i)).min_by_key(|&i| nodes[i].stats().in_flight())
//!     }
//! }
//!
//! let nodes = vec![Node::new(Instance::new("127.0.0.1:1".parse().unwrap()))];
//! assert_eq!(LeastInFlight.pick(&nodes, None, &|_| true), Some(0));
//! let watch = InstanceWatch::fixed(vec![]);
//! let _lb = LoadBalanceLayer::new("svc", watch, || LeastInFlight).layer(|_: &Instance| ());
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;
use wego_netpoll::Address;

use crate::attempt::Attempt;
use crate::breaker::{Breakers, Permit, outcome_of};
use crate::discovery::InstanceWatch;
use crate::{CallInfo, Classify, Error, Instance};

mod chash;
mod node;
mod p2c;
mod random;
mod swrr;

pub use chash::{ConsistentHash, hash64, mix64};
pub use node::{Node, Stats};
pub use p2c::PowerOfTwo;
pub use random::WeightedRandom;
pub use swrr::RoundRobin;

/// Chooses an instance for a call.
pub trait Balancer: Send + Sync + 'static {
    /// A short lowercase name, for logs and metrics.
    fn name(&self) -> &'static str;

    /// Recomputes internal state after the instance set changed.
    fn rebuild(&mut self, nodes: &[Node]);

    /// Returns the index of an available node, or `None` if none is.
    fn pick(
        &self,
        nodes: &[Node],
        key: Option<u64>,
        available: &dyn Fn(usize) -> bool,
    ) -> Option<usize>;
}

impl Balancer for Box<dyn Balancer> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn rebuild(&mut self, nodes: &[Node]) {
        (**self).rebuild(nodes);
    }
    fn pick(
        &self,
        nodes: &[Node],
        key: Option<u64>,
        available: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        (**self).pick(nodes, key, available)
    }
}

/// Builds [`LoadBalance`] services around a per-instance service factory.
pub struct LoadBalanceLayer {
    service: String,
    watch: InstanceWatch,
    balancer: Arc<dyn Fn() -> Box<dyn Balancer> + Send + Sync>,
    breakers: Option<Breakers>,
}

impl std::fmt::Debug for LoadBalanceLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadBalanceLayer")
            .field("service", &self.service)
            .finish()
    }
}

impl LoadBalanceLayer {
    /// Balances calls to `service` over `watch`'s instances with
    /// `balancer` (a constructor, called once per built service).
    pub fn new<B: Balancer>(
        service: impl Into<String>,
        watch: InstanceWatch,
        balancer: impl Fn() -> B + Send + Sync + 'static,
    ) -> Self {
        LoadBalanceLayer {
            service: service.into(),
            watch,
            balancer: Arc::new(move || Box::new(balancer())),
            breakers: None,
        }
    }

    /// Adds a circuit breaker per instance (scope `service/address`): open
    /// instances are skipped, half-open ones get probe calls.
    pub fn with_breaker(mut self, breakers: Breakers) -> Self {
        self.breakers = Some(breakers);
        self
    }
}

impl<M: MakeInstance> Layer<M> for LoadBalanceLayer {
    type Service = LoadBalance<M, ServiceOf<M>>;
    fn layer(&self, make: M) -> Self::Service {
        LoadBalance {
            shared: Arc::new(Shared {
                service: self.service.clone(),
                watch: self.watch.clone(),
                breakers: self.breakers.clone(),
                make,
                state: RwLock::new(State {
                    version: None,
                    nodes: Vec::new(),
                    services: Vec::new(),
                    balancer: (self.balancer)(),
                }),
            }),
        }
    }
}

/// The service type a factory `Fn(&Instance) -> S` makes.
pub type ServiceOf<M> = <M as MakeInstance>::Service;

/// A per-instance service factory: `Fn(&Instance) -> S`, called once per
/// instance (the result is cached and cloned per call, so it is typically a
/// connection pool handle).
pub trait MakeInstance {
    /// The per-instance service.
    type Service;
    /// Makes the service for `instance`.
    fn make(&self, instance: &Instance) -> Self::Service;
}

impl<F, S> MakeInstance for F
where
    F: Fn(&Instance) -> S,
{
    type Service = S;
    fn make(&self, instance: &Instance) -> S {
        self(instance)
    }
}

struct Shared<M, S> {
    service: String,
    watch: InstanceWatch,
    breakers: Option<Breakers>,
    make: M,
    state: RwLock<State<S>>,
}

struct State<S> {
    version: Option<u64>,
    nodes: Vec<Node>,
    services: Vec<S>,
    balancer: Box<dyn Balancer>,
}

/// Picks an instance per call and forwards to its (cached) service.
///
/// Readiness is checked on the picked instance's service inside the
/// response future, so `poll_ready` is always ready.
pub struct LoadBalance<M, S> {
    shared: Arc<Shared<M, S>>,
}

impl<M, S> Clone for LoadBalance<M, S> {
    fn clone(&self) -> Self {
        LoadBalance {
            shared: self.shared.clone(),
        }
    }
}

impl<M, S> std::fmt::Debug for LoadBalance<M, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadBalance")
            .field("service", &self.shared.service)
            .finish()
    }
}

impl<M, S> LoadBalance<M, S>
where
    M: MakeInstance<Service = S>,
    S: Clone,
{
    fn refresh(&self) {
        // The common case, nothing changed, costs one version read.
        let version = self.shared.watch.version();
        {
            let st = self
                .shared
                .state
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if st.version == Some(version) {
                return;
            }
        }
        let mut st = self
            .shared
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let (version, list) = self.shared.watch.snapshot();
        if st.version == Some(version) {
            return;
        }
        let mut old: HashMap<Address, (Node, S)> = std::mem::take(&mut st.nodes)
            .into_iter()
            .zip(std::mem::take(&mut st.services))
            .map(|(n, s)| (n.instance().address.clone(), (n, s)))
            .collect();
        let mut nodes = Vec::with_capacity(list.len());
        let mut services = Vec::with_capacity(list.len());
        for inst in list.iter() {
            let (stats, breaker, svc) = match old.remove(&inst.address) {
                Some((n, s)) => (n.stats().clone(), n.breaker.clone(), s),
                None => (
                    Arc::default(),
                    self.shared
                        .breakers
                        .as_ref()
                        .map(|b| b.get(&format!("{}/{}", self.shared.service, inst.address))),
                    self.shared.make.make(inst),
                ),
            };
            nodes.push(Node::with_parts(inst.clone(), stats, breaker));
            services.push(svc);
        }
        st.balancer.rebuild(&nodes);
        st.nodes = nodes;
        st.services = services;
        st.version = Some(version);
        tracing::debug!(service = %self.shared.service, instances = st.nodes.len(), "instance set changed");
    }

    /// The nodes currently balanced over.
    pub fn nodes(&self) -> Vec<Node> {
        self.refresh();
        let st = self
            .shared
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        st.nodes.clone()
    }
}

impl<M, S, Req> Service<Req> for LoadBalance<M, S>
where
    M: MakeInstance<Service = S>,
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Classify + From<Error> + Send + 'static,
    S::Response: Send + 'static,
    Req: CallInfo + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        self.refresh();
        let attempt = Attempt::current();
        let excluded = attempt.as_ref().map(|a| a.excluded()).unwrap_or_default();
        let picked = {
            let st = self
                .shared
                .state
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let nodes = &st.nodes;
            let healthy = |i: usize| {
                nodes[i]
                    .breaker
                    .as_ref()
                    .is_none_or(|b| b.is_call_permitted())
            };
            let key = req.hash_key();
            st.balancer
                .pick(nodes, key, &|i| {
                    healthy(i) && !excluded.contains(&nodes[i].instance().address)
                })
                .or_else(|| {
                    // Only excluded instances are left: going back beats failing.
                    if excluded.is_empty() {
                        None
                    } else {
                        st.balancer.pick(nodes, key, &healthy)
                    }
                })
                .map(|i| {
                    let node = &nodes[i];
                    let addr = &node.instance().address;
                    if let Some(a) = &attempt {
                        a.set_picked(addr.clone());
                    }
                    tracing::Span::current().record("peer", tracing::field::display(addr));
                    (
                        node.stats().clone(),
                        node.breaker.clone(),
                        st.services[i].clone(),
                    )
                })
        };
        let Some((stats, breaker, mut svc)) = picked else {
            let err = Error::no_instance(&self.shared.service);
            return Box::pin(async move { Err(err.into()) });
        };
        let permit = match breaker {
            Some(b) => match Permit::acquire(Arc::clone(&b)) {
                Some(p) => Some(p),
                None => {
                    let err = Error::breaker_open(b.scope());
                    return Box::pin(async move { Err(err.into()) });
                }
            },
            None => None,
        };
        let in_flight = stats.start();
        Box::pin(async move {
            let res = match futures_util::future::poll_fn(|cx| svc.poll_ready(cx)).await {
                Ok(()) => svc.call(req).await,
                Err(e) => Err(e),
            };
            let outcome = outcome_of(&res);
            in_flight.finish(res.is_ok());
            if let Some(p) = permit {
                p.record(outcome);
            }
            res
        })
    }
}
