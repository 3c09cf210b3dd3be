//! DNS SRV discovery against an in-process DNS server (UDP and TCP on one
//! loopback port, answers built with hickory-proto) and against dnsmasq.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use wego_governance::discovery::dns::{DnsDiscover, DnsDiscoverBuilder};
use wego_governance::{Discover, InstanceWatch};

use crate::support::until;

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
    /// Truncate every UDP reply, and over TCP announce a 64 KiB reply and
    /// send it a byte every 50 ms, never finishing.
    drip: bool,
}

/// Questions the fake server was asked. Counted while it holds the zone's
/// lock, so a question counted after [`FakeDns::set`] returned is answered
/// from the new zone.
#[derive(Default)]
struct Asked {
    /// Over UDP and TCP.
    all: AtomicUsize,
    /// Over TCP (after a truncated UDP reply).
    tcp: AtomicUsize,
    /// `SRV_NAME`'s SRV record: one per lookup of the name when a question
    /// is asked once (one server, one attempt) and its reply fits in UDP.
    srv: AtomicUsize,
}

struct FakeDns {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
    asked: Arc<Asked>,
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
        let asked = Arc::new(Asked::default());
        // Both loops block; `Drop` wakes them with an empty datagram and a
        // connection once `stop` is set.
        let (z, s, a) = (zone.clone(), stop.clone(), asked.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::SeqCst) {
                let Ok((n, from)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = answer(&z, &a, &buf[..n], true) {
                    let _ = udp.send_to(&reply, from);
                }
            }
        });
        let (z, s, a) = (zone.clone(), stop.clone(), asked.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = tcp.accept() else {
                    continue;
                };
                let mut len = [0u8; 2];
                if conn.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if conn.read_exact(&mut msg).is_err() {
                    continue;
                }
                if z.lock().unwrap().drip {
                    // Paces the drip, each byte well within the client's
                    // read timeout; ends when the client hangs up.
                    let _ = conn.write_all(&[0xff, 0xff]);
                    while !s.load(Ordering::SeqCst) && conn.write_all(&[0]).is_ok() {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    continue;
                }
                if let Some(reply) = answer(&z, &a, &msg, false) {
                    let len = u16::try_from(reply.len()).unwrap().to_be_bytes();
                    let _ = conn.write_all(&[&len[..], &reply].concat());
                }
            }
        });
        FakeDns {
            addr,
            zone,
            stop,
            asked,
        }
    }

    fn set(&self, f: impl FnOnce(&mut Zone)) {
        f(&mut self.zone.lock().unwrap());
    }

    /// Returns once `n` refreshes of `SRV_NAME` (one SRV question each)
    /// have been answered from the zone as it is now and have finished:
    /// a refresh asks its question only after the one before it is done,
    /// so when the (n+1)-th question from now arrives, n refreshes that
    /// started from now are over.
    async fn refreshed(&self, n: usize) {
        let from = self.asked.srv.load(Ordering::SeqCst);
        until(
            &format!("{n} refreshes of {SRV_NAME}"),
            Duration::from_secs(20),
            || self.asked.srv.load(Ordering::SeqCst) > from + n,
        )
        .await;
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
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(waker) = UdpSocket::bind("127.0.0.1:0") {
            let _ = waker.send_to(&[], self.addr);
        }
        let _ = TcpStream::connect(self.addr);
    }
}

fn name(s: &str) -> Name {
    Name::from_ascii(format!("{s}.")).unwrap()
}

fn answer(zone: &Mutex<Zone>, count: &Asked, bytes: &[u8], udp: bool) -> Option<Vec<u8>> {
    let zone = zone.lock().unwrap();
    let query = Message::from_vec(bytes).ok()?;
    let q = query.queries.first()?.clone();
    let asked = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    count.all.fetch_add(1, Ordering::SeqCst);
    if !udp {
        count.tcp.fetch_add(1, Ordering::SeqCst);
    }
    if q.query_type() == RecordType::SRV && asked == SRV_NAME {
        count.srv.fetch_add(1, Ordering::SeqCst);
    }
    if zone.silent {
        return None;
    }
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
    if udp && (bytes.len() > 512 || zone.drip) {
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
        // answers nothing usable: through two refreshes of each, the last
        // set stays.
        let version = w.version();
        dns.set(|z| z.silent = true);
        dns.refreshed(2).await;
        assert_eq!(w.version(), version, "silent");
        assert_eq!(instances(&w), changed, "silent");
        dns.set(|z| {
            z.silent = false;
            z.srv.clear();
        });
        dns.refreshed(2).await;
        assert_eq!(w.version(), version, "NXDOMAIN");
        assert_eq!(instances(&w), changed, "NXDOMAIN");
        dns.set(|z| z.srv = vec![(1, 7, 8000, "nowhere.example.test")]);
        let asked = dns.asked.all.load(Ordering::SeqCst);
        dns.refreshed(2).await;
        // Two refreshes of SRV, A and AAAA, and the next one's SRV.
        assert!(
            dns.asked.all.load(Ordering::SeqCst) >= asked + 7,
            "each refresh asked for the target's addresses"
        );
        assert_eq!(w.version(), version, "no usable target");
        assert_eq!(instances(&w), changed, "no usable target");

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

wego_test_support::each_backend!(
    a_dripping_tcp_reply_is_bounded_by_the_query_timeout,
    |_backend| async move {
        let dns = FakeDns::start(Zone {
            drip: true,
            ..two_groups()
        });
        // One server, one attempt: the question is over once its one
        // exchange (UDP, then TCP) has used the query timeout, however
        // steadily the server keeps sending.
        let d = dns.discover().build();
        let res = wego_netpoll::rt::timeout(Duration::from_secs(30), d.discover(SRV_NAME))
            .await
            .expect("the question ends with its exchange's timeout");
        let err = res.unwrap_err();
        assert!(err.to_string().contains("no dns server answered"), "{err}");
        assert_eq!(
            dns.asked.tcp.load(Ordering::SeqCst),
            0,
            "no full TCP question answered"
        );
    }
);

// A query timeout too long for an `Instant` means "no timeout": the
// exchange waits for the answer as any other does.
wego_test_support::each_backend!(
    a_query_timeout_of_duration_max_means_no_timeout,
    |_backend| async move {
        let dns = FakeDns::start(two_groups());
        let w = dns
            .discover()
            .with_query_timeout(Duration::MAX)
            .build()
            .discover(SRV_NAME)
            .await
            .unwrap();
        assert_eq!(w.current().len(), 3);
    }
);

wego_test_support::each_backend!(a_huge_srv_answer_is_capped, |_backend| async move {
    let dns = FakeDns::start(Zone {
        srv: (0..1000)
            .map(|i| (1, 1, 10_000 + i, "a.example.test"))
            .collect(),
        hosts: vec![("a.example.test", "127.0.0.11".parse().unwrap())],
        glue: true,
        ..Zone::default()
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
        dns.asked.tcp.load(Ordering::SeqCst) > 0,
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

/// Starts dnsmasq on a loopback port free for UDP and TCP and returns once
/// it answers a question; another test may take the port between the check
/// and dnsmasq's bind, so a start that fails with "Address already in use"
/// is retried on another port.
async fn dnsmasq(test: &str, records: &[String]) -> Option<Dnsmasq> {
    let program = wego_test_support::peer::program(test, "dnsmasq")?;
    let (test, records) = (test.to_owned(), records.to_vec());
    // Starting and probing block: keep them off the runtime's workers.
    let started = wego_netpoll::rt::spawn_blocking(move || {
        for _ in 0..10 {
            if let Some(server) = try_dnsmasq(&program, &records) {
                return server;
            }
        }
        panic!("{test}: no free port for dnsmasq after 10 tries");
    });
    Some(started.await.unwrap())
}

/// One start of dnsmasq: `None` when its port was taken.
fn try_dnsmasq(program: &std::path::Path, records: &[String]) -> Option<Dnsmasq> {
    let port = {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        TcpListener::bind(("127.0.0.1", port)).ok()?;
        port
    };
    let child = std::process::Command::new(program)
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
    let mut server = Dnsmasq {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    // Ask until it answers or exits (it exits at once when it cannot bind).
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.connect(server.addr).unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut question = Message::query();
    question.add_query(hickory_proto::op::Query::query(
        name("a.example.test"),
        RecordType::A,
    ));
    let question = question.to_vec().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reply = [0u8; 512];
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            let mut err = String::new();
            server
                .child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(
                err.contains("in use"),
                "dnsmasq exited with {status}: {err}"
            );
            return None;
        }
        if probe.send(&question).is_ok() && probe.recv(&mut reply).is_ok() {
            return Some(server);
        }
        assert!(
            Instant::now() < deadline,
            "dnsmasq did not answer within 10 s"
        );
        // Paces the questions (a refused send returns at once).
        std::thread::sleep(Duration::from_millis(10));
    }
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
    let Some(server) = dnsmasq("srv_discovery_against_dnsmasq", &records).await else {
        return;
    };
    let d = DnsDiscover::builder()
        .with_name_servers([server.addr])
        .with_query_timeout(Duration::from_millis(300))
        .build();
    let w = d.discover(SRV_NAME).await.unwrap();
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
