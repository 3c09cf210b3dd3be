//! DNS discovery: A/AAAA records of `host:port`, SRV records of
//! `_service._proto.domain` (feature `dns-srv`), refreshed on an interval.
//!
//! # Names
//!
//! - `host:port` (`"api.example.test:8080"`, `"[::1]:80"`): the host's
//!   A/AAAA addresses, each an instance with that port and the default
//!   weight. Through the system resolver (`ToSocketAddrs`, so `/etc/hosts`
//!   and nsswitch apply), or through the configured name servers when
//!   `DnsDiscoverBuilder::with_name_servers` gave some.
//! - a name whose first label starts with `_` and that has no port
//!   (`"_echo._tcp.example.test"`, RFC 2782's `_Service._Proto.Name`): its
//!   SRV records (feature `dns-srv`), asked of the name servers of
//!   `/etc/resolv.conf` (re-read on each refresh) or of the configured ones.
//!   Each target's A/AAAA addresses become instances with the SRV port and
//!   a weight of SRV weight × 10 (SRV weight 0 becomes 1, the smallest
//!   weight); only the lowest-priority group that has addresses is used.
//!   Instances carry the tags `dns.target` and `dns.priority`.
//!
//! # Refresh and failures
//!
//! The first [`Discover::discover`] of a name resolves it and fails (a
//! discovery error) when it cannot: no such name (NXDOMAIN), no usable
//! record, no server answering. Later, every `refresh` period re-resolves
//! it; a failed refresh, NXDOMAIN or an empty answer keeps the last known
//! set (and logs a warning), so a DNS outage never empties a client's
//! instance list.
//! [`DnsDiscover::refreshes`] counts the refreshes done.
//!
//! # Limits
//!
//! At most `max_instances` instances per name (default
//! [`DEFAULT_MAX_INSTANCES`]): for SRV, records are taken lowest priority
//! first and the rest dropped. Each DNS question has a timeout (default 2 s,
//! or resolv.conf's `timeout:`) and `attempts` rounds over the servers
//! (default 2, or `attempts:`). Replies are bounded by DNS itself: 1232
//! bytes over UDP (EDNS), 64 KiB over TCP after a truncated UDP reply.
//!
//! Resolution runs on the runtime's blocking pool, never on a worker
//! thread, so it works on every wego-netpoll backend.

use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use wego_netpoll::Address;

use super::{BoxFuture, Discover, InstanceWatch, Publisher};
use crate::{Error, Instance, Result};

#[cfg(feature = "dns-srv")]
mod client;
#[cfg(feature = "dns-srv")]
mod resolv_conf;
#[cfg(feature = "dns-srv")]
mod srv;

#[cfg(feature = "dns-srv")]
#[doc(hidden)]
pub use srv::instances_from_reply;

/// The most instances a name yields unless configured otherwise.
pub const DEFAULT_MAX_INSTANCES: usize = 64;

/// Discovers services through DNS: A/AAAA of `host:port`, SRV of
/// `_service._proto.domain` (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct DnsDiscover {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<Config>,
    services: Mutex<HashMap<String, Publisher>>,
    /// Refreshes completed, whatever their outcome.
    refreshes: AtomicU64,
}

#[derive(Debug, Clone)]
struct Config {
    refresh: Duration,
    max_instances: usize,
    #[cfg_attr(not(feature = "dns-srv"), allow(dead_code))]
    name_servers: Vec<std::net::SocketAddr>,
    #[cfg_attr(not(feature = "dns-srv"), allow(dead_code))]
    timeout: Option<Duration>,
    #[cfg_attr(not(feature = "dns-srv"), allow(dead_code))]
    attempts: Option<u32>,
}

/// Configures a [`DnsDiscover`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DnsDiscoverBuilder {
    config: Config,
}

impl DnsDiscoverBuilder {
    /// Re-resolves each watched name every `refresh` (at least 100 ms;
    /// default 30 s).
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.config.refresh = refresh.max(Duration::from_millis(100));
        self
    }

    /// The most instances one name yields (default [`DEFAULT_MAX_INSTANCES`]).
    pub fn with_max_instances(mut self, max: NonZeroUsize) -> Self {
        self.config.max_instances = max.get();
        self
    }

    /// Asks these name servers instead of `/etc/resolv.conf`'s, for SRV and
    /// also for the A/AAAA of `host:port` names (which then bypass the
    /// system resolver and `/etc/hosts`). An empty list means the default.
    #[cfg(feature = "dns-srv")]
    pub fn with_name_servers(
        mut self,
        servers: impl IntoIterator<Item = std::net::SocketAddr>,
    ) -> Self {
        self.config.name_servers = servers.into_iter().collect();
        self
    }

    /// How long one DNS question waits for one server's answer, UDP and
    /// the TCP retry after a truncated reply together (default 2 s, or
    /// resolv.conf's `timeout:`; at least 10 ms).
    #[cfg(feature = "dns-srv")]
    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = Some(timeout.max(Duration::from_millis(10)));
        self
    }

    /// How many rounds over the name servers a question makes (default 2,
    /// or resolv.conf's `attempts:`; at least 1).
    #[cfg(feature = "dns-srv")]
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.config.attempts = Some(attempts.max(1));
        self
    }

    /// Builds the discoverer (nothing is resolved before the first
    /// [`Discover::discover`]).
    pub fn build(self) -> DnsDiscover {
        DnsDiscover {
            inner: Arc::new(Inner {
                config: Arc::new(self.config),
                services: Mutex::default(),
                refreshes: AtomicU64::new(0),
            }),
        }
    }
}

impl DnsDiscover {
    /// Re-resolves each watched name every `refresh` (at least 100 ms),
    /// with the default name servers and limits.
    pub fn new(refresh: Duration) -> Self {
        Self::builder().with_refresh(refresh).build()
    }

    /// A builder with the defaults: 30 s refresh, the system's name
    /// servers, [`DEFAULT_MAX_INSTANCES`].
    pub fn builder() -> DnsDiscoverBuilder {
        DnsDiscoverBuilder {
            config: Config {
                refresh: Duration::from_secs(30),
                max_instances: DEFAULT_MAX_INSTANCES,
                name_servers: Vec::new(),
                timeout: None,
                attempts: None,
            },
        }
    }

    /// How many refreshes of watched names have completed so far, over all
    /// names and whatever their outcome (a changed set, the same set, a
    /// failure). A count that stops growing while names are watched means
    /// the refresh is stuck; waiting for it to grow by `n` waits for `n`
    /// refreshes.
    pub fn refreshes(&self) -> u64 {
        self.inner.refreshes.load(Ordering::Acquire)
    }
}

impl Default for DnsDiscover {
    /// Refreshes every 30 s.
    fn default() -> Self {
        Self::builder().build()
    }
}

/// True for RFC 2782 names: the first label starts with `_`, no port.
fn is_srv_name(name: &str) -> bool {
    name.starts_with('_') && !name.contains(':')
}

#[cfg(feature = "dns-srv")]
impl Config {
    /// The stub client: the configured servers, or resolv.conf's (blocking).
    fn client(&self) -> client::Client {
        let system = self
            .name_servers
            .is_empty()
            .then(resolv_conf::ResolvConf::system);
        let servers = match &system {
            Some(conf) => conf.servers.clone(),
            None => self.name_servers.clone(),
        };
        client::Client {
            servers,
            timeout: self
                .timeout
                .or_else(|| system.as_ref().and_then(|c| c.timeout))
                .unwrap_or(Duration::from_secs(2)),
            attempts: self
                .attempts
                .or_else(|| system.as_ref().and_then(|c| c.attempts))
                .unwrap_or(2),
        }
    }

    /// Resolves `name` with the stub client (blocking).
    fn lookup_with_client(&self, name: &str) -> Result<Vec<Instance>> {
        let fail = |e: client::QueryError| Error::discovery(format!("dns: {e}"), e);
        let client = self.client();
        if is_srv_name(name) {
            return srv::srv_instances(&client, name, self.max_instances).map_err(fail);
        }
        let (host, port) = split_host_port(name)?;
        let ips = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                let qname = client::parse_name(host).map_err(fail)?;
                srv::host_addresses(&client, &qname).map_err(fail)?
            }
        };
        Ok(ips
            .into_iter()
            .map(|ip| Instance::new(Address::Tcp((ip, port).into())))
            .collect())
    }
}

/// Splits `host:port` (`[v6]:port` too).
#[cfg(feature = "dns-srv")]
fn split_host_port(name: &str) -> Result<(&str, u16)> {
    let bad = || Error::discovery(format!("dns: `{name}` is not host:port"), "missing port");
    let (host, port) = name.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().map_err(|_| bad())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok((host, port))
}

/// Resolves `name` once, on the blocking pool.
async fn lookup(config: Arc<Config>, name: String) -> Result<Vec<Instance>> {
    #[cfg(not(feature = "dns-srv"))]
    if is_srv_name(&name) {
        return Err(Error::discovery(
            format!("dns: SRV name `{name}` needs the `dns-srv` feature"),
            "SRV lookup not compiled in",
        ));
    }
    let max = config.max_instances;
    let res = wego_netpoll::rt::spawn_blocking(move || {
        #[cfg(feature = "dns-srv")]
        if is_srv_name(&name) || !config.name_servers.is_empty() {
            return config.lookup_with_client(&name);
        }
        name.to_socket_addrs()
            .map(|addrs| {
                addrs
                    .map(|a| Instance::new(Address::Tcp(a)))
                    .collect::<Vec<_>>()
            })
            .map_err(|e| Error::discovery(format!("dns lookup of `{name}` failed"), e))
    })
    .await;
    match res {
        Ok(Ok(mut list)) => {
            list.truncate(max);
            Ok(list)
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Error::discovery("dns lookup task failed", e)),
    }
}

async fn refresh_loop(inner: Weak<Inner>, name: String, publisher: Publisher) {
    let Some(config) = inner.upgrade().map(|i| i.config.clone()) else {
        return;
    };
    loop {
        wego_netpoll::rt::sleep(config.refresh).await;
        if inner.strong_count() == 0 {
            return;
        }
        match lookup(config.clone(), name.clone()).await {
            Ok(list) if !list.is_empty() => {
                if publisher.publish(list) {
                    tracing::debug!(service = %name, "dns answer changed");
                }
            }
            Ok(_) => {
                tracing::warn!(service = %name, "dns returned no instance; keeping the last set")
            }
            Err(e) => {
                tracing::warn!(service = %name, error = %e, "dns refresh failed; keeping the last set")
            }
        }
        // Counted once the outcome is published, so that whoever sees the
        // count also sees what the refresh published.
        if let Some(inner) = inner.upgrade() {
            inner.refreshes.fetch_add(1, Ordering::Release);
        }
    }
}

impl Discover for DnsDiscover {
    /// `service` is `host:port` or an SRV name (see the module docs).
    fn discover(&self, service: &str) -> BoxFuture<'_, Result<InstanceWatch>> {
        let service = service.to_owned();
        Box::pin(async move {
            let existing = self
                .inner
                .services
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&service)
                .cloned();
            if let Some(p) = existing {
                return Ok(p.subscribe());
            }
            let first = lookup(self.inner.config.clone(), service.clone()).await?;
            if first.is_empty() {
                return Err(Error::discovery(
                    format!("dns: `{service}` has no usable record"),
                    "empty answer",
                ));
            }
            let mut map = self
                .inner
                .services
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(p) = map.get(&service) {
                return Ok(p.subscribe());
            }
            let publisher = Publisher::new(Vec::new());
            publisher.publish(first);
            map.insert(service.clone(), publisher.clone());
            let watch = publisher.subscribe();
            wego_netpoll::rt::spawn(refresh_loop(
                Arc::downgrade(&self.inner),
                service,
                publisher,
            ));
            Ok(watch)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_names_are_recognised() {
        assert!(is_srv_name("_echo._tcp.example.test"));
        assert!(!is_srv_name("_echo._tcp.example.test:80"));
        assert!(!is_srv_name("localhost:80"));
    }

    #[cfg(feature = "dns-srv")]
    #[test]
    fn splits_host_and_port() {
        assert_eq!(split_host_port("a.test:80").unwrap(), ("a.test", 80));
        assert_eq!(split_host_port("[::1]:53").unwrap(), ("::1", 53));
        assert!(split_host_port("a.test").unwrap_err().is_discovery());
        assert!(split_host_port("a.test:99999").is_err());
    }
}
