//! wego's quick start: an HTTP API (wego-hertz), an RPC service
//! (wego-kitex, Thrift over TTHeader) and a second HTTP service in one
//! binary. The HTTP handlers call the RPC service through a generated
//! wego-kitex client, and the second HTTP service by name
//! (`http://greeter/greet`) through wego-hertz's `GovernedClient`; both
//! find their instances by discovery (an in-process static registry by
//! default, etcd with `--registry etcd://HOST:PORT`), with load balancing,
//! per-instance breakers, retry with a budget, timeouts, metrics on
//! `/metrics`, trace propagation, request logs, and graceful shutdown on
//! Ctrl-C.
//!
//! ```sh
//! cargo run --release --example quickstart
//! curl 'http://127.0.0.1:8080/api/echo?msg=hello'
//! curl 'http://127.0.0.1:8080/api/hello?name=wego'
//! cargo run --release --example quickstart -- --registry etcd://127.0.0.1:2379 \
//!     --http-port 8082 --rpc-port 8891 --upstream-port 8083   # a second instance, via etcd
//! cargo run --release --features polling --example quickstart -- --backend polling
//! ```
#![allow(clippy::print_stdout)] // the CLI tells its user where to point curl

use wego_examples::{Config, start};
use wego_netpoll::rt;

fn main() -> Result<(), wego_kitex::BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--backend tokio|polling` picks the runtime; the rest is the config's.
    let mut backend = rt::Backend::default();
    if let Some(i) = args.iter().position(|a| a == "--backend") {
        let name = args.get(i + 1).ok_or("--backend needs a value")?;
        backend = name.parse()?;
        args.drain(i..i + 2);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", wego_examples::config::DEFAULT_CONFIG);
        println!(
            "flags: --config FILE --service NAME --http-addr A --rpc-addr A --upstream-addr A --http-port N --rpc-port N --upstream-port N --registry static|etcd://HOST:PORT --backend tokio|polling"
        );
        return Ok(());
    }
    let cfg = Config::from_args(args)?;
    let runtime = rt::Runtime::builder().backend(backend).build()?;
    runtime.block_on(async move {
        let running = start(&cfg).await?;
        let http = &running.http_addr;
        println!("wego quick start");
        println!("  HTTP API     http://{http}/");
        println!(
            "  RPC service  {} (Thrift, TTHeader) registered as {:?}",
            running.rpc_addr, cfg.service
        );
        println!(
            "  HTTP service http://{}/ registered as {:?}",
            running.upstream_addr, cfg.upstream_service
        );
        println!("  metrics      http://{http}/metrics");
        println!("try:  curl 'http://{http}/api/echo?msg=hello'");
        println!("      curl 'http://{http}/api/hello?name=wego'");
        println!("Ctrl-C stops it gracefully.");
        wego_netpoll::signal::terminated().await;
        println!("shutting down");
        running.shutdown().await;
        Ok::<_, wego_kitex::BoxError>(())
    })
}
