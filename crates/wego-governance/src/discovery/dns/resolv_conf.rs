//! The name servers and options of `/etc/resolv.conf`.
//!
//! Only what the stub client uses: `nameserver` lines (at most three, as
//! glibc's `MAXNS`), `options timeout:N` and `options attempts:N` (clamped
//! to glibc's limits, 30 s and 5). `search` and `ndots` are not applied:
//! SRV names are taken as absolute. Without a `nameserver` line the local
//! server `127.0.0.1:53` is used, as glibc does.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The most name servers read from the file (glibc's `MAXNS`).
const MAX_SERVERS: usize = 3;

/// What `/etc/resolv.conf` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvConf {
    pub(crate) servers: Vec<SocketAddr>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) attempts: Option<u32>,
}

impl ResolvConf {
    /// Parses the file's text; unknown or malformed lines are skipped.
    pub(crate) fn parse(text: &str) -> Self {
        let mut conf = ResolvConf {
            servers: Vec::new(),
            timeout: None,
            attempts: None,
        };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_ascii_whitespace();
            match words.next() {
                Some("nameserver") => {
                    // A link-local scope (`fe80::1%eth0`) cannot be parsed
                    // into a SocketAddr; such a server is skipped.
                    let ip = words.next().and_then(|w| w.parse::<IpAddr>().ok());
                    if let Some(ip) = ip
                        && conf.servers.len() < MAX_SERVERS
                    {
                        conf.servers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("options") => {
                    for opt in words {
                        if let Some(v) = opt.strip_prefix("timeout:") {
                            conf.timeout = v
                                .parse::<u64>()
                                .ok()
                                .map(|s| Duration::from_secs(s.clamp(1, 30)));
                        } else if let Some(v) = opt.strip_prefix("attempts:") {
                            conf.attempts = v.parse::<u32>().ok().map(|n| n.clamp(1, 5));
                        }
                    }
                }
                _ => {}
            }
        }
        if conf.servers.is_empty() {
            conf.servers
                .push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
        }
        conf
    }

    /// Reads and parses `/etc/resolv.conf` (blocking: call it on the
    /// blocking pool). A missing file means the defaults.
    pub(crate) fn system() -> Self {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        Self::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_servers_and_options() {
        let c = ResolvConf::parse(
            "# generated\nsearch example.test\nnameserver 10.0.0.1\nnameserver ::1 # local\n\
             nameserver fe80::1%eth0\nnameserver bogus\noptions ndots:2 timeout:3 attempts:9\n\
             nameserver 10.0.0.2\nnameserver 10.0.0.3\n",
        );
        assert_eq!(
            c.servers,
            vec![
                "10.0.0.1:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                "10.0.0.2:53".parse().unwrap(),
            ]
        );
        assert_eq!(c.timeout, Some(Duration::from_secs(3)));
        assert_eq!(c.attempts, Some(5), "clamped to glibc's limit");
    }

    #[test]
    fn an_empty_file_means_the_local_server() {
        let c = ResolvConf::parse("");
        assert_eq!(c.servers, vec!["127.0.0.1:53".parse().unwrap()]);
        assert_eq!((c.timeout, c.attempts), (None, None));
        let c = ResolvConf::parse("options timeout:0 attempts:x\n;nameserver 10.0.0.9");
        assert_eq!(c.timeout, Some(Duration::from_secs(1)));
        assert_eq!(c.attempts, None);
        assert_eq!(c.servers.len(), 1);
    }
}
