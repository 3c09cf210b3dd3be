//! Exports a hertz service's spans and metrics to an OTLP/gRPC collector.
//!
//! ```text
//! cargo run -p wego-otel --example otlp_export -- --collector 127.0.0.1:4317 --addr 127.0.0.1:8080
//! curl http://127.0.0.1:8080/api/hello
//! ```
//!
//! Every request under `/api` gets a `wego.serve` server span and a
//! `wego.call` span (sampled at `--ratio`, default 1.0), and counts in
//! `wego.requests` / `wego.request.duration` / `wego.in_flight`; both
//! go to the collector in batches. With the collector down, requests are
//! answered all the same and the failed exports are counted (printed at
//! exit, after Ctrl-C).

use std::net::SocketAddr;

use tracing_subscriber::layer::SubscriberExt;
use wego_hertz::Router;
use wego_hertz::governance::GovernanceLayer;
use wego_netpoll::{Address, Listener};
use wego_otel::{Endpoint, Telemetry};

fn flag(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let collector: SocketAddr = flag("--collector", "127.0.0.1:4317").parse()?;
    let addr: SocketAddr = flag("--addr", "127.0.0.1:8080").parse()?;
    let ratio: f64 = flag("--ratio", "1.0").parse()?;
    wego_netpoll::rt::block_on(async move {
        let telemetry = Telemetry::builder("otlp-example")
            .with_resource_attribute("service.version", env!("CARGO_PKG_VERSION"))
            .with_sampling_ratio(ratio)
            .with_endpoint(Endpoint::Grpc(Address::from(collector)))
            .with_metrics_interval(std::time::Duration::from_secs(10))
            .build()?;
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(telemetry.layer()),
        )?;
        let app = Router::new().group("/api", |g| {
            g.layer(GovernanceLayer::new("otlp-example").with_metrics(telemetry.metrics()))
                .get("/hello", || async { "hello\n" })
        });
        let listener = Listener::bind(&Address::from(addr)).await?;
        eprintln!("serving http://{addr}/api/hello, exporting to {collector}");
        let server = wego_hertz::Server::builder().build()?;
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        server.serve_with_shutdown(listener, app, stop).await?;
        let stats = telemetry.stats().clone();
        telemetry.shutdown().await.ok();
        eprintln!(
            "exported {} spans in {} batches, {} metric exports, {} failed exports",
            stats.spans(),
            stats.span_batches(),
            stats.metric_exports(),
            stats.failures()
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?
}
