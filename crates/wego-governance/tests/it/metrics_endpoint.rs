//! The metrics layer and the Prometheus endpoint over loopback.

use std::time::Duration;

use tower_layer::Layer;
use wego_governance::breaker::{BreakerConfig, Breakers, Outcome};
use wego_governance::metrics::{Metrics, MetricsLayer, serve};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Address, Dialer};

use crate::support::{TestError, call, send, service_fn};

async fn get(addr: &Address, request: &str) -> String {
    let mut conn = Dialer::new().dial(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    wego_netpoll::rt::timeout(Duration::from_secs(10), conn.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(out).unwrap()
}

wego_test_support::each_backend!(serves_prometheus_text_over_http, |_backend| async move {
    let metrics = Metrics::new();
    let svc = service_fn(|req| {
        let n = req.body;
        Box::pin(async move {
            if n % 4 == 0 {
                Err(TestError::Transport)
            } else {
                Ok(n)
            }
        })
    });
    let mut svc = MetricsLayer::new(metrics.clone()).layer(svc);
    for i in 0..20 {
        let _ = send(&mut svc, call(i)).await;
    }
    // A breaker that opens, so the breaker families have samples too.
    let breakers = Breakers::new(BreakerConfig::default().with_consecutive_failures(2))
        .with_observer(metrics.breaker_observer());
    let b = breakers.get("echo/10.0.0.1:80");
    for _ in 0..2 {
        let admitted = b.try_acquire().expect("closed");
        b.record(admitted, Outcome::Failure);
    }
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let server = wego_netpoll::rt::spawn(serve(listener, metrics.clone()));

    let resp = get(&addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(resp.starts_with("HTTP/1.0 200 OK\r\n"), "{resp}");
    assert!(resp.contains("Content-Type: text/plain; version=0.0.4"));
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    assert!(
        body.contains("wego_requests_total{service=\"echo\",method=\"say\",status=\"ok\"} 15\n"),
        "{body}"
    );
    assert!(
        body.contains("wego_errors_total{service=\"echo\",method=\"say\",kind=\"transport\"} 5\n")
    );
    assert!(
        body.contains("wego_request_duration_seconds_count{service=\"echo\",method=\"say\"} 20\n")
    );
    assert!(body.contains("wego_in_flight{service=\"echo\",method=\"say\"} 0\n"));
    assert!(
        body.contains("wego_breaker_state{scope=\"echo/10.0.0.1:80\"} 1\n"),
        "{body}"
    );

    let nf = get(&addr, "GET /other HTTP/1.1\r\n\r\n").await;
    assert!(nf.starts_with("HTTP/1.0 404"), "{nf}");
    let bad = get(&addr, &format!("GET /{} HTTP/1.1", "a".repeat(10_000))).await;
    assert!(bad.starts_with("HTTP/1.0 400"), "{bad}");

    // promtool (Debian's prometheus package) is an optional checker, not a
    // peer: without it the test still checks the text above.
    let promtool = wego_test_support::peer::find_program("promtool");
    if promtool.is_none() {
        eprintln!("SKIPPED promtool check in serves_prometheus_text_over_http: not installed");
    }
    if let Some(promtool) = promtool {
        let path = std::env::temp_dir().join(format!("wego-metrics-{}.txt", std::process::id()));
        std::fs::write(&path, body).unwrap();
        let out = wego_test_support::peer::output_with_stdin(
            std::process::Command::new(promtool).args(["check", "metrics"]),
            std::fs::File::open(&path).unwrap().into(),
        );
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "promtool: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    server.abort();
});
