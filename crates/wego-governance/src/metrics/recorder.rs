//! [`MetricsRecorder`]: where a [`Metrics`](super::Metrics) set forwards
//! each measurement besides its own Prometheus families.

use std::fmt::Debug;
use std::time::Duration;

use crate::breaker::BreakerEvent;

/// Receives every measurement a [`Metrics`](super::Metrics) set records,
/// with the same names and labels as its Prometheus families (bounded the
/// same way: past its limits a call's `service` and `method` are
/// [`OVERFLOW_LABEL`](super::OVERFLOW_LABEL)). An
/// OpenTelemetry meter (the `wego-otel` crate) implements it to export
/// the same instruments over OTLP.
///
/// Methods run on the request path: they must be
/// quick and must not block (record into atomics or an SDK instrument).
pub trait MetricsRecorder: Send + Sync + Debug + 'static {
    /// A call started (`wego_in_flight{service,method}` + 1).
    fn call_started(&self, service: &str, method: &str);

    /// A call ended (`wego_in_flight` − 1,
    /// `wego_requests_total{service,method,status}`,
    /// `wego_request_duration_seconds{service,method}`, and
    /// `wego_errors_total{service,method,kind}` when `error` is the kind).
    fn call_ended(&self, service: &str, method: &str, latency: Duration, error: Option<&str>);

    /// A retry was sent (`outcome = sent`) or refused by the budget
    /// (`outcome = budget_exhausted`): `wego_retries_total{service,outcome}`.
    fn retry(&self, service: &str, outcome: &'static str);

    /// A breaker changed state: `wego_breaker_state{scope}` and
    /// `wego_breaker_transitions_total{scope,to}`.
    fn breaker(&self, event: &BreakerEvent);
}
