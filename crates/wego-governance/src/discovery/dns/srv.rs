//! SRV records into instances (RFC 2782), and A/AAAA through the stub client.
//!
//! - Only the group with the lowest priority value that yields at least one
//!   address is used; higher-priority-value groups are fallbacks used only
//!   while every target of the lower groups has no address (NXDOMAIN or no
//!   A/AAAA). Failover between groups on call failures is the breakers' job,
//!   not DNS's.
//! - Weight: the instance weight is the SRV weight × 10, and SRV weight 0
//!   becomes 1, the smallest weight that still receives traffic (RFC 2782:
//!   weight 0 gets "a very small chance" when others have weight). Every
//!   address of a target gets the target's weight.
//! - A target of `.` ("the service is not available here") is dropped.
//! - Target addresses come from the reply's additional section when the
//!   server sent them, otherwise from A and AAAA questions.
//! - At most `max` SRV records are looked at (lowest priority first) and at
//!   most `max` instances are returned.
//! - A target's NXDOMAIN or empty answer means "no address"; a failed
//!   question (timeout, SERVFAIL) fails the whole lookup, so that a refresh
//!   never publishes a set made smaller by an outage.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, RecordType};
use wego_netpoll::Address;

use super::client::{Client, QueryError, parse_name};
use crate::Instance;

/// The tag holding an instance's SRV target name.
pub(crate) const TARGET_TAG: &str = "dns.target";
/// The tag holding an instance's SRV priority.
pub(crate) const PRIORITY_TAG: &str = "dns.priority";

/// The instance weight for an SRV weight.
pub(crate) fn weight(srv_weight: u16) -> u32 {
    if srv_weight == 0 {
        1
    } else {
        u32::from(srv_weight) * 10
    }
}

/// Resolves the SRV name into instances.
pub(crate) fn srv_instances(
    client: &Client,
    name: &str,
    max: usize,
) -> Result<Vec<Instance>, QueryError> {
    let qname = parse_name(name)?;
    let reply = client.query(&qname, RecordType::SRV)?;
    let records: Vec<SRV> = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(srv) => Some(srv.clone()),
            _ => None,
        })
        .collect();
    let glue = addresses_in(&reply.additionals);
    select(records, max, |target| match glue.get(target) {
        Some(ips) => Ok(ips.clone()),
        None => host_addresses(client, target),
    })
}

/// The A and AAAA addresses of `name` (empty when it has none).
pub(crate) fn host_addresses(client: &Client, name: &Name) -> Result<Vec<IpAddr>, QueryError> {
    let mut out = Vec::new();
    for rtype in [RecordType::A, RecordType::AAAA] {
        match client.query(name, rtype) {
            // The answer may hold a CNAME chain; its A/AAAA records are
            // the addresses of the name asked.
            Ok(reply) => out.extend(addresses_in(&reply.answers).into_values().flatten()),
            Err(e) if e.is_no_such_name() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// A/AAAA records by owner name.
fn addresses_in(records: &[hickory_proto::rr::Record]) -> HashMap<Name, Vec<IpAddr>> {
    let mut map: HashMap<Name, Vec<IpAddr>> = HashMap::new();
    for r in records {
        let ip = match &r.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            _ => continue,
        };
        map.entry(r.name.clone()).or_default().push(ip);
    }
    map
}

/// Picks the usable priority group and turns it into at most `max` instances.
pub(crate) fn select(
    mut records: Vec<SRV>,
    max: usize,
    mut addresses: impl FnMut(&Name) -> Result<Vec<IpAddr>, QueryError>,
) -> Result<Vec<Instance>, QueryError> {
    records.retain(|s| !s.target.is_root());
    records.sort_by_cached_key(|s| (s.priority, s.target.to_lowercase().to_ascii(), s.port));
    records.truncate(max);
    let mut out: Vec<Instance> = Vec::new();
    for group in records.chunk_by(|a, b| a.priority == b.priority) {
        for srv in group {
            let target = srv.target.to_ascii();
            let mut ips = addresses(&srv.target)?;
            // A reply may repeat an address; each counts once.
            ips.sort_unstable();
            ips.dedup();
            for ip in ips {
                out.push(
                    Instance::new(Address::Tcp(SocketAddr::new(ip, srv.port)))
                        .with_weight(weight(srv.weight))
                        .with_tag(TARGET_TAG, target.trim_end_matches('.'))
                        .with_tag(PRIORITY_TAG, srv.priority.to_string()),
                );
            }
            if out.len() >= max {
                break;
            }
        }
        if !out.is_empty() {
            break;
        }
    }
    // Two records naming the same address: keep the heavier one.
    out.sort_by(|a, b| {
        (a.address.to_string(), std::cmp::Reverse(a.weight))
            .cmp(&(b.address.to_string(), std::cmp::Reverse(b.weight)))
    });
    out.dedup_by(|later, first| later.address == first.address);
    out.truncate(max);
    Ok(out)
}

/// Decodes a DNS reply and turns its SRV answers into instances using
/// only the addresses of its additional section (no question is asked).
/// The `governance_dns_reply` fuzz target's entry: never panics.
#[doc(hidden)]
pub fn instances_from_reply(bytes: &[u8], max: usize) -> Vec<Instance> {
    let Ok(reply) = hickory_proto::op::Message::from_vec(bytes) else {
        return Vec::new();
    };
    let records: Vec<SRV> = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(srv) => Some(srv.clone()),
            _ => None,
        })
        .collect();
    let glue = addresses_in(&reply.additionals);
    select(records, max, |target| {
        Ok(glue.get(target).cloned().unwrap_or_default())
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SRV {
        SRV::new(priority, weight, port, parse_name(target).unwrap())
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    fn hosts(name: &Name) -> Result<Vec<IpAddr>, QueryError> {
        Ok(match name.to_ascii().as_str() {
            "a.test." => vec![ip(1)],
            "b.test." => vec![ip(2), ip(3)],
            "c.test." => vec![ip(4)],
            _ => vec![],
        })
    }

    #[test]
    fn lowest_priority_group_with_addresses_wins() {
        let list = select(
            vec![
                srv(20, 1, 30, "c.test"),
                srv(10, 5, 10, "a.test"),
                srv(10, 0, 20, "b.test"),
            ],
            64,
            hosts,
        )
        .unwrap();
        let got: Vec<(String, u32)> = list
            .iter()
            .map(|i| (i.address.to_string(), i.weight))
            .collect();
        assert_eq!(
            got,
            [
                ("127.0.0.1:10".to_owned(), 50),
                ("127.0.0.2:20".to_owned(), 1),
                ("127.0.0.3:20".to_owned(), 1)
            ]
        );
        assert_eq!(list[0].tag(TARGET_TAG), Some("a.test"));
        assert_eq!(list[0].tag(PRIORITY_TAG), Some("10"));
    }

    #[test]
    fn an_unresolvable_group_falls_to_the_next() {
        let list = select(
            vec![srv(1, 1, 10, "gone.test"), srv(2, 3, 30, "c.test")],
            64,
            hosts,
        )
        .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].address.to_string(), "127.0.0.4:30");
        assert_eq!(list[0].weight, 30);
    }

    #[test]
    fn root_targets_and_duplicates_are_dropped_and_the_set_is_capped() {
        let list = select(
            vec![
                srv(1, 1, 10, "."),
                srv(1, 1, 10, "a.test"),
                srv(1, 9, 10, "a.test"),
            ],
            64,
            hosts,
        )
        .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].weight, 90, "the heavier duplicate stays");
        let many: Vec<SRV> = (0..1000).map(|p| srv(1, 1, p, "b.test")).collect();
        assert_eq!(select(many, 7, hosts).unwrap().len(), 7);
        assert!(select(vec![], 7, hosts).unwrap().is_empty());
    }

    #[test]
    fn an_outage_on_a_target_fails_the_lookup() {
        let err = select(vec![srv(1, 1, 10, "a.test")], 8, |_| {
            Err(QueryError::NoServers)
        })
        .unwrap_err();
        assert!(matches!(err, QueryError::NoServers));
    }

    #[test]
    fn a_reply_with_glue_needs_no_question() {
        use hickory_proto::op::{Message, OpCode};
        use hickory_proto::rr::Record;
        use hickory_proto::rr::rdata::A;
        let owner = parse_name("_x._tcp.test").unwrap();
        let mut reply = Message::response(1, OpCode::Query);
        for (port, target) in [(1, "a.test"), (2, "a.test"), (3, "nowhere.test")] {
            let data = RData::SRV(srv(1, 1, port, target));
            reply.add_answer(Record::from_rdata(owner.clone(), 30, data));
        }
        let glue = RData::A(A(Ipv4Addr::new(10, 0, 0, 1)));
        reply.add_additional(Record::from_rdata(parse_name("a.test").unwrap(), 30, glue));
        let bytes = reply.to_vec().unwrap();
        let list = instances_from_reply(&bytes, 8);
        let addrs: Vec<String> = list.iter().map(|i| i.address.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.1:1", "10.0.0.1:2"]);
        assert_eq!(instances_from_reply(&bytes, 1).len(), 1);
        assert!(instances_from_reply(&bytes[..bytes.len() - 3], 8).is_empty());
        assert!(instances_from_reply(b"", 8).is_empty());
    }

    #[test]
    fn weight_zero_is_the_smallest_weight() {
        assert_eq!(weight(0), 1);
        assert_eq!(weight(1), 10);
        assert_eq!(weight(u16::MAX), 655_350);
    }
}
