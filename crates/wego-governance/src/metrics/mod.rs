//! Metrics: a [`MetricsLayer`] that records calls, a [`Metrics`] set with
//! Prometheus text exposition, and a tiny HTTP endpoint serving it
//! ([`serve`]).
//!
//! Families: `wego_requests_total{service,method,status}`,
//! `wego_errors_total{service,method,kind}`,
//! `wego_request_duration_seconds{service,method}` (histogram),
//! `wego_in_flight{service,method}`, `wego_retries_total{service,outcome}`,
//! `wego_breaker_state{scope}` and `wego_breaker_transitions_total{scope,to}`.
//!
//! A set built with [`Metrics::with_recorder`] also hands every
//! measurement to a [`MetricsRecorder`] (an OpenTelemetry meter, say).
//!
//! The `service` and `method` labels are bounded: past
//! [`Metrics::with_max_label_sets`] distinct pairs, or for a value longer
//! than [`Metrics::with_max_label_len`], a call is counted under
//! `service="_other", method="_other"` ([`OVERFLOW_LABEL`]), so a peer
//! that makes up method names cannot grow the set without end.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tower_layer::Layer;
use tower_service::Service;
use wego_netpoll::rt;

use self::registry::CallLabels;
use crate::{CallInfo, Classify};

mod endpoint;
mod recorder;
mod registry;

pub use endpoint::serve;
pub use recorder::MetricsRecorder;
pub use registry::{LATENCY_BUCKETS, Metrics, OVERFLOW_LABEL};

/// Records each call's count, errors by kind, latency and in-flight gauge.
/// Latency is measured on the runtime's clock ([`rt::now`]).
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl MetricsLayer {
    /// Records into `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        MetricsLayer { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> MetricsService<S> {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// A service whose calls are recorded in a [`Metrics`] set.
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

/// Ends the in-flight count even when the call is cancelled.
struct CallGuard {
    metrics: Metrics,
    labels: CallLabels,
    started: Instant,
    done: bool,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            self.metrics.end_call(
                &self.labels.0,
                &self.labels.1,
                rt::now().saturating_duration_since(self.started),
                Some("cancelled"),
            );
        }
    }
}

impl<S, Req> Service<Req> for MetricsService<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    S::Error: Classify,
    Req: CallInfo,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let labels = self.metrics.start_call(req.callee(), req.method());
        let mut guard = CallGuard {
            metrics: self.metrics.clone(),
            labels,
            started: rt::now(),
            done: false,
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            guard.done = true;
            let kind = res.as_ref().err().map(Classify::kind);
            let latency = rt::now().saturating_duration_since(guard.started);
            guard
                .metrics
                .end_call(&guard.labels.0, &guard.labels.1, latency, kind);
            res
        })
    }
}
