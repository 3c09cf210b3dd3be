//! OTLP/HTTP with protobuf bodies: `opentelemetry-otlp`'s exporters over
//! wego-hertz's client, against a collector stub served by hertz.

use bytes::Bytes;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use prost::Message;
use wego_hertz::Router;
use wego_netpoll::rt;
use wego_otel::proto::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use wego_otel::proto::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use wego_otel::{Endpoint, Telemetry};

use super::collector::Collector;

#[test]
fn spans_and_metrics_go_over_otlp_http_with_the_hertz_client() {
    rt::block_on(async {
        let collector = Collector::default();
        let (c1, c2) = (collector.clone(), collector.clone());
        let app = Router::new()
            .post("/v1/traces", move |body: Bytes| {
                let c = c1.clone();
                async move {
                    c.add_spans(ExportTraceServiceRequest::decode(body).unwrap());
                    Bytes::from(ExportTraceServiceResponse::default().encode_to_vec())
                }
            })
            .post("/v1/metrics", move |body: Bytes| {
                let c = c2.clone();
                async move {
                    c.add_metrics(ExportMetricsServiceRequest::decode(body).unwrap());
                    Bytes::from(ExportMetricsServiceResponse::default().encode_to_vec())
                }
            });
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let http = wego_hertz::Server::builder().build().unwrap();
        rt::spawn(async move { http.serve(listener, app).await });

        let telemetry = Telemetry::builder("over-http")
            .with_endpoint(Endpoint::Http(format!("http://{addr}")))
            .build()
            .unwrap();
        drop(telemetry.tracer_provider().tracer("test").start("manual"));
        let metrics = telemetry.metrics();
        let recorder = telemetry.recorder();
        recorder.call_started("svc", "m");
        recorder.call_ended("svc", "m", std::time::Duration::from_millis(2), None);
        drop(metrics);

        telemetry.flush().await.unwrap();
        let spans = collector.take_spans(|s| s.name == "manual");
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].0, "over-http");
        let got = collector.received.lock().unwrap().metrics.clone();
        assert!(
            got.iter()
                .any(|(svc, m)| svc == "over-http" && m.name == "wego.requests"),
            "{got:#?}"
        );
        assert_eq!(telemetry.stats().failures(), 0);
        assert_eq!(telemetry.stats().spans(), 1);
        telemetry.shutdown().await.unwrap();
    })
    .unwrap();
}

#[test]
fn rejects_bad_settings_with_config_errors() {
    let e = Telemetry::builder("").build().unwrap_err();
    assert!(e.is_config(), "{e}");
    let e = Telemetry::builder("x")
        .with_sampling_ratio(1.5)
        .build()
        .unwrap_err();
    assert!(
        e.is_config() && e.to_string().contains("sampling ratio"),
        "{e}"
    );
    let e = Telemetry::builder("x").build().unwrap_err();
    assert!(e.is_config() && e.to_string().contains("endpoint"), "{e}");
    let e = Telemetry::builder("x")
        .with_max_batch(10)
        .with_max_queue(5)
        .build()
        .unwrap_err();
    assert!(e.is_config(), "{e}");
}
