//! [`OtelRecorder`]: governance's metric families as OpenTelemetry
//! instruments.
//!
//! | Prometheus family (wego-governance) | OpenTelemetry instrument | labels |
//! |---|---|---|
//! | `wego_requests_total` | counter `wego.requests` | `service`, `method`, `status` |
//! | `wego_errors_total` | counter `wego.errors` | `service`, `method`, `kind` |
//! | `wego_request_duration_seconds` | histogram `wego.request.duration` (s, same buckets) | `service`, `method` |
//! | `wego_in_flight` | up-down counter `wego.in_flight` | `service`, `method` |
//! | `wego_retries_total` | counter `wego.retries` | `service`, `outcome` |
//! | `wego_breaker_state` | gauge `wego.breaker.state` | `scope` |
//! | `wego_breaker_transitions_total` | counter `wego.breaker.transitions` | `scope`, `to` |

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, UpDownCounter};
use wego_governance::breaker::BreakerEvent;
use wego_governance::metrics::{LATENCY_BUCKETS, MetricsRecorder};

/// Records governance's measurements into OpenTelemetry instruments.
/// Pass it to `wego_governance::metrics::Metrics::with_recorder`, or take
/// a ready set from `Telemetry::metrics`.
#[derive(Debug)]
pub struct OtelRecorder {
    requests: Counter<u64>,
    errors: Counter<u64>,
    duration: Histogram<f64>,
    in_flight: UpDownCounter<i64>,
    retries: Counter<u64>,
    breaker_state: Gauge<i64>,
    breaker_transitions: Counter<u64>,
}

impl OtelRecorder {
    /// Creates the instruments on `meter`.
    pub fn new(meter: &Meter) -> OtelRecorder {
        OtelRecorder {
            requests: meter
                .u64_counter("wego.requests")
                .with_description("Calls completed.")
                .build(),
            errors: meter
                .u64_counter("wego.errors")
                .with_description("Failed calls by error kind.")
                .build(),
            duration: meter
                .f64_histogram("wego.request.duration")
                .with_unit("s")
                .with_description("Call latency.")
                .with_boundaries(LATENCY_BUCKETS.to_vec())
                .build(),
            in_flight: meter
                .i64_up_down_counter("wego.in_flight")
                .with_description("Calls in flight.")
                .build(),
            retries: meter
                .u64_counter("wego.retries")
                .with_description("Retries and backup requests, sent or refused by the budget.")
                .build(),
            breaker_state: meter
                .i64_gauge("wego.breaker.state")
                .with_description("Circuit breaker state: 0 closed, 1 open, 2 half-open.")
                .build(),
            breaker_transitions: meter
                .u64_counter("wego.breaker.transitions")
                .with_description("Circuit breaker state changes by new state.")
                .build(),
        }
    }
}

fn call_labels(service: &str, method: &str) -> [KeyValue; 2] {
    [
        KeyValue::new("service", service.to_owned()),
        KeyValue::new("method", method.to_owned()),
    ]
}

impl MetricsRecorder for OtelRecorder {
    fn call_started(&self, service: &str, method: &str) {
        self.in_flight.add(1, &call_labels(service, method));
    }

    fn call_ended(&self, service: &str, method: &str, latency: Duration, error: Option<&str>) {
        let labels = call_labels(service, method);
        self.in_flight.add(-1, &labels);
        self.duration.record(latency.as_secs_f64(), &labels);
        let [s, m] = labels;
        let status = if error.is_some() { "error" } else { "ok" };
        self.requests
            .add(1, &[s.clone(), m.clone(), KeyValue::new("status", status)]);
        if let Some(kind) = error {
            self.errors
                .add(1, &[s, m, KeyValue::new("kind", kind.to_owned())]);
        }
    }

    fn retry(&self, service: &str, outcome: &'static str) {
        self.retries.add(
            1,
            &[
                KeyValue::new("service", service.to_owned()),
                KeyValue::new("outcome", outcome),
            ],
        );
    }

    fn breaker(&self, event: &BreakerEvent) {
        let scope = KeyValue::new("scope", event.scope.to_string());
        self.breaker_state
            .record(i64::from(event.to.as_gauge()), std::slice::from_ref(&scope));
        self.breaker_transitions
            .add(1, &[scope, KeyValue::new("to", event.to.name())]);
    }
}
