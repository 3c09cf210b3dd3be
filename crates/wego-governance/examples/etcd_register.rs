//! Registering in etcd and watching a service: the instance stays
//! registered while the process runs (lease keep-alive) and disappears
//! within its TTL after the process is killed.
//!
//! Run (needs `--features etcd` and an etcd):
//! `cargo run -p wego-governance --features etcd --example etcd_register -- --etcd http://127.0.0.1:2379 --addr 127.0.0.1:8888`

use std::time::Duration;

use wego_governance::discovery::etcd::{EtcdConfig, EtcdDiscover, EtcdRegistry};
use wego_governance::{Discover, Instance, Registration, Registry};

fn flag(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let etcd = flag("--etcd", "http://127.0.0.1:2379");
    let addr = flag("--addr", "127.0.0.1:8888").parse()?;
    let service = flag("--service", "echo");
    wego_netpoll::rt::block_on(async move {
        let config = EtcdConfig::new([etcd]);
        let registry = EtcdRegistry::new(config.clone());
        let reg = Registration::new(&service, Instance::new(addr).with_tag("example", "yes"))
            .with_ttl(Duration::from_secs(5));
        registry.register(&reg).await?;
        let mut watch = EtcdDiscover::new(config).discover(&service).await?;
        loop {
            let list: Vec<String> = watch.current().iter().map(ToString::to_string).collect();
            eprintln!("{service}: {list:?}");
            if !watch.changed().await {
                return Ok::<_, Box<dyn std::error::Error>>(());
            }
        }
    })?
}
