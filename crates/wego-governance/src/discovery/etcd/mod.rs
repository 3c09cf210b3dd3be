//! etcd v3 discovery and registry (feature `etcd`).
//!
//! # Layout
//!
//! An instance of service `S` at address `A` lives at key
//! `<prefix>/S/A` (prefix `/wego/services` by default) with the value
//! [`codec::encode`] gives, attached to a lease of the
//! registration's TTL.
//!
//! # Registry
//!
//! [`EtcdRegistry::register`] grants a lease, puts the key, and returns once
//! that first put succeeded. A keeper task then sends keep-alives every
//! TTL/3. If a keep-alive fails or etcd reports the lease gone (expired
//! while the process was paused, or etcd lost it across a restart), the
//! keeper grants a new lease and puts the key again, retrying every
//! `retry_interval` until etcd is back: registrations come back by
//! themselves after an etcd restart. [`EtcdRegistry::keep_alives`] counts
//! the keep-alives etcd acknowledged.
//!
//! # Discovery
//!
//! [`EtcdDiscover::discover`] reads the service's prefix once (failing if
//! etcd cannot be reached), then a task watches the prefix from the next
//! revision and publishes each new set. When the watch breaks (etcd down or
//! restarted, a compaction, a member that lost its leader, or a connection
//! gone silent: no answer to an HTTP/2 PING sent after `keep_alive_interval`
//! without a frame, within `timeout`), the task re-reads and re-watches after
//! `retry_interval`; meanwhile the last known set stays published, so
//! clients keep calling the instances they know. A re-read that comes back
//! with fewer instances does not replace the set at once (empty
//! protection): the set is held until as many instances have re-registered
//! or `empty_protection` passes.
//!
//! # Runtime
//!
//! The client runs on tonic's HTTP/2 channel, which needs tokio's runtime:
//! etcd discovery and registry work on the tokio network backend only.

mod client;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use wego_netpoll::rt::{self, JoinHandle};

use client::{Client, EtcdError};

use super::codec;
use super::{BoxFuture, Discover, InstanceWatch, Publisher, Registration, Registry};
use crate::{Error, Instance, Result};

/// The default [`EtcdConfig::keep_alive_interval`]: gRPC's Go client's
/// shortest keep-alive time, above etcd's default
/// `--grpc-keepalive-min-time` of 5 s.
const DEFAULT_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Where etcd is and how to talk to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EtcdConfig {
    /// Client URLs, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Key prefix of every service (no trailing slash).
    pub prefix: String,
    /// Timeout of connecting, of each request, and of the answer to a
    /// keep-alive PING.
    pub timeout: Duration,
    /// How long a connection with an open stream (a watch, lease
    /// keep-alives) waits without a frame from etcd before it sends an
    /// HTTP/2 PING; with no answer within `timeout` the connection closes
    /// and its streams fail, so a silent member is left for another
    /// endpoint.
    pub keep_alive_interval: Duration,
    /// Pause between attempts while etcd is unreachable.
    pub retry_interval: Duration,
    /// How long discovery keeps its last set when etcd comes back with
    /// fewer instances (waiting for them to re-register).
    pub empty_protection: Duration,
}

impl EtcdConfig {
    /// Talks to `endpoints` with the defaults: prefix `/wego/services`,
    /// 3 s timeouts, a PING after 10 s of silence on an open stream,
    /// 500 ms between retries.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            prefix: "/wego/services".to_owned(),
            timeout: Duration::from_secs(3),
            keep_alive_interval: DEFAULT_KEEP_ALIVE_INTERVAL,
            retry_interval: Duration::from_millis(500),
            empty_protection: Duration::from_secs(30),
        }
    }

    /// Sets the key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// Sets the connect and request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long a connection with an open stream waits without a
    /// frame from etcd before it sends a PING (see
    /// [`keep_alive_interval`](Self::keep_alive_interval)). etcd answers a
    /// client that pings more often than its `--grpc-keepalive-min-time`
    /// (5 s by default) with a GOAWAY; gRPC's Go client never pings more
    /// often than every 10 s, the default here.
    pub fn with_keep_alive_interval(mut self, interval: Duration) -> Self {
        self.keep_alive_interval = interval;
        self
    }

    /// Sets the pause between reconnection attempts.
    pub fn with_retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// Sets how long discovery holds its last set after etcd came back
    /// with fewer instances.
    pub fn with_empty_protection(mut self, hold: Duration) -> Self {
        self.empty_protection = hold;
        self
    }

    fn service_prefix(&self, service: &str) -> String {
        format!("{}/{service}/", self.prefix)
    }

    fn key(&self, reg: &Registration) -> String {
        format!(
            "{}{}",
            self.service_prefix(&reg.service),
            reg.instance.address
        )
    }

    async fn connect(&self) -> std::result::Result<Client, EtcdError> {
        Client::connect(&self.endpoints, self.timeout, self.keep_alive_interval).await
    }

    async fn connect_registry(&self) -> Result<Client> {
        self.connect()
            .await
            .map_err(|e| Error::registry("cannot connect to etcd", e))
    }

    async fn connect_discovery(&self) -> Result<Client> {
        self.connect()
            .await
            .map_err(|e| Error::discovery("cannot connect to etcd", e))
    }
}

/// Registers instances in etcd under leases kept alive in the background.
#[derive(Debug, Clone)]
pub struct EtcdRegistry {
    inner: Arc<RegistryInner>,
}

#[derive(Debug)]
struct RegistryInner {
    config: EtcdConfig,
    keepers: Mutex<HashMap<String, JoinHandle<()>>>,
    /// Keep-alives etcd acknowledged with the lease still alive.
    keep_alives: Arc<AtomicU64>,
}

impl Drop for RegistryInner {
    fn drop(&mut self) {
        let keepers = self
            .keepers
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, h) in keepers.drain() {
            h.abort();
        }
    }
}

impl EtcdRegistry {
    /// Creates a registry; nothing is contacted until the first call.
    pub fn new(config: EtcdConfig) -> Self {
        EtcdRegistry {
            inner: Arc::new(RegistryInner {
                config,
                keepers: Mutex::default(),
                keep_alives: Arc::default(),
            }),
        }
    }

    /// How many keep-alives etcd has acknowledged so far with the lease
    /// still alive, over all of this registry's registrations. Each
    /// registration adds one when its keep-alives start (after each
    /// registration or re-registration) and one every TTL/3 after that,
    /// as long as etcd keeps its lease: a count that stops growing means
    /// the registrations are no longer kept alive.
    pub fn keep_alives(&self) -> u64 {
        self.inner.keep_alives.load(Ordering::Acquire)
    }
}

/// Grants a lease and puts the key under it; returns the lease id.
async fn put_with_lease(client: &mut Client, key: &str, value: &str, ttl: i64) -> Result<i64> {
    let lease = client
        .lease_grant(ttl)
        .await
        .map_err(|e| Error::registry("etcd lease grant failed", e))?;
    client
        .put(key, value, lease)
        .await
        .map_err(|e| Error::registry("etcd put failed", e))?;
    Ok(lease)
}

/// Keeps a lease alive until the keep-alive fails or the lease is gone,
/// counting each acknowledged keep-alive in `acknowledged`.
async fn keep_alive(
    client: &mut Client,
    lease: i64,
    period: Duration,
    timeout: Duration,
    acknowledged: &AtomicU64,
) -> Result<()> {
    let (mut keeper, mut answer) = match rt::timeout(timeout, client.lease_keep_alive(lease)).await
    {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => return Err(Error::registry("etcd keep-alive failed", e)),
        Err(e) => return Err(Error::registry("etcd keep-alive timed out", e)),
    };
    loop {
        match answer {
            Some(ttl) if ttl > 0 => {
                acknowledged.fetch_add(1, Ordering::Release);
            }
            Some(_) => return Err(Error::registry("etcd lease lost", "lease expired")),
            None => return Err(Error::registry("etcd keep-alive ended", "stream closed")),
        }
        rt::sleep(period).await;
        answer = match rt::timeout(timeout, keeper.keep_alive()).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(Error::registry("etcd keep-alive failed", e)),
            Err(e) => return Err(Error::registry("etcd keep-alive timed out", e)),
        };
    }
}

async fn keeper_loop(
    config: EtcdConfig,
    key: String,
    value: String,
    ttl: i64,
    mut client: Client,
    lease: i64,
    acknowledged: Arc<AtomicU64>,
) {
    let period =
        Duration::from_secs(u64::try_from(ttl).unwrap_or(1)).max(Duration::from_secs(1)) / 3;
    let mut lease = Some(lease);
    loop {
        if let Some(id) = lease.take()
            && let Err(e) = keep_alive(&mut client, id, period, config.timeout, &acknowledged).await
        {
            tracing::warn!(%key, error = %e, "registration lost; re-registering");
        }
        rt::sleep(config.retry_interval).await;
        let attempt = async {
            let mut c = config.connect_registry().await?;
            let id = put_with_lease(&mut c, &key, &value, ttl).await?;
            Ok::<_, Error>((c, id))
        };
        match rt::timeout(config.timeout.saturating_mul(2), attempt).await {
            Ok(Ok((c, id))) => {
                tracing::info!(%key, "re-registered in etcd");
                client = c;
                lease = Some(id);
            }
            Ok(Err(e)) => {
                tracing::debug!(%key, error = %e, "etcd re-registration failed; retrying")
            }
            Err(_) => tracing::debug!(%key, "etcd re-registration timed out; retrying"),
        }
    }
}

impl Registry for EtcdRegistry {
    fn register(&self, registration: &Registration) -> BoxFuture<'_, Result<()>> {
        let reg = registration.clone();
        Box::pin(async move {
            let cfg = &self.inner.config;
            let key = cfg.key(&reg);
            let value = codec::encode(&reg.instance);
            let ttl = i64::try_from(reg.ttl.as_secs()).unwrap_or(i64::MAX).max(1);
            let first = async {
                let mut client = cfg.connect_registry().await?;
                let lease = put_with_lease(&mut client, &key, &value, ttl).await?;
                Ok::<_, Error>((client, lease))
            };
            let (client, lease) = rt::timeout(cfg.timeout.saturating_mul(2), first)
                .await
                .map_err(|e| Error::registry("etcd registration timed out", e))??;
            let handle = rt::spawn(keeper_loop(
                cfg.clone(),
                key.clone(),
                value,
                ttl,
                client,
                lease,
                self.inner.keep_alives.clone(),
            ));
            let old = self
                .inner
                .keepers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, handle);
            if let Some(old) = old {
                old.abort();
            }
            Ok(())
        })
    }

    fn deregister(&self, registration: &Registration) -> BoxFuture<'_, Result<()>> {
        let key = self.inner.config.key(registration);
        Box::pin(async move {
            let handle = self
                .inner
                .keepers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
            if let Some(h) = handle {
                h.abort();
            }
            let cfg = &self.inner.config;
            let delete = async {
                let mut client = cfg.connect_registry().await?;
                client
                    .delete(&key)
                    .await
                    .map_err(|e| Error::registry("etcd delete failed", e))
            };
            rt::timeout(cfg.timeout.saturating_mul(2), delete)
                .await
                .map_err(|e| Error::registry("etcd deregistration timed out", e))??;
            Ok(())
        })
    }
}

/// Discovers services registered in etcd, following changes with a watch.
#[derive(Debug, Clone)]
pub struct EtcdDiscover {
    inner: Arc<DiscoverInner>,
}

#[derive(Debug)]
struct DiscoverInner {
    config: EtcdConfig,
    services: Mutex<HashMap<String, (Publisher, JoinHandle<()>)>>,
}

impl Drop for DiscoverInner {
    fn drop(&mut self) {
        let services = self
            .services
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, (_, h)) in services.drain() {
            h.abort();
        }
    }
}

impl EtcdDiscover {
    /// Creates a discovery; nothing is contacted until the first call.
    pub fn new(config: EtcdConfig) -> Self {
        EtcdDiscover {
            inner: Arc::new(DiscoverInner {
                config,
                services: Mutex::default(),
            }),
        }
    }
}

/// The service's instances by key, and the revision they were read at.
async fn read_all(client: &mut Client, prefix: &str) -> Result<(BTreeMap<Vec<u8>, Instance>, i64)> {
    let (kvs, revision) = client
        .get_prefix(prefix)
        .await
        .map_err(|e| Error::discovery("etcd get failed", e))?;
    let mut map = BTreeMap::new();
    for kv in &kvs {
        insert_decoded(&mut map, &kv.key, &kv.value);
    }
    Ok((map, revision))
}

fn insert_decoded(map: &mut BTreeMap<Vec<u8>, Instance>, key: &[u8], value: &[u8]) {
    match codec::decode(value) {
        Ok(inst) => {
            map.insert(key.to_vec(), inst);
        }
        Err(e) => {
            tracing::warn!(key = %String::from_utf8_lossy(key), error = %e, "ignoring a malformed instance");
            map.remove(key);
        }
    }
}

fn publish(publisher: &Publisher, map: &BTreeMap<Vec<u8>, Instance>) {
    publisher.publish(map.values().cloned().collect());
}

/// Watches from `revision + 1`, publishing each change; returns when the
/// watch breaks.
///
/// With `hold = Some(deadline)` (empty protection after a reconnect), the
/// last published set stays until the watched set is at least as large, or
/// until the deadline passes, so that instances re-registering one by one
/// do not shrink a client's set to the first one back.
async fn follow(
    client: &mut Client,
    prefix: &str,
    publisher: &Publisher,
    mut map: BTreeMap<Vec<u8>, Instance>,
    revision: i64,
    mut hold: Option<std::time::Instant>,
) -> Result<()> {
    let mut stream = client
        .watch_prefix(prefix, revision + 1)
        .await
        .map_err(|e| Error::discovery("etcd watch failed", e))?;
    loop {
        let message = match hold {
            Some(deadline) => tokio::select! {
                m = stream.message() => Some(m),
                () = rt::sleep_until(deadline) => None,
            },
            None => Some(stream.message().await),
        };
        let Some(message) = message else {
            hold = None;
            publish(publisher, &map);
            continue;
        };
        let resp = match message {
            Ok(Some(r)) => r,
            Ok(None) => return Err(Error::discovery("etcd watch ended", "stream closed")),
            Err(e) => return Err(Error::discovery("etcd watch failed", e)),
        };
        if resp.canceled {
            return Err(Error::discovery("etcd watch cancelled", resp.cancel_reason));
        }
        // The creation acknowledgement and progress notifications carry no
        // events: nothing changed.
        if resp.events.is_empty() {
            continue;
        }
        for ev in &resp.events {
            let Some(kv) = &ev.kv else { continue };
            // A delete carries an empty value and our values never are
            // empty; deciding on it needs no event type, whose number an
            // etcd newer than this client may extend.
            if kv.value.is_empty() {
                map.remove(&kv.key);
            } else {
                insert_decoded(&mut map, &kv.key, &kv.value);
            }
        }
        if hold.is_some() && map.len() < publisher.current().len() {
            continue;
        }
        hold = None;
        publish(publisher, &map);
    }
}

async fn watch_loop(
    config: EtcdConfig,
    prefix: String,
    publisher: Publisher,
    mut client: Client,
    map: BTreeMap<Vec<u8>, Instance>,
    revision: i64,
) {
    let mut start = Some((map, revision, None));
    loop {
        if let Some((map, rev, hold)) = start.take()
            && let Err(e) = follow(&mut client, &prefix, &publisher, map, rev, hold).await
        {
            tracing::warn!(%prefix, error = %e, "etcd watch broke; keeping the last set");
        }
        rt::sleep(config.retry_interval).await;
        let attempt = async {
            let mut c = config.connect_discovery().await?;
            let (map, rev) = read_all(&mut c, &prefix).await?;
            Ok::<_, Error>((c, map, rev))
        };
        match rt::timeout(config.timeout.saturating_mul(2), attempt).await {
            Ok(Ok((c, map, rev))) => {
                // Empty protection: a re-read that finds fewer instances
                // right after etcd came back is more likely a restarted,
                // emptied etcd whose registrants have not re-registered yet
                // than a fleet that died while we could not see it. Keep the
                // last set for a while; the watch publishes the
                // registrations as they return.
                let hold = if map.len() < publisher.current().len() {
                    tracing::warn!(%prefix, found = map.len(), "etcd came back with fewer instances; holding the last set");
                    Some(rt::deadline_in(config.empty_protection))
                } else {
                    publish(&publisher, &map);
                    None
                };
                client = c;
                start = Some((map, rev, hold));
            }
            Ok(Err(e)) => tracing::debug!(%prefix, error = %e, "etcd unreachable; retrying"),
            Err(_) => tracing::debug!(%prefix, "etcd read timed out; retrying"),
        }
    }
}

impl Discover for EtcdDiscover {
    fn discover(&self, service: &str) -> BoxFuture<'_, Result<InstanceWatch>> {
        let service = service.to_owned();
        Box::pin(async move {
            if let Some((p, _)) = self
                .inner
                .services
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&service)
            {
                return Ok(p.subscribe());
            }
            let cfg = &self.inner.config;
            let prefix = cfg.service_prefix(&service);
            let first = async {
                let mut c = cfg.connect_discovery().await?;
                let (map, rev) = read_all(&mut c, &prefix).await?;
                Ok::<_, Error>((c, map, rev))
            };
            let (client, map, rev) = rt::timeout(cfg.timeout.saturating_mul(2), first)
                .await
                .map_err(|e| Error::discovery("etcd read timed out", e))??;
            let mut services = self
                .inner
                .services
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((p, _)) = services.get(&service) {
                return Ok(p.subscribe());
            }
            let publisher = Publisher::new(Vec::new());
            publish(&publisher, &map);
            let watch = publisher.subscribe();
            let handle = rt::spawn(watch_loop(
                cfg.clone(),
                prefix,
                publisher.clone(),
                client,
                map,
                rev,
            ));
            services.insert(service, (publisher, handle));
            Ok(watch)
        })
    }
}
