//! The `metrics_endpoint` example's workload, served over loopback.

use std::time::Duration;

use wego_governance::metrics::{Metrics, serve};
use wego_netpoll::Dialer;
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/metrics_endpoint.rs"]
mod example;

wego_test_support::each_backend!(
    metrics_endpoint_example_serves_its_workload,
    |_backend| async move {
        let metrics = Metrics::new();
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let server = wego_netpoll::rt::spawn(serve(listener, metrics.clone()));
        // 30 calls: 10 `get` (n = 3, 6, ..., 30) and 20 `put`; n = 10, 20, 30 fail.
        let calls = example::drive(&metrics, |n| n < 30).await;
        assert_eq!(calls, 30);

        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut reply = Vec::new();
        wego_netpoll::rt::timeout(Duration::from_secs(10), conn.read_to_end(&mut reply))
            .await
            .unwrap()
            .unwrap();
        let reply = String::from_utf8(reply).unwrap();
        assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"), "{reply}");
        for line in [
            "wego_requests_total{service=\"demo\",method=\"get\",status=\"ok\"} 9\n",
            "wego_requests_total{service=\"demo\",method=\"get\",status=\"error\"} 1\n",
            "wego_requests_total{service=\"demo\",method=\"put\",status=\"ok\"} 18\n",
            "wego_requests_total{service=\"demo\",method=\"put\",status=\"error\"} 2\n",
            "wego_request_duration_seconds_count{service=\"demo\",method=\"put\"} 20\n",
            "wego_in_flight{service=\"demo\",method=\"get\"} 0\n",
        ] {
            assert!(reply.contains(line), "missing {line:?} in\n{reply}");
        }
        server.abort();
    }
);
