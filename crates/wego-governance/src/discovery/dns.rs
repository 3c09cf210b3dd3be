//! DNS discovery: A/AAAA records of `host:port`, refreshed on an interval.
//!
//! Resolution goes through the system resolver (`ToSocketAddrs`, so
//! `/etc/hosts` and nsswitch apply) on the runtime's blocking pool, never on
//! a worker thread. A failed refresh keeps the last known set (and logs a
//! warning), so a DNS outage does not empty a client's instance list.
//! SRV records are not supported: the system resolver has no SRV lookup,
//! and a DNS client crate would be a heavy dependency for it.

use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use wego_netpoll::Address;

use super::{BoxFuture, Discover, InstanceWatch, Publisher};
use crate::{Error, Instance, Result};

/// Discovers `host:port` services through DNS A/AAAA records.
#[derive(Debug, Clone)]
pub struct DnsDiscover {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    refresh: Duration,
    services: Mutex<HashMap<String, Publisher>>,
}

impl DnsDiscover {
    /// Re-resolves each watched name every `refresh` (at least 100 ms).
    pub fn new(refresh: Duration) -> Self {
        DnsDiscover {
            inner: Arc::new(Inner {
                refresh: refresh.max(Duration::from_millis(100)),
                services: Mutex::default(),
            }),
        }
    }
}

impl Default for DnsDiscover {
    /// Refreshes every 30 s.
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

async fn lookup(name: String) -> Result<Vec<Instance>> {
    let res = wego_netpoll::rt::spawn_blocking(move || {
        name.to_socket_addrs().map(|addrs| {
            addrs
                .map(|a| Instance::new(Address::Tcp(a)))
                .collect::<Vec<_>>()
        })
    })
    .await;
    match res {
        Ok(Ok(list)) => Ok(list),
        Ok(Err(e)) => Err(Error::discovery("dns lookup failed", e)),
        Err(e) => Err(Error::discovery("dns lookup task failed", e)),
    }
}

async fn refresh_loop(inner: Weak<Inner>, name: String, publisher: Publisher, period: Duration) {
    loop {
        wego_netpoll::rt::sleep(period).await;
        if inner.strong_count() == 0 {
            return;
        }
        match lookup(name.clone()).await {
            Ok(list) if !list.is_empty() => {
                if publisher.publish(list) {
                    tracing::debug!(service = %name, "dns answer changed");
                }
            }
            Ok(_) => {
                tracing::warn!(service = %name, "dns returned no address; keeping the last set")
            }
            Err(e) => {
                tracing::warn!(service = %name, error = %e, "dns refresh failed; keeping the last set")
            }
        }
    }
}

impl Discover for DnsDiscover {
    /// `service` is `host:port`.
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
            let first = lookup(service.clone()).await?;
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
                self.inner.refresh,
            ));
            Ok(watch)
        })
    }
}
