//! etcd discovery and registry against a real etcd.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wego_governance::discovery::etcd::{EtcdConfig, EtcdDiscover, EtcdRegistry};
use wego_governance::{Discover, InstanceWatch, Registration, Registry};
use wego_netpoll::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use wego_netpoll::rt::{self, JoinHandle};
use wego_netpoll::{Address, Dialer};

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
    let ok = rt::timeout(limit, async {
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

/// A TCP proxy to etcd whose connections can be made silent: after
/// [`SilentProxy::silence`], the connections open so far stay open but
/// forward nothing more, as a partitioned member's would; connections
/// opened later are forwarded.
struct SilentProxy {
    url: String,
    /// Connections with an index below this forward nothing.
    silenced: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    _task: JoinHandle<()>,
}

impl SilentProxy {
    async fn start(upstream: &str) -> Self {
        let upstream: Address = upstream
            .trim_start_matches("http://")
            .parse::<std::net::SocketAddr>()
            .map(Address::Tcp)
            .unwrap();
        let listener = wego_test_support::loopback().await;
        let url = format!("http://{}", listener.local_addr());
        let silenced = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (s, a) = (silenced.clone(), accepted.clone());
        let task = rt::spawn(async move {
            while let Ok(client) = listener.accept().await {
                let index = a.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = Dialer::new().dial(&upstream).await else {
                    continue;
                };
                let (cr, cw) = wego_netpoll::io::split(client);
                let (sr, sw) = wego_netpoll::io::split(server);
                rt::spawn(pipe(cr, sw, index, s.clone()));
                rt::spawn(pipe(sr, cw, index, s.clone()));
            }
        });
        SilentProxy {
            url,
            silenced,
            accepted,
            _task: task,
        }
    }

    /// Makes every connection opened so far silent.
    fn silence(&self) {
        self.silenced
            .store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either ends; once connection `index` is
/// silenced, holds both open and forwards nothing.
async fn pipe(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    index: usize,
    silenced: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        if index < silenced.load(Ordering::SeqCst) {
            // Both ends stay open, owned by this task, which never ends.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

wego_test_support::each_backend!(
    a_silent_etcd_connection_is_abandoned,
    |backend| async move {
        let Some(etcd) = EtcdServer::start("a_silent_etcd_connection_is_abandoned", backend).await
        else {
            return;
        };
        let proxy = SilentProxy::start(&etcd.url()).await;
        let discover = EtcdDiscover::new(
            EtcdConfig::new([proxy.url.clone()])
                .with_timeout(Duration::from_secs(1))
                .with_keep_alive_interval(Duration::from_secs(1))
                .with_retry_interval(Duration::from_millis(200)),
        );
        let mut w = discover.discover("echo").await.unwrap();
        assert!(w.current().is_empty());
        // An instance registers (straight with etcd) and arrives through
        // the watch: the watch is established.
        let registry = EtcdRegistry::new(config(&etcd));
        registry
            .register(&Registration::new("echo", inst(1)))
            .await
            .unwrap();
        wait_for(&mut w, 1, Duration::from_secs(10)).await;
        // The watch's connection goes silent, then a second instance
        // registers: the discovery must notice the silence, reconnect
        // through a fresh connection and read it.
        proxy.silence();
        registry
            .register(&Registration::new("echo", inst(2)))
            .await
            .unwrap();
        wait_for(&mut w, 2, Duration::from_secs(30)).await;
        assert_eq!(&*w.current(), [inst(1), inst(2)]);
    }
);

// Durations too long for an `Instant` mean "never": a registry and a
// discovery whose timeout and empty protection are `Duration::MAX` work,
// and a discovery holds its last set across a wiped etcd, without
// overflowing, until as many instances are back.
wego_test_support::each_backend!(
    durations_of_duration_max_never_expire,
    |backend| async move {
        let Some(mut etcd) =
            EtcdServer::start("durations_of_duration_max_never_expire", backend).await
        else {
            return;
        };
        let forever = config(&etcd)
            .with_timeout(Duration::MAX)
            .with_empty_protection(Duration::MAX);
        let discover = EtcdDiscover::new(forever.clone());
        let mut w = discover.discover("echo").await.unwrap();
        let registry = EtcdRegistry::new(forever.clone());
        registry
            .register(&Registration::new("echo", inst(1)).with_ttl(Duration::from_secs(2)))
            .await
            .unwrap();
        {
            // Its process dies with the etcd data: it never comes back.
            let gone = EtcdRegistry::new(forever.clone());
            gone.register(&Registration::new("echo", inst(2)))
                .await
                .unwrap();
            wait_for(&mut w, 2, Duration::from_secs(10)).await;
        }
        etcd.restart(true).await;
        // The discovery re-reads fewer instances than it has: it holds the
        // two (for ever) until a second one is back beside inst(1).
        registry
            .register(&Registration::new("echo", inst(3)).with_ttl(Duration::from_secs(2)))
            .await
            .unwrap();
        let back = rt::timeout(Duration::from_secs(30), async {
            while *w.current() != [inst(1), inst(3)] {
                assert_eq!(w.current().len(), 2, "the held set shrank");
                assert!(w.changed().await, "the discovery stopped");
            }
        })
        .await;
        assert!(back.is_ok(), "the set is {:?}", w.current());
    }
);
