//! Governance metrics exported over OTLP/gRPC to the stub collector: the
//! same families and labels as the Prometheus text.

use std::time::Duration;

use wego_hertz::Router;
use wego_hertz::governance::GovernanceLayer;
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Address, Dialer, rt};
use wego_otel::proto::common::v1::KeyValue;
use wego_otel::proto::metrics::v1::metric::Data;
use wego_otel::proto::metrics::v1::number_data_point::Value;
use wego_otel::{Endpoint, Telemetry};

use super::collector;

/// Sends one `GET path` and returns the response.
pub(crate) async fn get(addr: &Address, path: &str) -> String {
    let mut conn = Dialer::new().dial(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    conn.read_to_end(&mut resp).await.unwrap();
    String::from_utf8_lossy(&resp).into_owned()
}

fn label<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    use wego_otel::proto::common::v1::any_value::Value;
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        })
}

#[test]
fn governance_metrics_reach_the_collector_with_their_labels() {
    rt::block_on(async {
        let (collector, addr) = collector::start().await;
        let telemetry = Telemetry::builder("metered")
            .with_endpoint(Endpoint::Grpc(addr))
            .with_metrics_interval(Duration::from_secs(3600))
            .build()
            .unwrap();
        let metrics = telemetry.metrics();
        let app = Router::new().group("/m", |g| {
            g.layer(GovernanceLayer::new("metered").with_metrics(metrics.clone()))
                .get("/x", || async { "x" })
        });
        let listener = wego_test_support::loopback().await;
        let http_addr = listener.local_addr().clone();
        let http = wego_hertz::Server::builder().build().unwrap();
        rt::spawn(async move { http.serve(listener, app).await });
        for _ in 0..3 {
            assert!(get(&http_addr, "/m/x").await.starts_with("HTTP/1.1 200"));
        }
        // The Prometheus text still counts the same calls.
        assert_eq!(metrics.requests("metered"), 3);

        telemetry.flush().await.unwrap();
        let got = collector.received.lock().unwrap().metrics.clone();
        let metric = |name: &str| {
            got.iter()
                .filter(|(svc, m)| svc == "metered" && m.name == name)
                .map(|(_, m)| m.clone())
                .next_back()
                .unwrap_or_else(|| panic!("no {name} in {got:#?}"))
        };
        let Some(Data::Sum(requests)) = metric("wego.requests").data else {
            panic!("wego.requests is not a sum");
        };
        let p = &requests.data_points[0];
        assert_eq!(label(&p.attributes, "service"), Some("metered"));
        assert_eq!(label(&p.attributes, "method"), Some("/m/x"));
        assert_eq!(label(&p.attributes, "status"), Some("ok"));
        assert_eq!(p.value, Some(Value::AsInt(3)));
        assert!(requests.is_monotonic);

        let Some(Data::Histogram(latency)) = metric("wego.request.duration").data else {
            panic!("wego.request.duration is not a histogram");
        };
        let h = &latency.data_points[0];
        assert_eq!(h.count, 3);
        assert_eq!(
            h.explicit_bounds,
            wego_governance::metrics::LATENCY_BUCKETS.to_vec()
        );
        assert_eq!(label(&h.attributes, "method"), Some("/m/x"));

        let Some(Data::Sum(in_flight)) = metric("wego.in_flight").data else {
            panic!("wego.in_flight is not a sum");
        };
        assert!(!in_flight.is_monotonic);
        assert_eq!(in_flight.data_points[0].value, Some(Value::AsInt(0)));
        assert!(telemetry.stats().metric_exports() >= 1);
        telemetry.shutdown().await.unwrap();
    })
    .unwrap();
}
