//! Backup requests (hedging): if a call has not answered after a delay,
//! send the same request to another instance; the first answer wins and the
//! others are cancelled (dropped).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tower_layer::Layer;
use tower_service::Service;

use crate::attempt::Attempt;
use crate::metrics::Metrics;
use crate::retry::RetryBudget;
use crate::{CallInfo, Classify, Error};

/// Sends backup requests for slow idempotent calls.
#[derive(Debug, Clone)]
pub struct HedgeLayer {
    delay: Duration,
    max_extra: u32,
    budget: Option<Arc<RetryBudget>>,
    metrics: Option<Metrics>,
}

impl HedgeLayer {
    /// Sends up to `max_extra` backups, one every `delay` while no attempt
    /// has answered.
    pub fn new(delay: Duration, max_extra: u32) -> Self {
        HedgeLayer {
            delay,
            max_extra,
            budget: None,
            metrics: None,
        }
    }

    /// Takes each backup from a retry budget (skipped when it is spent).
    pub fn with_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Counts backups in `metrics` (as retries of kind `backup`).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl<S> Layer<S> for HedgeLayer {
    type Service = Hedge<S>;
    fn layer(&self, inner: S) -> Hedge<S> {
        Hedge {
            inner,
            config: self.clone(),
        }
    }
}

/// A service that hedges slow calls to its inner service.
#[derive(Debug, Clone)]
pub struct Hedge<S> {
    inner: S,
    config: HedgeLayer,
}

type Attempts<R, E> = FuturesUnordered<Pin<Box<dyn Future<Output = Result<R, E>> + Send>>>;

impl<S, Req> Service<Req> for Hedge<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Classify + From<Error> + Send + 'static,
    S::Response: Send + 'static,
    Req: CallInfo + Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let cfg = self.config.clone();
        if let Some(b) = &cfg.budget {
            b.deposit();
        }
        // Nested under a retry: avoid what it avoids, and report the first
        // pick to it so that its next attempt avoids that instance too.
        let parent = Attempt::current();
        let attempt = Attempt::inherit();
        let first = attempt.scope(|| inner.call(req.clone()));
        let first_pick = attempt.take_picked();
        if let (Some(p), Some(addr)) = (&parent, &first_pick) {
            p.set_picked(addr.clone());
        }
        if !req.is_idempotent() || cfg.max_extra == 0 {
            return Box::pin(first);
        }
        Box::pin(async move {
            let mut running: Attempts<S::Response, S::Error> = FuturesUnordered::new();
            running.push(Box::pin(first));
            if let Some(a) = first_pick {
                attempt.exclude(a);
            }
            let mut extra = 0u32;
            let mut last_err = None;
            loop {
                let can_hedge = extra < cfg.max_extra;
                tokio::select! {
                    biased;
                    done = running.next(), if !running.is_empty() => match done {
                        Some(Ok(resp)) => return Ok(resp),
                        Some(Err(e)) => {
                            let retryable = e.is_retryable();
                            last_err = Some(e);
                            if !running.is_empty() {
                                continue;
                            }
                            // Nothing left in flight: a backup now is a
                            // retry, made only for retryable errors.
                            if !(can_hedge && retryable) {
                                break;
                            }
                        }
                        None => break,
                    },
                    () = wego_netpoll::rt::sleep(cfg.delay), if can_hedge => {}
                    else => break,
                }
                extra += 1;
                if cfg.budget.as_ref().is_some_and(|b| !b.withdraw()) {
                    if running.is_empty() {
                        break;
                    }
                    continue;
                }
                if let Some(m) = &cfg.metrics {
                    m.record_retry(req.callee(), true);
                }
                tracing::debug!(
                    callee = req.callee(),
                    backup = extra,
                    "sending a backup request"
                );
                futures_util::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
                let fut = attempt.scope(|| inner.call(req.clone()));
                if let Some(a) = attempt.take_picked() {
                    attempt.exclude(a);
                }
                running.push(Box::pin(fut));
            }
            Err(last_err.unwrap_or_else(|| Error::no_instance(req.callee()).into()))
        })
    }
}
