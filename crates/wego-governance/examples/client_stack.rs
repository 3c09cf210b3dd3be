//! Governance load balancing, circuit breaking and retry in one client
//! stack over plain TCP, without any protocol crate: static discovery →
//! round robin (load balancing) with per-instance breakers (circuit
//! breaking) → retry with a budget → timeout → metrics → tracing span, in
//! front of two line-echo servers and a third address where nothing
//! listens. It shows that the governance layers only need `CallInfo` on the
//! request and `Classify + From<Error>` on the error, that retries move
//! away from the dead instance (no call fails), and that its breaker opens
//! so that it stops receiving traffic. It prints the calls, failures,
//! retries, answers per server, breaker states and the metrics text.
//!
//! Run: `cargo run -p wego-governance --example client_stack -- --calls 300`

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;
use wego_governance::breaker::{BreakerConfig, Breakers};
use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
use wego_governance::metrics::{Metrics, MetricsLayer};
use wego_governance::retry::RetryLayer;
use wego_governance::timeout::TimeoutLayer;
use wego_governance::trace::TraceLayer;
use wego_governance::{Call, Classify, Discover, Instance, StaticDiscover};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Address, Dialer, Listener};

/// The "protocol" error: I/O failures are retryable, governance refusals
/// keep their meaning.
#[derive(Debug)]
enum EchoError {
    Io(std::io::Error),
    Governance(wego_governance::Error),
}

impl std::fmt::Display for EchoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EchoError::Io(e) => write!(f, "i/o: {e}"),
            EchoError::Governance(e) => write!(f, "governance: {e}"),
        }
    }
}

impl From<wego_governance::Error> for EchoError {
    fn from(e: wego_governance::Error) -> Self {
        EchoError::Governance(e)
    }
}

impl Classify for EchoError {
    fn is_retryable(&self) -> bool {
        match self {
            EchoError::Io(_) => true,
            EchoError::Governance(e) => e.is_retryable(),
        }
    }
    fn is_breaker_failure(&self) -> bool {
        match self {
            EchoError::Io(_) => true,
            EchoError::Governance(e) => e.is_breaker_failure(),
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            EchoError::Io(_) => "io",
            EchoError::Governance(e) => e.kind(),
        }
    }
}

/// A client of one echo instance: a connection per call.
#[derive(Clone)]
struct EchoClient(Address);

impl Service<Call<String>> for EchoClient {
    type Response = String;
    type Error = EchoError;
    type Future = Pin<Box<dyn Future<Output = Result<String, EchoError>> + Send>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), EchoError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Call<String>) -> Self::Future {
        let addr = self.0.clone();
        Box::pin(async move {
            let mut conn = Dialer::new()
                .dial(&addr)
                .await
                .map_err(|e| EchoError::Io(std::io::Error::other(e)))?;
            conn.write_all(format!("{}\n", req.body).as_bytes())
                .await
                .map_err(EchoError::Io)?;
            let mut out = String::new();
            conn.read_to_string(&mut out).await.map_err(EchoError::Io)?;
            Ok(out.trim_end().to_owned())
        })
    }
}

async fn echo_server() -> Address {
    let listener = Listener::bind(&Address::loopback())
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().clone();
    wego_netpoll::rt::spawn(async move {
        while let Ok(mut conn) = listener.accept().await {
            let me = conn.local_addr().to_string();
            wego_netpoll::rt::spawn(async move {
                let mut buf = [0u8; 512];
                let mut line = Vec::new();
                while !line.contains(&b'\n') {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => line.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!("{me} says {}", String::from_utf8_lossy(&line));
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

/// What a run of the stack saw.
pub(crate) struct Report {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) retries: u64,
    /// Each instance's breaker scope and state.
    pub(crate) breakers: Vec<(String, String)>,
    /// How many answers each live server gave, by its address.
    pub(crate) answers: std::collections::BTreeMap<String, u32>,
    /// The dead instance's address.
    pub(crate) dead: Address,
    /// The Prometheus text of the metrics.
    pub(crate) metrics: String,
}

/// Starts two echo servers, names a third address nobody listens on, and
/// makes `calls` calls through the whole stack.
pub(crate) async fn run(calls: u32) -> Result<Report, Box<dyn std::error::Error>> {
    let a = echo_server().await;
    let b = echo_server().await;
    // A port nobody listens on: the "dead" instance.
    let dead = Listener::bind(&Address::loopback())
        .await?
        .local_addr()
        .clone();
    let discover = StaticDiscover::with_service(
        "echo",
        vec![
            Instance::new(a),
            Instance::new(b),
            Instance::new(dead.clone()),
        ],
    );
    let metrics = Metrics::new();
    let breakers = Breakers::new(BreakerConfig::default().with_consecutive_failures(3))
        .with_observer(metrics.breaker_observer());
    let watch = discover.discover("echo").await?;
    // Load balancing: round robin over the discovered instances, skipping
    // those whose breaker is open.
    let lb = LoadBalanceLayer::new("echo", watch, RoundRobin::new)
        .with_breaker(breakers.clone())
        .layer(|i: &Instance| EchoClient(i.address.clone()));
    // Retry: up to 3 attempts, never twice on the instance that just failed.
    let client = RetryLayer::new(3).with_metrics(metrics.clone()).layer(lb);
    let client = TimeoutLayer::new(Duration::from_secs(2)).layer(client);
    let client = MetricsLayer::new(metrics.clone()).layer(client);
    let mut client = TraceLayer::new().layer(client);

    let mut failures = 0;
    let mut answers = std::collections::BTreeMap::new();
    for n in 0..calls {
        std::future::poll_fn(|cx| client.poll_ready(cx)).await.ok();
        match client
            .call(Call::new("echo", "say", format!("hello {n}")))
            .await
        {
            Ok(reply) => {
                let server = reply.split(' ').next().unwrap_or_default().to_owned();
                *answers.entry(server).or_insert(0) += 1;
            }
            Err(e) => {
                failures += 1;
                eprintln!("call {n} failed: {e}");
            }
        }
    }
    Ok(Report {
        calls,
        failures,
        retries: metrics.retries("echo"),
        breakers: breakers
            .states()
            .into_iter()
            .map(|(scope, state)| (scope, state.to_string()))
            .collect(),
        answers,
        dead,
        metrics: metrics.render(),
    })
}

fn arg(name: &str, default: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls = arg("--calls", 300);
    let report = wego_netpoll::rt::block_on(run(calls))??;
    let mut out = std::io::stdout().lock();
    use std::io::Write as _;
    writeln!(
        out,
        "{} calls, {} failures, {} retries (dead instance: {})",
        report.calls, report.failures, report.retries, report.dead
    )?;
    for (server, n) in &report.answers {
        writeln!(out, "{server} answered {n}")?;
    }
    for (scope, state) in &report.breakers {
        writeln!(out, "breaker {scope}: {state}")?;
    }
    writeln!(out, "\n{}", report.metrics)?;
    Ok(())
}
