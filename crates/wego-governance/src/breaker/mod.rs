//! Circuit breakers: the state machine and a per-service layer.
//!
//! [`BreakerLayer`] keeps one [`CircuitBreaker`] per callee (from
//! [`CallInfo::callee`]); per-instance breakers live in the load balancer
//! ([`LoadBalanceLayer::with_breaker`](crate::lb::LoadBalanceLayer::with_breaker)),
//! which skips instances whose breaker is open.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::{CallInfo, Classify, Error};

mod state;

pub use state::{
    Admission, BreakerConfig, BreakerEvent, BreakerObserver, BreakerState, CircuitBreaker, Outcome,
};

/// Classifies a call's result for a breaker.
pub(crate) fn outcome_of<T, E: Classify>(res: &Result<T, E>) -> Outcome {
    match res {
        Ok(_) => Outcome::Success,
        Err(e) if e.is_breaker_failure() => Outcome::Failure,
        Err(_) => Outcome::Ignored,
    }
}

/// Records [`Outcome::Ignored`] if dropped before an outcome was recorded
/// (a cancelled call), so a half-open probe slot is never leaked.
pub(crate) struct Permit {
    admitted: Option<(Arc<CircuitBreaker>, Admission)>,
}

impl Permit {
    /// Asks `breaker` for a call: `None` if it refuses.
    pub(crate) fn acquire(breaker: Arc<CircuitBreaker>) -> Option<Self> {
        let admission = breaker.try_acquire()?;
        Some(Permit {
            admitted: Some((breaker, admission)),
        })
    }
    pub(crate) fn record(mut self, outcome: Outcome) {
        if let Some((b, admission)) = self.admitted.take() {
            b.record(admission, outcome);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some((b, admission)) = self.admitted.take() {
            b.record(admission, Outcome::Ignored);
        }
    }
}

/// A set of breakers keyed by name, sharing one configuration.
#[derive(Clone)]
pub struct Breakers {
    config: BreakerConfig,
    observer: Option<BreakerObserver>,
    map: Arc<Mutex<HashMap<String, Arc<CircuitBreaker>>>>,
}

impl std::fmt::Debug for Breakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breakers")
            .field("config", &self.config)
            .finish()
    }
}

impl Breakers {
    /// Creates an empty set.
    pub fn new(config: BreakerConfig) -> Self {
        Breakers {
            config,
            observer: None,
            map: Arc::default(),
        }
    }

    /// Reports every breaker's state changes to `observer`.
    pub fn with_observer(mut self, observer: BreakerObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The breaker for `scope`, created closed on first use.
    pub fn get(&self, scope: &str) -> Arc<CircuitBreaker> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(b) = map.get(scope) {
            return b.clone();
        }
        let b = Arc::new(
            CircuitBreaker::new(scope, self.config.clone()).with_observer(self.observer.clone()),
        );
        map.insert(scope.to_owned(), b.clone());
        b
    }

    /// Every breaker's scope and state.
    pub fn states(&self) -> Vec<(String, BreakerState)> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<_> = map.iter().map(|(k, b)| (k.clone(), b.state())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Adds a circuit breaker per callee service.
#[derive(Debug, Clone)]
pub struct BreakerLayer {
    breakers: Breakers,
}

impl BreakerLayer {
    /// Creates the layer with its own set of breakers.
    pub fn new(config: BreakerConfig) -> Self {
        BreakerLayer {
            breakers: Breakers::new(config),
        }
    }

    /// Creates the layer over an existing set (to observe or share it).
    pub fn with_breakers(breakers: Breakers) -> Self {
        BreakerLayer { breakers }
    }
}

impl<S> Layer<S> for BreakerLayer {
    type Service = Breaker<S>;
    fn layer(&self, inner: S) -> Breaker<S> {
        Breaker {
            inner,
            breakers: self.breakers.clone(),
        }
    }
}

/// A service guarded by per-callee circuit breakers.
#[derive(Debug, Clone)]
pub struct Breaker<S> {
    inner: S,
    breakers: Breakers,
}

impl<S, Req> Service<Req> for Breaker<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    S::Error: Classify + From<Error>,
    S::Response: 'static,
    Req: CallInfo,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let breaker = self.breakers.get(req.callee());
        let Some(permit) = Permit::acquire(Arc::clone(&breaker)) else {
            let err = Error::breaker_open(breaker.scope());
            return Box::pin(async move { Err(err.into()) });
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            permit.record(outcome_of(&res));
            res
        })
    }
}
