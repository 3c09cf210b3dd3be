//! Drives the quick start over loopback: the HTTP API calls the RPC service
//! and a second HTTP service through discovery, metrics count both, and
//! shutdown is graceful. The gateway example's tests are the `gateway`
//! module.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod gateway;

use std::time::Duration;

use wego_examples::{Config, RegistryKind, start};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Address, Dialer};
use wego_test_support::each_backend;
use wego_test_support::etcd::EtcdServer;

/// One HTTP/1.1 request on a fresh connection; returns (status, body).
async fn get(addr: &Address, path: &str) -> (u16, String) {
    get_with(addr, path, "").await
}

/// [`get`] with extra header lines (each ending in `\r\n`).
async fn get_with(addr: &Address, path: &str, headers: &str) -> (u16, String) {
    let mut conn = Dialer::new().dial(addr).await.unwrap();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: quickstart\r\n{headers}Connection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn loopback_config() -> Config {
    let mut cfg = Config::embedded();
    cfg.http_addr = Address::loopback();
    cfg.rpc_addr = Address::loopback();
    cfg.upstream_addr = Address::loopback();
    cfg.shutdown_grace = Duration::from_secs(2);
    cfg
}

each_backend!(http_calls_rpc_through_discovery, |_backend| async move {
    let running = start(&loopback_config()).await.unwrap();
    let (status, body) = get(&running.http_addr, "/api/echo?msg=hello%20wego").await;
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["msg"], "hello wego");
    let served_by = format!("echo (served by {}, traceparent 00-", running.rpc_addr);
    assert!(
        reply["action"].as_str().unwrap().starts_with(&served_by),
        "{reply}"
    );

    // The caller's trace crosses the HTTP and the Thrift hop.
    let (status, body) = get_with(
        &running.http_addr,
        "/api/echo?msg=traced",
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{body}"
    );

    // The governed client and the HTTP layer both show up in the metrics.
    let (status, metrics) = get(&running.http_addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("wego_requests_total{service=\"echo\""),
        "{metrics}"
    );
    assert!(metrics.contains("service=\"quickstart-http\""), "{metrics}");

    let (status, body) = get(&running.http_addr, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("/api/echo"));
    running.shutdown().await;
});

each_backend!(
    http_calls_a_second_http_service_by_name,
    |_backend| async move {
        let running = start(&loopback_config()).await.unwrap();
        let (status, body) = get_with(
            &running.http_addr,
            "/api/hello?name=wego%20user",
            "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(reply["greeting"], "hello, wego user");
        // The API called `http://greeter/...`; discovery found the
        // upstream's address.
        assert_eq!(reply["served_by"], running.upstream_addr.to_string());
        // The caller's trace crossed both HTTP hops.
        assert!(
            reply["traceparent"]
                .as_str()
                .unwrap()
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{reply}"
        );

        let (status, metrics) = get(&running.http_addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            metrics.contains(
                "wego_requests_total{service=\"greeter\",method=\"GET\",status=\"ok\"} 1"
            ),
            "{metrics}"
        );

        // A missing name is the API's own 400, with no upstream call.
        let (status, _) = get(&running.http_addr, "/api/hello").await;
        assert_eq!(status, 400);
        running.shutdown().await;
    }
);

each_backend!(
    missing_query_is_a_400_not_a_failed_call,
    |_backend| async move {
        let running = start(&loopback_config()).await.unwrap();
        let (status, _) = get(&running.http_addr, "/api/echo").await;
        assert_eq!(status, 400);
        running.shutdown().await;
    }
);

each_backend!(instances_behind_etcd_share_the_load, |backend| async move {
    let Some(etcd) = EtcdServer::start("instances_behind_etcd_share_the_load", backend).await
    else {
        return;
    };
    let mut cfg = loopback_config();
    cfg.registry = RegistryKind::parse(&etcd.url().replace("http://", "etcd://")).unwrap();
    let a = start(&cfg).await.unwrap();
    let b = start(&cfg).await.unwrap();
    // A's client discovers both RPC instances through etcd and spreads its
    // calls over them (round robin); wait for the watch to see B.
    // The loop waits for that condition, bounded by a deadline that only a
    // hang reaches.
    let mut served = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let (status, body) = get(&a.http_addr, "/api/echo?msg=x").await;
        assert_eq!(status, 200, "{body}");
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
        served.insert(reply["action"].as_str().unwrap().to_owned());
        if served.len() == 2 {
            break;
        }
        wego_netpoll::rt::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(served.len(), 2, "calls went only to {served:?}");
    // The same for the second HTTP service, called by name.
    let mut greeters = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let (status, body) = get(&a.http_addr, "/api/hello?name=x").await;
        assert_eq!(status, 200, "{body}");
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
        greeters.insert(reply["served_by"].as_str().unwrap().to_owned());
        if greeters.len() == 2 {
            break;
        }
        wego_netpoll::rt::sleep(Duration::from_millis(20)).await;
    }
    let expected: std::collections::BTreeSet<String> = [&a.upstream_addr, &b.upstream_addr]
        .iter()
        .map(|addr| addr.to_string())
        .collect();
    assert_eq!(greeters, expected);
    b.shutdown().await;
    // B deregistered: A keeps working on its own instance.
    for _ in 0..5 {
        let (status, body) = get(&a.http_addr, "/api/echo?msg=y").await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = get(&a.http_addr, "/api/hello?name=y").await;
        assert_eq!(status, 200, "{body}");
    }
    a.shutdown().await;
});
