//! etcd discovery and registry against a real etcd.

use std::time::Duration;

use wego_governance::discovery::etcd::{EtcdConfig, EtcdDiscover, EtcdRegistry};
use wego_governance::{Discover, InstanceWatch, Registration, Registry};

use crate::support::{inst, until};
use wego_test_support::etcd::EtcdServer;

pub(crate) fn config(etcd: &EtcdServer) -> EtcdConfig {
    EtcdConfig::new([etcd.url()])
        .with_timeout(Duration::from_secs(1))
        .with_retry_interval(Duration::from_millis(200))
}

/// Waits (at most `limit`) until the watch's set has `n` instances.
///
/// # Panics
///
/// After `limit`, or at once when the discovery is gone (its set can no
/// longer change).
pub(crate) async fn wait_for(w: &mut InstanceWatch, n: usize, limit: Duration) {
    let ok = wego_netpoll::rt::timeout(limit, async {
        while w.current().len() != n {
            assert!(
                w.changed().await,
                "the discovery stopped with {:?}, not {n} instances",
                w.current()
            );
        }
    })
    .await;
    assert!(ok.is_ok(), "expected {n} instances, have {:?}", w.current());
}

wego_test_support::each_backend!(register_watch_deregister, |backend| async move {
    let Some(etcd) = EtcdServer::start("register_watch_deregister", backend).await else {
        return;
    };
    let registry = EtcdRegistry::new(config(&etcd));
    let discover = EtcdDiscover::new(config(&etcd));
    let mut w = discover.discover("echo").await.unwrap();
    assert!(w.current().is_empty());
    let a =
        Registration::new("echo", inst(1).with_tag("zone", "a")).with_ttl(Duration::from_secs(5));
    let b = Registration::new("echo", inst(2).with_weight(50)).with_ttl(Duration::from_secs(5));
    registry.register(&a).await.unwrap();
    registry.register(&b).await.unwrap();
    wait_for(&mut w, 2, Duration::from_secs(5)).await;
    let list = w.current();
    assert_eq!(list[0], a.instance);
    assert_eq!(list[1], b.instance);
    // A second discover of the same service shares the watch.
    assert_eq!(discover.discover("echo").await.unwrap().current(), list);
    registry.deregister(&a).await.unwrap();
    wait_for(&mut w, 1, Duration::from_secs(5)).await;
    assert_eq!(w.current()[0], b.instance);
});

wego_test_support::each_backend!(
    an_instance_whose_lease_expires_disappears,
    |backend| async move {
        let Some(etcd) =
            EtcdServer::start("an_instance_whose_lease_expires_disappears", backend).await
        else {
            return;
        };
        let discover = EtcdDiscover::new(config(&etcd));
        let mut w = discover.discover("echo").await.unwrap();
        let survivor = EtcdRegistry::new(config(&etcd));
        survivor
            .register(&Registration::new("echo", inst(1)).with_ttl(Duration::from_secs(2)))
            .await
            .unwrap();
        {
            let dying = EtcdRegistry::new(config(&etcd));
            dying
                .register(&Registration::new("echo", inst(2)).with_ttl(Duration::from_secs(2)))
                .await
                .unwrap();
            wait_for(&mut w, 2, Duration::from_secs(5)).await;
            // Dropping the registry stops its keep-alives without deregistering,
            // as a crashed process would.
        }
        wait_for(&mut w, 1, Duration::from_secs(10)).await;
        assert_eq!(w.current()[0], inst(1));
        // The kept-alive one outlives its TTL several times: 10 keep-alives,
        // one at registration and one every TTL/3 after, each acknowledged
        // with the lease alive, span three TTLs; its key never left the
        // watched set meanwhile.
        let version = w.version();
        until("10 keep-alives", Duration::from_secs(30), || {
            survivor.keep_alives() >= 10
        })
        .await;
        assert_eq!(w.version(), version, "the set changed: {:?}", w.current());
        assert_eq!(&*w.current(), [inst(1)]);
    }
);

wego_test_support::each_backend!(discovery_fails_without_etcd, |backend| async move {
    let Some(mut etcd) = EtcdServer::start("discovery_fails_without_etcd", backend).await else {
        return;
    };
    etcd.kill();
    let err = EtcdDiscover::new(config(&etcd))
        .discover("echo")
        .await
        .unwrap_err();
    assert!(err.is_discovery(), "{err:?}");
    let reg = Registration::new("echo", inst(1));
    let err = EtcdRegistry::new(config(&etcd))
        .register(&reg)
        .await
        .unwrap_err();
    assert!(err.is_registry(), "{err:?}");
});
