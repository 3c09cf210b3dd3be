//! With the collector unreachable, requests are served as usual and the
//! failed exports are counted.

use std::time::Duration;

use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use wego_hertz::Router;
use wego_hertz::governance::GovernanceLayer;
use wego_netpoll::rt;
use wego_otel::{Endpoint, Telemetry};

use super::metrics_export::get;

#[test]
fn an_unreachable_collector_never_fails_requests() {
    rt::block_on(async {
        // An address nobody listens on.
        let dead = wego_test_support::loopback().await;
        let addr = dead.local_addr().clone();
        drop(dead);
        let telemetry = Telemetry::builder("lonely")
            .with_endpoint(Endpoint::Grpc(addr))
            .with_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let app = Router::new().group("/a", |g| {
            g.layer(GovernanceLayer::new("lonely").with_metrics(telemetry.metrics()))
                .get("/b", || async { "b" })
        });
        let listener = wego_test_support::loopback().await;
        let http_addr = listener.local_addr().clone();
        let http = wego_hertz::Server::builder().build().unwrap();
        rt::spawn(async move { http.serve(listener, app).await });

        let tracer = telemetry.tracer_provider().tracer("test");
        for _ in 0..20 {
            drop(tracer.start("work"));
            assert!(get(&http_addr, "/a/b").await.starts_with("HTTP/1.1 200"));
        }
        let flushed = telemetry.flush().await;
        assert!(telemetry.stats().failures() >= 1, "{flushed:?}");
        assert_eq!(telemetry.stats().spans(), 0);
        // Still serving after the failed exports.
        assert!(get(&http_addr, "/a/b").await.starts_with("HTTP/1.1 200"));
        let _ = telemetry.shutdown().await;
    })
    .unwrap();
}
