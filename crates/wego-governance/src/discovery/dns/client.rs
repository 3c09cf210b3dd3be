//! A small blocking DNS stub client: one question, UDP with TCP fallback.
//!
//! It runs on the runtime's blocking pool (never on a worker thread), so it
//! works on every wego-netpoll backend; `hickory-proto` does the wire
//! format, this file only moves bytes. Per question it tries each name
//! server in turn, `attempts` rounds, each exchange (UDP, and TCP after a
//! truncated reply) bounded by one `timeout` from its start, however
//! slowly a server sends: the worst case is `attempts × servers × timeout`.
//!
//! Defences against a hostile or confused network: the UDP socket is
//! connected (the kernel drops datagrams from other sources), a reply must
//! carry our random id, be a response and echo our question, or it is
//! ignored; a truncated (TC) reply is retried over TCP, whose length prefix
//! bounds the message at 64 KiB. Decoding errors are `hickory-proto`'s.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use wego_netpoll::rt;

/// The UDP payload size we advertise with EDNS(0) (the DNS flag day value).
const UDP_PAYLOAD: u16 = 1232;

/// Why a question got no usable answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum QueryError {
    /// The name does not exist (NXDOMAIN from a server).
    #[error("no such name `{0}` (NXDOMAIN)")]
    NoSuchName(String),
    /// Every server failed; the last failure is kept.
    #[error("no dns server answered `{name}`: {last}")]
    Unanswered {
        /// The question's name.
        name: String,
        /// The last server's failure.
        last: String,
    },
    /// The name is not a valid domain name.
    #[error("invalid dns name `{0}`")]
    InvalidName(String),
    /// No name server is configured.
    #[error("no dns name server configured")]
    NoServers,
}

impl QueryError {
    /// True when the answer says the name has no records (not an outage).
    pub(crate) fn is_no_such_name(&self) -> bool {
        matches!(self, QueryError::NoSuchName(_))
    }
}

/// Where and how to ask.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) servers: Vec<SocketAddr>,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
}

/// Parses `name` as an absolute domain name.
pub(crate) fn parse_name(name: &str) -> Result<Name, QueryError> {
    let mut parsed =
        Name::from_ascii(name).map_err(|_| QueryError::InvalidName(name.to_owned()))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

impl Client {
    /// Asks `rtype` records of `name`; returns the NOERROR reply.
    pub(crate) fn query(&self, name: &Name, rtype: RecordType) -> Result<Message, QueryError> {
        if self.servers.is_empty() {
            return Err(QueryError::NoServers);
        }
        let mut last = String::from("no attempt made");
        for _ in 0..self.attempts.max(1) {
            for server in &self.servers {
                match self.exchange(*server, name, rtype) {
                    Ok(reply) => match reply.metadata.response_code {
                        ResponseCode::NoError => return Ok(reply),
                        ResponseCode::NXDomain => {
                            return Err(QueryError::NoSuchName(name.to_ascii()));
                        }
                        code => last = format!("{server} answered {code}"),
                    },
                    Err(e) => last = format!("{server}: {e}"),
                }
            }
        }
        Err(QueryError::Unanswered {
            name: name.to_ascii(),
            last,
        })
    }

    fn exchange(&self, server: SocketAddr, name: &Name, rtype: RecordType) -> io::Result<Message> {
        let id = fastrand::u16(..);
        let mut query = Message::new(id, MessageType::Query, OpCode::Query);
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(name.clone(), rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_PAYLOAD);
        query.set_edns(edns);
        let bytes = query.to_vec().map_err(io::Error::other)?;
        // The system clock, not the runtime's: this runs on a blocking
        // thread and bounds the kernel's socket timeouts, which count real
        // time whatever a paused test clock says.
        // A timeout too long for an `Instant` gives a deadline that never
        // comes; the kernel's socket timeouts take the time left as it is.
        let deadline = rt::deadline_after(Instant::now(), self.timeout);
        let reply = udp(server, &bytes, &query, deadline)?;
        if reply.metadata.truncation {
            return tcp(server, &bytes, &query, deadline);
        }
        Ok(reply)
    }
}

/// The time left before `deadline`, or a timeout error once it passed.
fn left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    Ok(left)
}

/// Asks over UDP; waits for our reply, ignoring any other datagram, until
/// `deadline`.
fn udp(
    server: SocketAddr,
    bytes: &[u8],
    query: &Message,
    deadline: Instant,
) -> io::Result<Message> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(server)?;
    socket.send(bytes)?;
    let mut buf = vec![0u8; usize::from(UDP_PAYLOAD).max(512) + 512];
    loop {
        socket.set_read_timeout(Some(left(deadline)?))?;
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock) => {
                return Err(io::ErrorKind::TimedOut.into());
            }
            Err(e) => return Err(e),
        };
        // A datagram that is not our answer is ignored, not an error:
        // it may be a late reply to an earlier attempt or a spoof.
        if let Some(reply) = buf.get(..n).and_then(|b| matching(b, query)) {
            return Ok(reply);
        }
    }
}

/// Asks over TCP; every system call waits at most until `deadline`, so a
/// server that sends a byte at a time cannot stretch the exchange.
fn tcp(
    server: SocketAddr,
    bytes: &[u8],
    query: &Message,
    deadline: Instant,
) -> io::Result<Message> {
    let mut stream = TcpStream::connect_timeout(&server, left(deadline)?)?;
    let len = u16::try_from(bytes.len()).map_err(io::Error::other)?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    let mut sent = 0;
    while sent < framed.len() {
        stream.set_write_timeout(Some(left(deadline)?))?;
        match stream.write(&framed[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e)),
        }
    }
    let mut len = [0u8; 2];
    read_exact_by(&mut stream, &mut len, deadline)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    read_exact_by(&mut stream, &mut buf, deadline)?;
    matching(&buf, query)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "tcp reply does not match"))
}

/// `read_exact` whose reads all end by `deadline`.
fn read_exact_by(stream: &mut TcpStream, mut buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    while !buf.is_empty() {
        stream.set_read_timeout(Some(left(deadline)?))?;
        match stream.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e)),
        }
    }
    Ok(())
}

/// A socket timeout shows as `WouldBlock` ("Resource temporarily
/// unavailable") on Unix; name it for what it is.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::ErrorKind::TimedOut.into()
    } else {
        e
    }
}

/// Decodes `bytes` and returns it when it is the reply to `query`.
fn matching(bytes: &[u8], query: &Message) -> Option<Message> {
    let reply = Message::from_vec(bytes).ok()?;
    let ours = reply.metadata.id == query.metadata.id
        && reply.metadata.message_type == MessageType::Response
        && reply.queries == query.queries;
    ours.then_some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> Message {
        let mut q = Message::new(7, MessageType::Query, OpCode::Query);
        q.add_query(Query::query(
            parse_name("_x._tcp.example.test").unwrap(),
            RecordType::SRV,
        ));
        q
    }

    #[test]
    fn a_reply_must_match_id_type_and_question() {
        let q = query();
        let mut reply = q.clone();
        reply.metadata.message_type = MessageType::Response;
        assert!(matching(&reply.to_vec().unwrap(), &q).is_some());
        let mut other_id = reply.clone();
        other_id.metadata.id = 8;
        assert!(matching(&other_id.to_vec().unwrap(), &q).is_none());
        assert!(
            matching(&q.to_vec().unwrap(), &q).is_none(),
            "a query is no reply"
        );
        let mut other_q = reply.clone();
        other_q.queries[0].set_query_type(RecordType::A);
        assert!(matching(&other_q.to_vec().unwrap(), &q).is_none());
        assert!(matching(&[0xff; 5], &q).is_none(), "garbage is ignored");
        assert!(matching(&[], &q).is_none());
    }

    #[test]
    fn a_socket_timeout_is_reported_as_a_timeout() {
        let e = timed_out(io::ErrorKind::WouldBlock.into());
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let e = timed_out(io::ErrorKind::ConnectionReset.into());
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn rejects_invalid_names() {
        assert!(parse_name(&"a".repeat(300)).is_err());
        assert!(parse_name(&format!("{}.test", "a".repeat(64))).is_err());
        assert!(parse_name("_echo._tcp.example.test").unwrap().is_fqdn());
    }

    #[test]
    fn without_servers_nothing_is_asked() {
        let c = Client {
            servers: Vec::new(),
            timeout: Duration::from_millis(10),
            attempts: 1,
        };
        let err = c
            .query(&parse_name("x.test").unwrap(), RecordType::A)
            .unwrap_err();
        assert!(matches!(err, QueryError::NoServers), "{err}");
    }
}
