//! The metric families and their Prometheus text exposition (format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::MetricsRecorder;
use crate::breaker::{BreakerEvent, BreakerObserver, BreakerState};

/// Latency histogram bucket bounds, in seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// A call's `service` and `method` labels, shared by its series and the
/// calls in flight under it.
pub(crate) type CallLabels = Arc<(String, String)>;

/// The `service` and `method` label values of the calls a [`Metrics`] set
/// records past its limits (see [`Metrics::with_max_label_sets`]).
pub const OVERFLOW_LABEL: &str = "_other";

/// Everything recorded under one `(service, method)` label set.
#[derive(Debug)]
struct Series {
    labels: CallLabels,
    in_flight: i64,
    ok: u64,
    failed: u64,
    /// Failed calls by error kind.
    errors: BTreeMap<String, u64>,
    latency: Histogram,
}

impl Series {
    fn new(service: &str, method: &str) -> Self {
        Series {
            labels: Arc::new((service.to_owned(), method.to_owned())),
            in_flight: 0,
            ok: 0,
            failed: 0,
            errors: BTreeMap::new(),
            latency: Histogram::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Families {
    /// Distinct `(service, method)` label sets admitted, the overflow one
    /// aside.
    label_sets: usize,
    /// Every label set's series, in the order first seen.
    series: Vec<Series>,
    /// Where each label set's series is in `series`, by service, then
    /// method: looked up by `&str`, so that a call under a known label set
    /// allocates nothing, and walked in label order to render.
    index: BTreeMap<String, BTreeMap<String, usize>>,
    retries: BTreeMap<(String, &'static str), u64>,
    breaker_state: BTreeMap<String, BreakerState>,
    breaker_transitions: BTreeMap<(String, &'static str), u64>,
}

impl Families {
    fn find(&self, service: &str, method: &str) -> Option<usize> {
        self.index.get(service)?.get(method).copied()
    }

    /// The series of `(service, method)`, made if it is new.
    fn series(&mut self, service: &str, method: &str) -> &mut Series {
        let i = match self.find(service, method) {
            Some(i) => i,
            None => {
                let i = self.series.len();
                self.series.push(Series::new(service, method));
                self.index
                    .entry(service.to_owned())
                    .or_default()
                    .insert(method.to_owned(), i);
                i
            }
        };
        &mut self.series[i]
    }

    /// The series in label order.
    fn each_series(&self) -> impl Iterator<Item = &Series> {
        self.index
            .values()
            .flat_map(BTreeMap::values)
            .map(|&i| &self.series[i])
    }
}

/// A set of governance metrics, shared by the layers that record into it
/// and rendered with [`Metrics::render`]. Cloning shares the same set.
///
/// The `service` and `method` labels come from the calls, and on a server
/// from the peer (a gRPC `:path`, a Thrift method name), so their number
/// is bounded: the first [`with_max_label_sets`](Self::with_max_label_sets)
/// distinct `(service, method)` pairs get their own series, and calls
/// under any other pair, or under a value longer than
/// [`with_max_label_len`](Self::with_max_label_len) bytes, are counted
/// under `service="_other", method="_other"` ([`OVERFLOW_LABEL`]). A set
/// keeps its series for its whole life.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Mutex<Families>>,
    recorder: Option<Arc<dyn MetricsRecorder>>,
    max_label_sets: usize,
    max_label_len: usize,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            inner: Arc::default(),
            recorder: None,
            max_label_sets: Self::DEFAULT_MAX_LABEL_SETS,
            max_label_len: Self::DEFAULT_MAX_LABEL_LEN,
        }
    }
}

impl Metrics {
    /// The default number of distinct `(service, method)` label sets, the
    /// OpenTelemetry SDK's default cardinality limit.
    pub const DEFAULT_MAX_LABEL_SETS: usize = 2000;

    /// The default length limit of a `service` or `method` label value,
    /// in bytes.
    pub const DEFAULT_MAX_LABEL_LEN: usize = 256;

    /// Creates an empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many distinct `(service, method)` label sets get series of
    /// their own (default [`DEFAULT_MAX_LABEL_SETS`](Self::DEFAULT_MAX_LABEL_SETS));
    /// calls under further pairs are counted under [`OVERFLOW_LABEL`].
    pub fn with_max_label_sets(mut self, n: usize) -> Self {
        self.max_label_sets = n;
        self
    }

    /// Sets the longest `service` or `method` label value kept, in bytes
    /// (default [`DEFAULT_MAX_LABEL_LEN`](Self::DEFAULT_MAX_LABEL_LEN));
    /// calls with a longer one are counted under [`OVERFLOW_LABEL`].
    pub fn with_max_label_len(mut self, n: usize) -> Self {
        self.max_label_len = n;
        self
    }

    /// Also hands every measurement to `recorder` (for example an
    /// OpenTelemetry meter); the Prometheus families are kept as well.
    pub fn with_recorder(mut self, recorder: Arc<dyn MetricsRecorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Families> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a call in flight; returns the labels it is counted under
    /// (its own, or the overflow labels), which its
    /// [`end_call`](Self::end_call) must use. Allocates only for a label
    /// set it has not seen.
    pub(crate) fn start_call(&self, service: &str, method: &str) -> CallLabels {
        let fits = service.len() <= self.max_label_len && method.len() <= self.max_label_len;
        let labels = {
            let mut f = self.lock();
            // A known label set is looked up once.
            let series = match fits.then(|| f.find(service, method)).flatten() {
                Some(i) => &mut f.series[i],
                None if fits && f.label_sets < self.max_label_sets => {
                    f.label_sets += 1;
                    f.series(service, method)
                }
                None => f.series(OVERFLOW_LABEL, OVERFLOW_LABEL),
            };
            series.in_flight += 1;
            Arc::clone(&series.labels)
        };
        if let Some(r) = &self.recorder {
            r.call_started(&labels.0, &labels.1);
        }
        labels
    }

    /// Counts a call's end under the labels [`start_call`](Self::start_call)
    /// returned: its status, its error kind and its latency.
    pub(crate) fn end_call(
        &self,
        service: &str,
        method: &str,
        latency: Duration,
        error: Option<&str>,
    ) {
        if let Some(r) = &self.recorder {
            r.call_ended(service, method, latency, error);
        }
        let mut f = self.lock();
        let series = f.series(service, method);
        series.in_flight -= 1;
        match error {
            None => series.ok += 1,
            Some(kind) => {
                series.failed += 1;
                match series.errors.get_mut(kind) {
                    Some(n) => *n += 1,
                    None => {
                        series.errors.insert(kind.to_owned(), 1);
                    }
                }
            }
        }
        let h = &mut series.latency;
        let secs = latency.as_secs_f64();
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Counts a retry (`sent`) or a retry refused by the budget.
    pub(crate) fn record_retry(&self, service: &str, sent: bool) {
        let outcome = if sent { "sent" } else { "budget_exhausted" };
        if let Some(r) = &self.recorder {
            r.retry(service, outcome);
        }
        *self
            .lock()
            .retries
            .entry((service.to_owned(), outcome))
            .or_default() += 1;
    }

    /// Records a breaker's state change.
    pub fn record_breaker(&self, event: &BreakerEvent) {
        if let Some(r) = &self.recorder {
            r.breaker(event);
        }
        let mut f = self.lock();
        f.breaker_state.insert(event.scope.to_string(), event.to);
        *f.breaker_transitions
            .entry((event.scope.to_string(), event.to.name()))
            .or_default() += 1;
    }

    /// An observer to pass to [`Breakers::with_observer`](crate::breaker::Breakers::with_observer).
    pub fn breaker_observer(&self) -> BreakerObserver {
        let m = self.clone();
        Arc::new(move |e: &BreakerEvent| m.record_breaker(e))
    }

    /// Requests recorded for a service (all methods and statuses).
    pub fn requests(&self, service: &str) -> u64 {
        self.lock()
            .each_series()
            .filter(|s| s.labels.0 == service)
            .map(|s| s.ok + s.failed)
            .sum()
    }

    /// Retries sent for a service.
    pub fn retries(&self, service: &str) -> u64 {
        self.lock()
            .retries
            .get(&(service.to_owned(), "sent"))
            .copied()
            .unwrap_or(0)
    }

    /// Retries refused by the budget for a service.
    pub fn retries_refused(&self, service: &str) -> u64 {
        self.lock()
            .retries
            .get(&(service.to_owned(), "budget_exhausted"))
            .copied()
            .unwrap_or(0)
    }

    /// How many times a breaker scope entered `state`.
    pub fn breaker_transitions(&self, scope: &str, state: BreakerState) -> u64 {
        self.lock()
            .breaker_transitions
            .get(&(scope.to_owned(), state.name()))
            .copied()
            .unwrap_or(0)
    }

    /// The last state recorded for a breaker scope.
    pub fn breaker_state(&self, scope: &str) -> Option<BreakerState> {
        self.lock().breaker_state.get(scope).copied()
    }

    /// Renders every family in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let f = self.lock();
        let mut out = String::new();
        family(
            &mut out,
            "wego_requests_total",
            "counter",
            "Calls completed.",
        );
        for series in f.each_series() {
            let (s, m) = &*series.labels;
            // "error" sorts before "ok".
            for (status, v) in [("error", series.failed), ("ok", series.ok)] {
                if v > 0 {
                    sample(
                        &mut out,
                        "wego_requests_total",
                        &[("service", s), ("method", m), ("status", status)],
                        v as f64,
                    );
                }
            }
        }
        family(
            &mut out,
            "wego_errors_total",
            "counter",
            "Failed calls by error kind.",
        );
        for series in f.each_series() {
            let (s, m) = &*series.labels;
            for (k, v) in &series.errors {
                sample(
                    &mut out,
                    "wego_errors_total",
                    &[("service", s), ("method", m), ("kind", k)],
                    *v as f64,
                );
            }
        }
        family(
            &mut out,
            "wego_request_duration_seconds",
            "histogram",
            "Call latency.",
        );
        for series in f.each_series().filter(|s| s.latency.count > 0) {
            let (s, m) = &*series.labels;
            let h = &series.latency;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                let le = bound.to_string();
                sample(
                    &mut out,
                    "wego_request_duration_seconds_bucket",
                    &[("service", s), ("method", m), ("le", &le)],
                    h.counts[i] as f64,
                );
            }
            let labels = [("service", s.as_str()), ("method", m.as_str())];
            sample(
                &mut out,
                "wego_request_duration_seconds_bucket",
                &[labels[0], labels[1], ("le", "+Inf")],
                h.count as f64,
            );
            sample(
                &mut out,
                "wego_request_duration_seconds_sum",
                &labels,
                h.sum,
            );
            sample(
                &mut out,
                "wego_request_duration_seconds_count",
                &labels,
                h.count as f64,
            );
        }
        family(&mut out, "wego_in_flight", "gauge", "Calls in flight.");
        for series in f.each_series() {
            let (s, m) = &*series.labels;
            sample(
                &mut out,
                "wego_in_flight",
                &[("service", s), ("method", m)],
                series.in_flight as f64,
            );
        }
        family(
            &mut out,
            "wego_retries_total",
            "counter",
            "Retries and backup requests, sent or refused by the budget.",
        );
        for ((s, o), v) in &f.retries {
            sample(
                &mut out,
                "wego_retries_total",
                &[("service", s), ("outcome", o)],
                *v as f64,
            );
        }
        family(
            &mut out,
            "wego_breaker_state",
            "gauge",
            "Circuit breaker state: 0 closed, 1 open, 2 half-open.",
        );
        for (scope, st) in &f.breaker_state {
            sample(
                &mut out,
                "wego_breaker_state",
                &[("scope", scope)],
                f64::from(st.as_gauge()),
            );
        }
        family(
            &mut out,
            "wego_breaker_transitions_total",
            "counter",
            "Circuit breaker state changes by new state.",
        );
        for ((scope, to), v) in &f.breaker_transitions {
            sample(
                &mut out,
                "wego_breaker_transitions_total",
                &[("scope", scope), ("to", to)],
                *v as f64,
            );
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            escape_label(out, v);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Exposition format: label values escape `\`, `"` and newline.
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_escapes_labels() {
        let m = Metrics::new();
        m.start_call("echo", "say\"hi\"");
        m.end_call("echo", "say\"hi\"", Duration::from_millis(3), None);
        m.start_call("echo", "say\"hi\"");
        m.end_call(
            "echo",
            "say\"hi\"",
            Duration::from_millis(30),
            Some("timeout"),
        );
        m.record_retry("echo", true);
        let text = m.render();
        assert!(
            text.contains(
                "wego_requests_total{service=\"echo\",method=\"say\\\"hi\\\"\",status=\"ok\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "wego_errors_total{service=\"echo\",method=\"say\\\"hi\\\"\",kind=\"timeout\"} 1\n"
        ));
        assert!(text.contains("le=\"0.005\"} 1\n"));
        assert!(text.contains("le=\"0.05\"} 2\n"));
        assert!(text.contains("le=\"+Inf\"} 2\n"));
        assert!(text.contains("wego_in_flight{service=\"echo\",method=\"say\\\"hi\\\"\"} 0\n"));
        assert!(text.contains("wego_retries_total{service=\"echo\",outcome=\"sent\"} 1\n"));
        assert_eq!(m.requests("echo"), 2);
        assert_eq!(m.retries("echo"), 1);
    }

    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<String>>);

    impl MetricsRecorder for Seen {
        fn call_started(&self, service: &str, method: &str) {
            self.0
                .lock()
                .unwrap()
                .push(format!("start {service} {method}"));
        }
        fn call_ended(&self, service: &str, method: &str, _: Duration, error: Option<&str>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("end {service} {method} {error:?}"));
        }
        fn retry(&self, service: &str, outcome: &'static str) {
            self.0
                .lock()
                .unwrap()
                .push(format!("retry {service} {outcome}"));
        }
        fn breaker(&self, event: &BreakerEvent) {
            self.0
                .lock()
                .unwrap()
                .push(format!("breaker {} {}", event.scope, event.to.name()));
        }
    }

    #[test]
    fn forwards_every_measurement_to_the_recorder() {
        let seen = Arc::new(Seen::default());
        let m = Metrics::new().with_recorder(seen.clone());
        m.start_call("echo", "say");
        m.end_call("echo", "say", Duration::from_millis(1), Some("timeout"));
        m.record_retry("echo", false);
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                "start echo say",
                "end echo say Some(\"timeout\")",
                "retry echo budget_exhausted"
            ]
        );
        assert_eq!(m.requests("echo"), 1, "the Prometheus families still count");
    }

    #[test]
    fn label_sets_past_the_limits_are_counted_under_the_overflow_labels() {
        let seen = Arc::new(Seen::default());
        let m = Metrics::new()
            .with_recorder(seen.clone())
            .with_max_label_sets(2)
            .with_max_label_len(8);
        for (service, method) in [
            ("a", "m"),
            ("b", "m"),
            ("c", "m"),
            ("a", "m"),
            ("a", "long-name"),
        ] {
            let labels = m.start_call(service, method);
            m.end_call(&labels.0, &labels.1, Duration::from_millis(1), None);
        }
        let text = m.render();
        let series: Vec<_> = text
            .lines()
            .filter(|l| l.starts_with("wego_requests_total{"))
            .collect();
        assert_eq!(
            series,
            [
                "wego_requests_total{service=\"_other\",method=\"_other\",status=\"ok\"} 2",
                "wego_requests_total{service=\"a\",method=\"m\",status=\"ok\"} 2",
                "wego_requests_total{service=\"b\",method=\"m\",status=\"ok\"} 1",
            ]
        );
        let seen = seen.0.lock().unwrap();
        assert_eq!(seen[4], "start _other _other");
        assert_eq!(seen[5], "end _other _other None");
    }
}
