//! Serving governance metrics to Prometheus: a synthetic workload recorded
//! by `MetricsLayer`, exposed by the built-in `GET /metrics` responder on a
//! wego-netpoll listener (no HTTP framework needed).
//!
//! Run: `cargo run -p wego-governance --example metrics_endpoint -- --addr 127.0.0.1:9464 --secs 60`
//! then `curl http://127.0.0.1:9464/metrics`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;
use wego_governance::metrics::{Metrics, MetricsLayer, serve};
use wego_governance::{BoxError, Call};
use wego_netpoll::{Address, Listener};

/// A fake backend: slow-ish, failing one call in ten.
#[derive(Clone)]
struct Backend;

impl Service<Call<u32>> for Backend {
    type Response = u32;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<u32, BoxError>> + Send>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Call<u32>) -> Self::Future {
        Box::pin(async move {
            wego_netpoll::rt::sleep(Duration::from_millis(u64::from(req.body % 7))).await;
            if req.body.is_multiple_of(10) {
                return Err(std::io::Error::other("connection reset").into());
            }
            Ok(req.body)
        })
    }
}

/// Records synthetic calls on `metrics` (every third a `get`, the rest
/// `put`; one in ten fails) while `keep_going(n)` says so; returns how many.
pub(crate) async fn drive(metrics: &Metrics, mut keep_going: impl FnMut(u32) -> bool) -> u32 {
    let mut svc = MetricsLayer::new(metrics.clone()).layer(Backend);
    let mut n = 0u32;
    while keep_going(n) {
        n = n.wrapping_add(1);
        let method = if n.is_multiple_of(3) { "get" } else { "put" };
        let _ = svc.call(Call::new("demo", method, n)).await;
    }
    n
}

fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: Address = flag("--addr")
        .unwrap_or_else(|| "127.0.0.1:9464".into())
        .parse()?;
    let secs: u64 = flag("--secs").and_then(|s| s.parse().ok()).unwrap_or(60);
    wego_netpoll::rt::block_on(async move {
        let metrics = Metrics::new();
        let listener = Listener::bind(&addr).await?;
        eprintln!(
            "metrics on http://{}/metrics for {secs} s",
            listener.local_addr()
        );
        wego_netpoll::rt::spawn(serve(listener, metrics.clone()));
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        drive(&metrics, |_| std::time::Instant::now() < deadline).await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?
}
