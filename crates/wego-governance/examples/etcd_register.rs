//! Registering in etcd and watching a service: the instance stays
//! registered while the process runs (lease keep-alive) and disappears
//! within its TTL after the process is killed.
//!
//! Run (needs `--features etcd` and an etcd):
//! `cargo run -p wego-governance --features etcd --example etcd_register -- --etcd http://127.0.0.1:2379 --addr 127.0.0.1:8888`

use std::time::Duration;

use wego_governance::discovery::etcd::{EtcdConfig, EtcdDiscover, EtcdRegistry};
use wego_governance::{Discover, Instance, InstanceWatch, Registration, Registry};
use wego_netpoll::Address;

/// A registered instance and a watch of its service. The registry keeps
/// the lease alive and the discoverer keeps the watch updated while they
/// live: keep this value for as long as both should run.
pub(crate) struct Registered {
    pub(crate) registry: EtcdRegistry,
    pub(crate) registration: Registration,
    #[allow(dead_code)] // held, not read: dropping it stops the watch
    pub(crate) discover: EtcdDiscover,
    pub(crate) watch: InstanceWatch,
}

/// Registers `addr` under `service` (5 s TTL) and starts watching the
/// service.
pub(crate) async fn register_and_watch(
    etcd: &str,
    addr: Address,
    service: &str,
) -> Result<Registered, Box<dyn std::error::Error>> {
    let config = EtcdConfig::new([etcd.to_owned()]);
    let registry = EtcdRegistry::new(config.clone());
    let registration = Registration::new(service, Instance::new(addr).with_tag("example", "yes"))
        .with_ttl(Duration::from_secs(5));
    registry.register(&registration).await?;
    let discover = EtcdDiscover::new(config);
    let watch = discover.discover(service).await?;
    Ok(Registered {
        registry,
        registration,
        discover,
        watch,
    })
}

/// One line listing a service's instances.
pub(crate) fn describe(service: &str, list: &[Instance]) -> String {
    let list: Vec<String> = list.iter().map(ToString::to_string).collect();
    format!("{service}: {list:?}")
}

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
        let mut registered = register_and_watch(&etcd, addr, &service).await?;
        let reg = &registered.registration;
        eprintln!("registered {} under `{}`", reg.instance, reg.service);
        loop {
            eprintln!("{}", describe(&service, &registered.watch.current()));
            if !registered.watch.changed().await {
                break;
            }
        }
        registered
            .registry
            .deregister(&registered.registration)
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?
}
