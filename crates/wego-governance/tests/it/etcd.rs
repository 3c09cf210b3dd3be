//! etcd discovery and registry against a real etcd.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

/// A member that is up but has no quorum: it speaks HTTP/2 and answers
/// every gRPC call with UNAVAILABLE "etcdserver: no leader", as a member
/// cut off from its leader does.
struct SickMember {
    url: String,
    calls: Arc<AtomicUsize>,
    _task: JoinHandle<()>,
}

impl SickMember {
    async fn start() -> Self {
        let listener = wego_test_support::loopback().await;
        let url = format!("http://{}", listener.local_addr());
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let task = rt::spawn(async move {
            while let Ok(conn) = listener.accept().await {
                rt::spawn(answer_unavailable(conn, c.clone()));
            }
        });
        SickMember {
            url,
            calls,
            _task: task,
        }
    }
}

async fn answer_unavailable(conn: wego_netpoll::Conn, calls: Arc<AtomicUsize>) {
    let Ok(mut h2) = h2::server::handshake(conn).await else {
        return;
    };
    while let Some(Ok((_request, mut respond))) = h2.accept().await {
        calls.fetch_add(1, Ordering::SeqCst);
        // A trailers-only answer: the status in the headers, no body.
        let response = http::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "14")
            .header("grpc-message", "etcdserver: no leader")
            .body(())
            .unwrap();
        let _ = respond.send_response(response, true);
    }
}

/// A member that accepts connections and never answers (a partitioned or
/// frozen process): counts the connections it holds open.
struct DeafMember {
    url: String,
    accepted: Arc<AtomicUsize>,
    _task: JoinHandle<()>,
}

impl DeafMember {
    async fn start() -> Self {
        let listener = wego_test_support::loopback().await;
        let url = format!("http://{}", listener.local_addr());
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = accepted.clone();
        let task = rt::spawn(async move {
            let mut held = Vec::new();
            while let Ok(conn) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                held.push(conn);
            }
        });
        DeafMember {
            url,
            accepted,
            _task: task,
        }
    }
}

// The first members configured are up but cannot serve (one answers
// UNAVAILABLE, one never answers): calls fail over to the next member
// instead of retrying the first for ever, and later calls start at the
// member that answered.
wego_test_support::each_backend!(
    calls_fail_over_to_a_member_that_serves,
    |backend| async move {
        let Some(etcd) =
            EtcdServer::start("calls_fail_over_to_a_member_that_serves", backend).await
        else {
            return;
        };
        let sick = SickMember::start().await;
        let deaf = DeafMember::start().await;
        let cfg = EtcdConfig::new([sick.url.clone(), deaf.url.clone(), etcd.url()])
            .with_timeout(Duration::from_secs(1))
            .with_retry_interval(Duration::from_millis(200));
        let registry = EtcdRegistry::new(cfg.clone());
        let discover = EtcdDiscover::new(cfg);
        let limit = Duration::from_secs(30);
        rt::timeout(
            limit,
            registry.register(&Registration::new("echo", inst(1))),
        )
        .await
        .expect("the registration ends")
        .expect("a member that serves takes the registration");
        let mut w = rt::timeout(limit, discover.discover("echo"))
            .await
            .expect("the discovery ends")
            .expect("a member that serves answers the discovery");
        assert_eq!(&*w.current(), [inst(1)]);
        assert!(
            sick.calls.load(Ordering::SeqCst) > 0,
            "the sick member was asked"
        );
        assert!(
            deaf.accepted.load(Ordering::SeqCst) > 0,
            "the deaf member was tried"
        );
        // Later calls (and the keeper's keep-alives, the discovery's watch)
        // start at the member that answered: the others hear no more.
        let (calls, accepted) = (
            sick.calls.load(Ordering::SeqCst),
            deaf.accepted.load(Ordering::SeqCst),
        );
        let two = Registration::new("echo", inst(2));
        rt::timeout(limit, registry.register(&two))
            .await
            .expect("the second registration ends")
            .unwrap();
        wait_for(&mut w, 2, limit).await;
        rt::timeout(limit, registry.deregister(&two))
            .await
            .expect("the deregistration ends")
            .unwrap();
        wait_for(&mut w, 1, limit).await;
        assert_eq!(sick.calls.load(Ordering::SeqCst), calls);
        assert_eq!(deaf.accepted.load(Ordering::SeqCst), accepted);
    }
);

/// A member that serves (a TCP proxy to etcd) until it falls sick: then it
/// drops its connections, and answers every call on a new one with
/// UNAVAILABLE, as a member that lost its quorum does.
struct FallibleMember {
    url: String,
    sick: Arc<AtomicBool>,
    /// Calls answered with UNAVAILABLE.
    calls: Arc<AtomicUsize>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
    _task: JoinHandle<()>,
}

impl FallibleMember {
    async fn start(upstream: &str) -> Self {
        let upstream: Address = upstream
            .trim_start_matches("http://")
            .parse::<std::net::SocketAddr>()
            .map(Address::Tcp)
            .unwrap();
        let listener = wego_test_support::loopback().await;
        let url = format!("http://{}", listener.local_addr());
        let sick = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicUsize::new(0));
        let pipes = Arc::new(Mutex::new(Vec::new()));
        let (s, c, p) = (sick.clone(), calls.clone(), pipes.clone());
        let task = rt::spawn(async move {
            while let Ok(client) = listener.accept().await {
                if s.load(Ordering::SeqCst) {
                    rt::spawn(answer_unavailable(client, c.clone()));
                    continue;
                }
                let Ok(server) = Dialer::new().dial(&upstream).await else {
                    continue;
                };
                let (cr, cw) = wego_netpoll::io::split(client);
                let (sr, sw) = wego_netpoll::io::split(server);
                let never = Arc::new(AtomicUsize::new(0));
                let mut pipes = p.lock().unwrap();
                pipes.push(rt::spawn(pipe(cr, sw, 0, never.clone())));
                pipes.push(rt::spawn(pipe(sr, cw, 0, never)));
            }
        });
        FallibleMember {
            url,
            sick,
            calls,
            pipes,
            _task: task,
        }
    }

    /// Drops the connections to etcd; new ones get UNAVAILABLE.
    fn fall_sick(&self) {
        self.sick.store(true, Ordering::SeqCst);
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }
}

// The member a discovery watches through loses its quorum: the watch
// breaks and the discovery re-reads and re-watches through the next
// member, without asking the sick one again.
wego_test_support::each_backend!(
    a_watch_moves_to_the_next_member_when_its_member_fails,
    |backend| async move {
        let Some(etcd) = EtcdServer::start(
            "a_watch_moves_to_the_next_member_when_its_member_fails",
            backend,
        )
        .await
        else {
            return;
        };
        let member = FallibleMember::start(&etcd.url()).await;
        let discover = EtcdDiscover::new(
            EtcdConfig::new([member.url.clone(), etcd.url()])
                .with_timeout(Duration::from_secs(1))
                .with_retry_interval(Duration::from_millis(200)),
        );
        let mut w = discover.discover("echo").await.unwrap();
        let registry = EtcdRegistry::new(config(&etcd));
        registry
            .register(&Registration::new("echo", inst(1)))
            .await
            .unwrap();
        wait_for(&mut w, 1, Duration::from_secs(10)).await;
        member.fall_sick();
        registry
            .register(&Registration::new("echo", inst(2)))
            .await
            .unwrap();
        wait_for(&mut w, 2, Duration::from_secs(30)).await;
        assert_eq!(&*w.current(), [inst(1), inst(2)]);
        assert_eq!(
            member.calls.load(Ordering::SeqCst),
            0,
            "the re-read went to the sick member first"
        );
    }
);
