//! Public types and futures are `Send` (and `Sync` where shared).

use wego_governance::breaker::{Breakers, CircuitBreaker};
use wego_governance::metrics::Metrics;
use wego_governance::{Error, InstanceWatch, Publisher, StaticDiscover};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn types_are_send_and_sync() {
    send_sync::<Error>();
    send_sync::<InstanceWatch>();
    send_sync::<Publisher>();
    send_sync::<StaticDiscover>();
    send_sync::<Metrics>();
    send_sync::<Breakers>();
    send_sync::<CircuitBreaker>();
    send_sync::<wego_governance::retry::RetryBudget>();
    send_sync::<wego_governance::discovery::dns::DnsDiscover>();
    send_sync::<wego_governance::discovery::dns::DnsDiscoverBuilder>();
}

#[test]
fn futures_are_send() {
    let d = StaticDiscover::new();
    let mut w = InstanceWatch::fixed(Vec::new());
    send(&w.changed());
    send(&wego_governance::Discover::discover(&d, "x"));
    send(&wego_governance::discovery::resolve(&d, "x"));
    let dns = wego_governance::discovery::dns::DnsDiscover::default();
    send(&wego_governance::Discover::discover(
        &dns,
        "_x._tcp.example.test",
    ));
    let l = wego_netpoll::rt::Runtime::builder().build().unwrap();
    let listener = l.block_on(wego_test_support::loopback());
    send(&wego_governance::metrics::serve(listener, Metrics::new()));
}
