//! Retries: max attempts, backoff with jitter, retryable and idempotent
//! calls only, a retry budget, and never the same instance twice when
//! others exist. No retry starts whose backoff would end at or past the
//! call's [`CallInfo::deadline`]; backoff and deadline are on the runtime's
//! clock ([`rt::now`], [`rt::sleep`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;
use wego_netpoll::rt;

use crate::attempt::Attempt;
use crate::metrics::Metrics;
use crate::{CallInfo, Classify, Error};

mod budget;

pub use budget::RetryBudget;

/// Exponential backoff with full jitter: attempt `n` (1-based) waits a
/// uniform time in `[0, min(max, base × 2^(n-1))]`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// Creates a backoff.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max: max.max(base),
        }
    }

    /// No wait between attempts.
    pub fn none() -> Self {
        Backoff::new(Duration::ZERO, Duration::ZERO)
    }

    /// The wait before retry number `retry` (1-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max);
        cap.mul_f64(fastrand::f64())
    }
}

impl Default for Backoff {
    /// 10 ms doubling up to 1 s.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// Retries failed calls.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    max_attempts: u32,
    backoff: Backoff,
    budget: Arc<RetryBudget>,
    metrics: Option<Metrics>,
}

impl RetryLayer {
    /// At most `max_attempts` attempts in all (first call included), the
    /// default backoff and budget.
    pub fn new(max_attempts: u32) -> Self {
        RetryLayer {
            max_attempts: max_attempts.max(1),
            backoff: Backoff::default(),
            budget: Arc::new(RetryBudget::default()),
            metrics: None,
        }
    }

    /// Sets the backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the budget (share one `Arc` between layers to share it).
    pub fn with_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Counts retries in `metrics` (`wego_retries_total`).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            config: self.clone(),
        }
    }
}

/// A service that retries its inner service's retryable failures.
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    config: RetryLayer,
}

impl<S, Req> Service<Req> for Retry<S>
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
        cfg.budget.deposit();
        Box::pin(async move {
            let attempt = Attempt::new();
            let retryable_call = req.is_idempotent();
            let deadline = req.deadline();
            let mut n = 1u32;
            loop {
                let fut = attempt.scope(|| inner.call(req.clone()));
                let res = fut.await;
                let picked = attempt.take_picked();
                let err = match res {
                    Ok(resp) => return Ok(resp),
                    Err(e) => e,
                };
                if n >= cfg.max_attempts || !retryable_call || !err.is_retryable() {
                    return Err(err);
                }
                let delay = cfg.backoff.delay(n);
                if deadline.is_some_and(|d| rt::deadline_in(delay) >= d) {
                    return Err(err);
                }
                if !cfg.budget.withdraw() {
                    tracing::debug!(callee = req.callee(), "retry budget exhausted");
                    if let Some(m) = &cfg.metrics {
                        m.record_retry(req.callee(), false);
                    }
                    return Err(err);
                }
                if let Some(m) = &cfg.metrics {
                    m.record_retry(req.callee(), true);
                }
                if let Some(addr) = picked {
                    attempt.exclude(addr);
                }
                tracing::debug!(
                    callee = req.callee(),
                    attempt = n + 1,
                    kind = err.kind(),
                    "retrying"
                );
                if !delay.is_zero() {
                    rt::sleep(delay).await;
                }
                n += 1;
                futures_util::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            }
        })
    }
}
