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
//! # Members
//!
//! Each call goes to one of `endpoints` at a time, starting with the member
//! that served last; a member that cannot serve (unreachable, no answer
//! within twice `timeout`, or UNAVAILABLE: no leader, no quorum) passes
//! the call to the next one, round the list, each member once. A watch or
//! lease keep-alive that breaks that way makes the next attempt start at
//! the next member.
//!
//! # Runtime
//!
//! The client runs on tonic's HTTP/2 channel, which needs tokio's runtime:
//! etcd discovery and registry work on the tokio network backend only.

mod client;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use wego_netpoll::rt::{self, JoinHandle};

use client::{Client, EtcdError, Members};

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
    /// Client URLs, e.g. `http://127.0.0.1:2379`: the cluster's members.
    /// Calls go to one at a time, moving on to the next when one cannot
    /// serve (see the module docs).
    pub endpoints: Vec<String>,
    /// Key prefix of every service (no trailing slash).
    pub prefix: String,
    /// Timeout of connecting, of each request, and of the answer to a
    /// keep-alive PING. A member that has not served a call within twice
    /// this passes it to the next member.
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

    /// Runs `op` on a connection to a member that serves, moving on from
    /// members that cannot (see [`Members::call`]); each member has
    /// twice the `timeout`: to connect, then for the call.
    async fn call<T, F, Fut>(
        &self,
        members: &Members,
        op: F,
    ) -> std::result::Result<(Client, T), EtcdError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, EtcdError>>,
    {
        let limit = self.timeout.saturating_mul(2);
        members
            .call(self.timeout, self.keep_alive_interval, limit, op)
            .await
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
    members: Arc<Members>,
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
                members: Arc::new(Members::new(config.endpoints.clone())),
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
///
/// Retried on another member when one cannot serve: the put is the same
/// on every attempt, and a lease granted by an attempt whose put failed
/// expires after its TTL.
async fn put_with_lease(
    mut client: Client,
    key: &str,
    value: &str,
    ttl: i64,
) -> std::result::Result<i64, EtcdError> {
    let lease = client.lease_grant(ttl).await?;
    client.put(key, value, lease).await?;
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
) -> std::result::Result<(), EtcdError> {
    let url = client.url().to_owned();
    let timed_out = || EtcdError::Timeout(url.clone());
    let (mut keeper, mut answer) = rt::timeout(timeout, client.lease_keep_alive(lease))
        .await
        .map_err(|_| timed_out())??;
    loop {
        match answer {
            Some(ttl) if ttl > 0 => {
                acknowledged.fetch_add(1, Ordering::Release);
            }
            Some(_) => return Err(EtcdError::LeaseGone),
            None => return Err(EtcdError::StreamClosed),
        }
        rt::sleep(period).await;
        answer = rt::timeout(timeout, keeper.keep_alive())
            .await
            .map_err(|_| timed_out())??;
    }
}

/// Keeps the registration `key` = `value` (TTL `ttl`) alive; `registered`
/// is the connection that made it and its lease.
async fn keeper_loop(
    config: EtcdConfig,
    members: Arc<Members>,
    key: String,
    value: String,
    ttl: i64,
    registered: (Client, i64),
    acknowledged: Arc<AtomicU64>,
) {
    let (mut client, lease) = registered;
    let period =
        Duration::from_secs(u64::try_from(ttl).unwrap_or(1)).max(Duration::from_secs(1)) / 3;
    let mut lease = Some(lease);
    loop {
        if let Some(id) = lease.take()
            && let Err(e) = keep_alive(&mut client, id, period, config.timeout, &acknowledged).await
        {
            // The re-registration starts at the next member when this one
            // cannot serve.
            if e.is_member_failure() {
                members.failed(client.member());
            }
            tracing::warn!(%key, error = %e, "registration lost; re-registering");
        }
        rt::sleep(config.retry_interval).await;
        let (k, v) = (&key, &value);
        match config
            .call(&members, |c| put_with_lease(c, k, v, ttl))
            .await
        {
            Ok((c, id)) => {
                tracing::info!(%key, "re-registered in etcd");
                client = c;
                lease = Some(id);
            }
            Err(e) => {
                tracing::debug!(%key, error = %e, "etcd re-registration failed; retrying")
            }
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
            let members = &self.inner.members;
            let (k, v) = (&key, &value);
            let (client, lease) = cfg
                .call(members, |c| put_with_lease(c, k, v, ttl))
                .await
                .map_err(|e| Error::registry("etcd registration failed", e))?;
            let handle = rt::spawn(keeper_loop(
                cfg.clone(),
                members.clone(),
                key.clone(),
                value,
                ttl,
                (client, lease),
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
            let key = &key;
            cfg.call(
                &self.inner.members,
                |mut c| async move { c.delete(key).await },
            )
            .await
            .map_err(|e| Error::registry("etcd deregistration failed", e))?;
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
    members: Arc<Members>,
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
                members: Arc::new(Members::new(config.endpoints.clone())),
                config,
                services: Mutex::default(),
            }),
        }
    }
}

/// The service's instances by key, and the revision they were read at.
async fn read_all(
    mut client: Client,
    prefix: &str,
) -> std::result::Result<(BTreeMap<Vec<u8>, Instance>, i64), EtcdError> {
    let (kvs, revision) = client.get_prefix(prefix).await?;
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
) -> std::result::Result<(), EtcdError> {
    let mut stream = client.watch_prefix(prefix, revision + 1).await?;
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
        let Some(resp) = message? else {
            return Err(EtcdError::StreamClosed);
        };
        if resp.canceled {
            return Err(EtcdError::WatchCancelled(resp.cancel_reason));
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
    members: Arc<Members>,
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
            // The re-read starts at the next member when this one cannot
            // serve (a member that lost its leader ends a `hasleader` watch
            // with UNAVAILABLE).
            if e.is_member_failure() {
                members.failed(client.member());
            }
            tracing::warn!(%prefix, error = %e, "etcd watch broke; keeping the last set");
        }
        rt::sleep(config.retry_interval).await;
        let p = &prefix;
        match config.call(&members, |c| read_all(c, p)).await {
            Ok((c, (map, rev))) => {
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
            Err(e) => tracing::debug!(%prefix, error = %e, "etcd unreachable; retrying"),
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
            let members = &self.inner.members;
            let p = &prefix;
            let (client, (map, rev)) = cfg
                .call(members, |c| read_all(c, p))
                .await
                .map_err(|e| Error::discovery("etcd read failed", e))?;
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
                members.clone(),
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
