//! wego-governance on the HTTP server: limits answered with 429, metrics
//! labelled with the service and the route template, `/metrics`, and the
//! caller's `traceparent` visible to handlers.

use std::sync::Arc;

use http::StatusCode;
use tokio::sync::Notify;
use wego_governance::metrics::Metrics;
use wego_hertz::Router;
use wego_hertz::extract::Path;
use wego_hertz::governance::{GovernanceLayer, RequestTrace, metrics_route};
use wego_netpoll::rt;

use super::support::{roundtrip, start};

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: t\r\n{extra}connection: close\r\n\r\n").into_bytes()
}

wego_test_support::each_backend!(
    rate_limit_answers_429_and_metrics_show_it,
    |_backend| async move {
        let metrics = Metrics::new();
        let gov = GovernanceLayer::new("shop")
            .with_rate_limit(1, 3)
            .with_metrics(metrics.clone());
        let app = Router::new().group("/api", |g| {
            g.layer(gov)
                .get("/items/:id", |Path(id): Path<String>| async move { id })
        });
        let app = metrics_route(app, "/metrics", metrics.clone());
        let (_server, addr, _task) = start(wego_hertz::Server::builder(), app).await;

        let mut statuses = Vec::new();
        let mut retry_after = None;
        for i in 0..6 {
            let r = roundtrip(&addr, &get(&format!("/api/items/{i}"), "")).await;
            if r.status == StatusCode::TOO_MANY_REQUESTS {
                retry_after = r.header("retry-after").map(str::to_owned);
                assert!(String::from_utf8_lossy(&r.body).contains("rate limit"));
            } else {
                assert_eq!(r.body, i.to_string().as_bytes());
            }
            statuses.push(r.status.as_u16());
        }
        assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
        assert_eq!(retry_after.as_deref(), Some("1"));

        let m = roundtrip(&addr, &get("/metrics", "")).await;
        assert_eq!(m.status, StatusCode::OK);
        assert!(
            m.header("content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let text = String::from_utf8(m.body).unwrap();
        assert!(
            text.contains(
                "wego_requests_total{service=\"shop\",method=\"/api/items/:id\",status=\"ok\"} 3"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "wego_errors_total{service=\"shop\",method=\"/api/items/:id\",kind=\"rate_limited\"} 3"
            ),
            "{text}"
        );
    }
);

wego_test_support::each_backend!(
    concurrency_limit_answers_429_on_the_router,
    |_backend| async move {
        // The slow handler says when it has started, then waits for the
        // test to release it: the refused request is sent while it holds
        // the only slot.
        let started = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let (s, r) = (Arc::clone(&started), Arc::clone(&release));
        let app = Router::new()
            .get("/slow", move || {
                let (s, r) = (Arc::clone(&s), Arc::clone(&r));
                async move {
                    s.notify_one();
                    r.notified().await;
                    "slow"
                }
            })
            .get("/fast", || async { "fast" })
            .layer(GovernanceLayer::new("shop").with_concurrency_limit(1));
        let (_server, addr, _task) = start(wego_hertz::Server::builder(), app).await;
        let a = addr.clone();
        let slow = rt::spawn(async move { roundtrip(&a, &get("/slow", "")).await });
        started.notified().await;
        let refused = roundtrip(&addr, &get("/fast", "")).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(String::from_utf8_lossy(&refused.body).contains("concurrency"));
        release.notify_one();
        assert_eq!(slow.await.unwrap().status, StatusCode::OK);
        assert_eq!(
            roundtrip(&addr, &get("/fast", "")).await.status,
            StatusCode::OK
        );
    }
);

wego_test_support::each_backend!(
    handlers_see_the_callers_traceparent,
    |_backend| async move {
        let app = Router::new()
            .get("/t", |t: RequestTrace| async move {
                format!("{} {}", t.trace_id(), t.remote)
            })
            .layer(GovernanceLayer::new("shop"));
        let (_server, addr, _task) = start(wego_hertz::Server::builder(), app).await;
        let tp = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n";
        let r = roundtrip(&addr, &get("/t", tp)).await;
        assert_eq!(r.body, b"4bf92f3577b34da6a3ce929d0e0e4736 true");
        let r = roundtrip(&addr, &get("/t", "traceparent: garbage\r\n")).await;
        let body = String::from_utf8(r.body).unwrap();
        assert!(body.ends_with(" false") && body.len() == 32 + 6, "{body}");
    }
);
