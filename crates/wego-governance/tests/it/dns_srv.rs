//! DNS SRV discovery against an in-process DNS server (UDP and TCP on one
//! loopback port, answers built with hickory-proto) and against dnsmasq.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use wego_governance::discovery::dns::{DnsDiscover, DnsDiscoverBuilder};
use wego_governance::{Discover, InstanceWatch};

const SRV_NAME: &str = "_echo._tcp.example.test";

/// What the fake server knows and how it behaves.
#[derive(Default)]
struct Zone {
    /// (priority, weight, port, target) of `SRV_NAME`.
    srv: Vec<(u16, u16, u16, &'static str)>,
    hosts: Vec<(&'static str, IpAddr)>,
    /// Put the targets' addresses in the SRV reply's additional section.
    glue: bool,
    /// Drop every question unanswered.
    silent: bool,
}

struct FakeDns {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
    tcp_queries: Arc<AtomicUsize>,
}

impl FakeDns {
    fn start(zone: Zone) -> Self {
        let (udp, tcp) = (0..50)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
                let tcp = TcpListener::bind(udp.local_addr().ok()?).ok()?;
                Some((udp, tcp))
            })
            .unwrap();
        let addr = udp.local_addr().unwrap();
        let zone = Arc::new(Mutex::new(zone));
        let stop = Arc::new(AtomicBool::new(false));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        udp.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let (z, s) = (zone.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, from)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = answer(&z, &buf[..n], true) {
                    let _ = udp.send_to(&reply, from);
                }
            }
        });
        tcp.set_nonblocking(true).unwrap();
        let (z, s, count) = (zone.clone(), stop.clone(), tcp_queries.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = tcp.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                count.fetch_add(1, Ordering::Relaxed);
                conn.set_nonblocking(false).unwrap();
                let mut len = [0u8; 2];
                if conn.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if conn.read_exact(&mut msg).is_err() {
                    continue;
                }
                if let Some(reply) = answer(&z, &msg, false) {
                    let len = u16::try_from(reply.len()).unwrap().to_be_bytes();
                    let _ = conn.write_all(&[&len[..], &reply].concat());
                }
            }
        });
        FakeDns {
            addr,
            zone,
            stop,
            tcp_queries,
        }
    }

    fn set(&self, f: impl FnOnce(&mut Zone)) {
        f(&mut self.zone.lock().unwrap());
    }

    fn discover(&self) -> DnsDiscoverBuilder {
        DnsDiscover::builder()
            .with_name_servers([self.addr])
            .with_refresh(Duration::from_millis(100))
            .with_query_timeout(Duration::from_millis(200))
            .with_attempts(1)
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn name(s: &str) -> Name {
    Name::from_ascii(format!("{s}.")).unwrap()
}

fn answer(zone: &Mutex<Zone>, bytes: &[u8], udp: bool) -> Option<Vec<u8>> {
    let zone = zone.lock().unwrap();
    if zone.silent {
        return None;
    }
    let query = Message::from_vec(bytes).ok()?;
    let q = query.queries.first()?.clone();
    let asked = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let mut reply = Message::response(query.metadata.id, OpCode::Query);
    reply.add_query(q.clone());
    reply.metadata.authoritative = true;
    let host_records = |host: &str, rtype: Option<RecordType>| -> Vec<Record> {
        zone.hosts
            .iter()
            .filter(|(h, _)| *h == host)
            .filter_map(|(h, ip)| {
                let data = match ip {
                    IpAddr::V4(v4) => RData::A(A(*v4)),
                    IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
                };
                let wanted = rtype.is_none_or(|t| t == data.record_type());
                wanted.then(|| Record::from_rdata(name(h), 30, data))
            })
            .collect()
    };
    let known =
        (asked == SRV_NAME && !zone.srv.is_empty()) || zone.hosts.iter().any(|(h, _)| *h == asked);
    if !known {
        reply.metadata.response_code = ResponseCode::NXDomain;
    } else if q.query_type() == RecordType::SRV && asked == SRV_NAME {
        for &(p, w, port, target) in &zone.srv {
            let data = RData::SRV(SRV::new(p, w, port, name(target)));
            reply.add_answer(Record::from_rdata(name(SRV_NAME), 30, data));
            if zone.glue {
                reply.add_additionals(host_records(target, None));
            }
        }
    } else if matches!(q.query_type(), RecordType::A | RecordType::AAAA) {
        reply.add_answers(host_records(&asked, Some(q.query_type())));
    }
    let bytes = reply.to_vec().ok()?;
    if udp && bytes.len() > 512 {
        let mut cut = Message::response(query.metadata.id, OpCode::Query);
        cut.add_query(q);
        cut.metadata.truncation = true;
        return cut.to_vec().ok();
    }
    Some(bytes)
}

/// (address, weight) pairs of the watch's current set.
fn instances(w: &InstanceWatch) -> BTreeSet<(String, u32)> {
    w.current()
        .iter()
        .map(|i| (i.address.to_string(), i.weight))
        .collect()
}

fn set(items: &[(&str, u32)]) -> BTreeSet<(String, u32)> {
    items.iter().map(|(a, w)| ((*a).to_owned(), *w)).collect()
}

fn two_groups() -> Zone {
    Zone {
        srv: vec![
            (10, 5, 7001, "a.example.test"),
            (10, 0, 7002, "b.example.test"),
            (20, 9, 7003, "c.example.test"),
        ],
        hosts: vec![
            ("a.example.test", "127.0.0.11".parse().unwrap()),
            ("b.example.test", "127.0.0.12".parse().unwrap()),
            ("b.example.test", "::1".parse().unwrap()),
            ("c.example.test", "127.0.0.13".parse().unwrap()),
        ],
        ..Zone::default()
    }
}

wego_test_support::each_backend!(srv_weights_ports_and_priorities, |_backend| async move {
    for glue in [false, true] {
        let dns = FakeDns::start(Zone {
            glue,
            ..two_groups()
        });
        let w = dns.discover().build().discover(SRV_NAME).await.unwrap();
        assert_eq!(
            instances(&w),
            set(&[
                ("127.0.0.11:7001", 50),
                ("127.0.0.12:7002", 1),
                ("[::1]:7002", 1)
            ]),
            "glue: {glue}"
        );
        let a = w
            .current()
            .iter()
            .find(|i| i.tag("dns.target") == Some("a.example.test"))
            .cloned()
            .unwrap();
        assert_eq!(a.tag("dns.priority"), Some("10"));
        // The priority-10 targets lose their addresses: the next group.
        dns.set(|z| z.hosts.retain(|(h, _)| *h == "c.example.test"));
        let fresh = dns.discover().build().discover(SRV_NAME).await.unwrap();
        assert_eq!(instances(&fresh), set(&[("127.0.0.13:7003", 90)]));
    }
});

wego_test_support::each_backend!(
    srv_refreshes_and_keeps_the_last_set_through_outages,
    |_backend| async move {
        let dns = FakeDns::start(two_groups());
        // The refresh runs while the discoverer lives.
        let d = dns.discover().build();
        let mut w = d.discover(SRV_NAME).await.unwrap();
        assert_eq!(w.current().len(), 3);
        dns.set(|z| z.srv = vec![(1, 7, 8000, "c.example.test")]);
        assert!(
            wego_netpoll::rt::timeout(Duration::from_secs(5), w.changed())
                .await
                .unwrap()
        );
        let changed = set(&[("127.0.0.13:8000", 70)]);
        assert_eq!(instances(&w), changed);

        // The server stops answering, then says the name is gone, then
        // answers nothing usable: each time the last set stays.
        let version = w.version();
        dns.set(|z| z.silent = true);
        wego_netpoll::rt::sleep(Duration::from_millis(700)).await;
        dns.set(|z| {
            z.silent = false;
            z.srv.clear();
        });
        wego_netpoll::rt::sleep(Duration::from_millis(400)).await;
        dns.set(|z| z.srv = vec![(1, 7, 8000, "nowhere.example.test")]);
        wego_netpoll::rt::sleep(Duration::from_millis(400)).await;
        assert_eq!(w.version(), version);
        assert_eq!(instances(&w), changed);

        // It answers again: the refresh loop is still alive.
        dns.set(|z| z.srv = vec![(1, 2, 8001, "a.example.test")]);
        assert!(
            wego_netpoll::rt::timeout(Duration::from_secs(5), w.changed())
                .await
                .unwrap()
        );
        assert_eq!(instances(&w), set(&[("127.0.0.11:8001", 20)]));
    }
);

wego_test_support::each_backend!(
    srv_nxdomain_and_empty_answers_are_discovery_errors,
    |_backend| async move {
        let dns = FakeDns::start(two_groups());
        let d = dns.discover().build();
        let err = d.discover("_nope._tcp.example.test").await.unwrap_err();
        assert!(err.is_discovery(), "{err:?}");
        assert!(err.to_string().contains("NXDOMAIN"), "{err}");
        // The name exists but has no SRV record (NODATA).
        dns.set(|z| z.srv.clear());
        dns.set(|z| z.hosts.push((SRV_NAME, "127.0.0.1".parse().unwrap())));
        let err = d.discover(SRV_NAME).await.unwrap_err();
        assert!(err.to_string().contains("no usable record"), "{err}");
        // A silent server is a discovery error too, after the timeout.
        dns.set(|z| z.silent = true);
        let err = d.discover("_x._tcp.example.test").await.unwrap_err();
        assert!(err.to_string().contains("no dns server answered"), "{err}");
    }
);

wego_test_support::each_backend!(a_huge_srv_answer_is_capped, |_backend| async move {
    let dns = FakeDns::start(Zone {
        srv: (0..1000)
            .map(|i| (1, 1, 10_000 + i, "a.example.test"))
            .collect(),
        hosts: vec![("a.example.test", "127.0.0.11".parse().unwrap())],
        glue: true,
        silent: false,
    });
    // This test is about the cap, not the timeout: a 1,000-record reply
    // over TCP from the test server may take longer than the 200 ms the
    // other tests allow on a loaded machine.
    let w = dns
        .discover()
        .with_query_timeout(Duration::from_secs(10))
        .build()
        .discover(SRV_NAME)
        .await
        .unwrap();
    assert_eq!(
        w.current().len(),
        wego_governance::discovery::dns::DEFAULT_MAX_INSTANCES
    );
    assert!(
        dns.tcp_queries.load(Ordering::Relaxed) > 0,
        "the truncated UDP reply was retried over TCP"
    );
    let few = dns
        .discover()
        .with_query_timeout(Duration::from_secs(10))
        .with_max_instances(NonZeroUsize::new(5).unwrap())
        .build()
        .discover(SRV_NAME)
        .await
        .unwrap();
    let ports: Vec<u16> = few
        .current()
        .iter()
        .map(|i| i.address.as_tcp().unwrap().port())
        .collect();
    assert_eq!(ports, [10_000, 10_001, 10_002, 10_003, 10_004]);
});

wego_test_support::each_backend!(
    host_port_names_use_the_configured_servers,
    |_backend| async move {
        let dns = FakeDns::start(two_groups());
        let d = dns.discover().build();
        let w = d.discover("b.example.test:9000").await.unwrap();
        assert_eq!(
            instances(&w),
            set(&[("127.0.0.12:9000", 100), ("[::1]:9000", 100)])
        );
        let err = d.discover("missing.example.test:9000").await.unwrap_err();
        assert!(err.is_discovery(), "{err:?}");
    }
);

/// A dnsmasq serving SRV and host records on a free loopback port.
struct Dnsmasq {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts dnsmasq on a loopback port free for UDP and TCP; another test
/// may take the port between the check and dnsmasq's bind, so a start that
/// fails with "Address already in use" is retried on another port.
async fn dnsmasq(test: &str, records: &[String]) -> Option<Dnsmasq> {
    let program = wego_test_support::peer::program(test, "dnsmasq")?;
    for _ in 0..10 {
        let port = {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            port
        };
        let mut child = std::process::Command::new(&program)
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--pid-file",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--local=/example.test/",
            ])
            .args(records)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // dnsmasq binds before anything else and exits at once on failure.
        wego_netpoll::rt::sleep(Duration::from_millis(300)).await;
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(
                err.contains("in use"),
                "dnsmasq exited with {status}: {err}"
            );
            continue;
        }
        return Some(Dnsmasq {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        });
    }
    panic!("{test}: no free port for dnsmasq after 10 tries");
}

wego_test_support::each_backend!(srv_discovery_against_dnsmasq, |_backend| async move {
    let records = [
        "--srv-host=_echo._tcp.example.test,a.example.test,7001,10,5",
        "--srv-host=_echo._tcp.example.test,b.example.test,7002,10,0",
        "--srv-host=_echo._tcp.example.test,c.example.test,7003,20,9",
        "--host-record=a.example.test,127.0.0.11",
        "--host-record=b.example.test,127.0.0.12,::1",
        "--host-record=c.example.test,127.0.0.13",
    ]
    .map(String::from);
    let Some(mut server) = dnsmasq("srv_discovery_against_dnsmasq", &records).await else {
        return;
    };
    let d = DnsDiscover::builder()
        .with_name_servers([server.addr])
        .with_query_timeout(Duration::from_millis(300))
        .build();
    // dnsmasq needs a moment to bind; it must answer within 10 s.
    let mut watch = None;
    for _ in 0..50 {
        match d.discover(SRV_NAME).await {
            Ok(w) => {
                watch = Some(w);
                break;
            }
            Err(_) => {
                if let Ok(Some(status)) = server.child.try_wait() {
                    let mut err = String::new();
                    server
                        .child
                        .stderr
                        .take()
                        .unwrap()
                        .read_to_string(&mut err)
                        .unwrap();
                    panic!("dnsmasq exited with {status}: {err}");
                }
                wego_netpoll::rt::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let w = watch.expect("dnsmasq answered within 10 s");
    assert_eq!(
        instances(&w),
        set(&[
            ("127.0.0.11:7001", 50),
            ("127.0.0.12:7002", 1),
            ("[::1]:7002", 1)
        ])
    );
    let err = d.discover("_none._tcp.example.test").await.unwrap_err();
    assert!(err.to_string().contains("NXDOMAIN"), "{err}");
    let host = d.discover("c.example.test:80").await.unwrap();
    assert_eq!(instances(&host), set(&[("127.0.0.13:80", 100)]));
});
