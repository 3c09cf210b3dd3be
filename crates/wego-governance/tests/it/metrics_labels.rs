//! The metrics layer's label sets stay bounded when a peer makes up the
//! service and method names (a gRPC `:path`, a Thrift method name).

use tower_layer::Layer;
use wego_governance::Call;
use wego_governance::metrics::{Metrics, MetricsLayer};

use crate::support::{TestError, send, service_fn};

/// The `wego_requests_total` series in `text`.
fn request_series(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("wego_requests_total{"))
        .collect()
}

wego_test_support::each_backend!(
    made_up_names_do_not_grow_the_metrics_without_bound,
    |_backend| async move {
        const CALLS: usize = 5000;
        let metrics = Metrics::new();
        let svc = service_fn(|_req| Box::pin(async { Err::<(), _>(TestError::Business) }));
        let mut svc = MetricsLayer::new(metrics.clone()).layer(svc);
        // Known names first: they keep their own series throughout.
        for _ in 0..3 {
            let _ = send(&mut svc, Call::new("echo.Echo", "Say", 0)).await;
        }
        for i in 0..CALLS {
            let _ = send(
                &mut svc,
                Call::new(format!("made{i}.Up"), format!("M{i}"), 0),
            )
            .await;
        }
        // One long name, far past any method a service declares.
        let long = "x".repeat(64 * 1024);
        let _ = send(&mut svc, Call::new("echo.Echo", long.as_str(), 0)).await;
        let _ = send(&mut svc, Call::new("echo.Echo", "Say", 0)).await;

        let text = metrics.render();
        let series = request_series(&text);
        assert!(
            series.len() <= Metrics::DEFAULT_MAX_LABEL_SETS + 1,
            "{} series from {CALLS} names a peer made up",
            series.len()
        );
        assert!(!text.contains(&long), "a 64 KiB label value was kept");
        assert!(
            text.contains(
                "wego_requests_total{service=\"echo.Echo\",method=\"Say\",status=\"error\"} 4\n"
            ),
            "{series:?}"
        );
        // The calls past the cap are counted, under the overflow labels.
        let overflow = CALLS + 1 - (Metrics::DEFAULT_MAX_LABEL_SETS - 1);
        assert!(
            text.contains(&format!(
                "wego_requests_total{{service=\"_other\",method=\"_other\",status=\"error\"}} {overflow}\n"
            )),
            "{:?}",
            series.last()
        );
        assert_eq!(
            metrics.requests("_other") as usize,
            overflow,
            "every call is counted once"
        );
    }
);
