//! Discovery and registry: [`Discover`], [`Registry`] and the backends.
//!
//! # Model
//!
//! A [`Discover`] turns a service name into a live [`InstanceWatch`]: the
//! last known instance set plus a way to wait for the next change. A backend
//! owns a [`Publisher`] per service and publishes a whole new set whenever it
//! learns of one (a snapshot model, like Kitex's `Result` with `Cacheable`):
//! consumers never apply deltas, and when the backend loses its source (etcd
//! down, DNS failing) it simply publishes nothing, so clients keep their last
//! known instances.
//!
//! A [`Registry`] registers an instance under a service name for a TTL; the
//! backend keeps the registration alive (heartbeats, lease keep-alive) until
//! [`Registry::deregister`], and re-registers after losing it.
//!
//! # Writing a backend
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use wego_governance::discovery::BoxFuture;
//! use wego_governance::{Discover, Instance, InstanceWatch, Publisher, Result};
//!
//! /// Instances from a config source that pushes whole lists.
//! #[derive(Default)]
//! struct Pushed {
//!     services: Mutex<HashMap<String, Publisher>>,
//! }
//!
//! impl Pushed {
//!     fn publisher(&self, service: &str) -> Publisher {
//!         let mut map = self.services.lock().unwrap();
//!         map.entry(service.to_owned()).or_insert_with(|| Publisher::new(Vec::new())).clone()
//!     }
//!     /// Called by whatever watches the source.
//!     fn on_update(&self, service: &str, list: Vec<Instance>) {
//!         self.publisher(service).publish(list);
//!     }
//! }
//!
//! impl Discover for Pushed {
//!     fn discover(&self, service: &str) -> BoxFuture<'_, Result<InstanceWatch>> {
//!         let watch = self.publisher(service).subscribe();
//!         Box::pin(async move { Ok(watch) })
//!     }
//! }
//!
//! let d = Pushed::default();
//! let watch = wego_netpoll::rt::block_on(d.discover("echo")).unwrap().unwrap();
//! d.on_update("echo", vec![Instance::new("127.0.0.1:9".parse().unwrap())]);
//! assert_eq!(watch.current().len(), 1);
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::{Instance, Result};

pub mod codec;
pub mod dns;
#[cfg(feature = "etcd")]
pub mod etcd;
mod memory;

pub use memory::StaticDiscover;

/// A boxed, `Send` future, as the object-safe traits here return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Resolves a service name into a live set of instances.
///
/// Implement it for a new backend in a few lines: keep one [`Publisher`] per
/// service, start whatever refreshes it on first use, and return
/// `publisher.subscribe()`.
pub trait Discover: Send + Sync {
    /// Returns a live watch of `service`'s instances.
    ///
    /// The watch's current value is the backend's first answer (or empty, if
    /// it has none yet); later changes are published to it.
    ///
    /// # Errors
    ///
    /// Fails when the backend cannot start watching the service.
    fn discover(&self, service: &str) -> BoxFuture<'_, Result<InstanceWatch>>;
}

impl<D: Discover + ?Sized> Discover for Arc<D> {
    fn discover(&self, service: &str) -> BoxFuture<'_, Result<InstanceWatch>> {
        (**self).discover(service)
    }
}

/// An instance registered under a service name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registration {
    /// The service name clients discover.
    pub service: String,
    /// The instance to announce.
    pub instance: Instance,
    /// How long the registration outlives its last heartbeat.
    pub ttl: Duration,
}

impl Registration {
    /// Creates a registration with a 10 s TTL.
    pub fn new(service: impl Into<String>, instance: Instance) -> Self {
        Registration {
            service: service.into(),
            instance,
            ttl: Duration::from_secs(10),
        }
    }

    /// Sets the TTL.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
}

/// Announces instances so that [`Discover`] finds them.
pub trait Registry: Send + Sync {
    /// Registers the instance and keeps it alive until deregistered.
    ///
    /// # Errors
    ///
    /// Fails when the backend refuses the first registration.
    fn register(&self, registration: &Registration) -> BoxFuture<'_, Result<()>>;

    /// Removes the instance and stops its heartbeats.
    ///
    /// # Errors
    ///
    /// Fails when the backend cannot be reached (the TTL then removes it).
    fn deregister(&self, registration: &Registration) -> BoxFuture<'_, Result<()>>;
}

impl<R: Registry + ?Sized> Registry for Arc<R> {
    fn register(&self, registration: &Registration) -> BoxFuture<'_, Result<()>> {
        (**self).register(registration)
    }
    fn deregister(&self, registration: &Registration) -> BoxFuture<'_, Result<()>> {
        (**self).deregister(registration)
    }
}

#[derive(Debug, Clone)]
struct Snapshot {
    version: u64,
    instances: Arc<[Instance]>,
}

/// The writing side of an [`InstanceWatch`], owned by a discovery backend.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: Arc<watch::Sender<Snapshot>>,
}

impl Publisher {
    /// Creates a publisher with an initial set.
    pub fn new(initial: Vec<Instance>) -> Self {
        let (tx, _rx) = watch::channel(Snapshot {
            version: 0,
            instances: initial.into(),
        });
        Publisher { tx: Arc::new(tx) }
    }

    /// Publishes a new set; returns false (and wakes nobody) when it equals
    /// the current one.
    pub fn publish(&self, mut instances: Vec<Instance>) -> bool {
        instances.sort_by_key(|a| a.address.to_string());
        self.tx.send_if_modified(|snap| {
            if *snap.instances == *instances {
                return false;
            }
            snap.version += 1;
            snap.instances = instances.into();
            true
        })
    }

    /// Applies `f` to a copy of the current set and publishes the result.
    pub fn update(&self, f: impl FnOnce(&mut Vec<Instance>)) -> bool {
        let mut list = self.current().to_vec();
        f(&mut list);
        self.publish(list)
    }

    /// The current set.
    pub fn current(&self) -> Arc<[Instance]> {
        self.tx.borrow().instances.clone()
    }

    /// A new watch on this publisher.
    pub fn subscribe(&self) -> InstanceWatch {
        InstanceWatch {
            rx: self.tx.subscribe(),
        }
    }
}

/// A live view of a service's instances: the last known set and its changes.
#[derive(Debug, Clone)]
pub struct InstanceWatch {
    rx: watch::Receiver<Snapshot>,
}

impl InstanceWatch {
    /// A watch that never changes.
    pub fn fixed(instances: Vec<Instance>) -> Self {
        Publisher::new(instances).subscribe()
    }

    /// The last known instances.
    pub fn current(&self) -> Arc<[Instance]> {
        self.rx.borrow().instances.clone()
    }

    /// A number that grows with each published change.
    pub fn version(&self) -> u64 {
        self.rx.borrow().version
    }

    /// The last known instances with their version, read atomically.
    pub fn snapshot(&self) -> (u64, Arc<[Instance]>) {
        let s = self.rx.borrow();
        (s.version, s.instances.clone())
    }

    /// Waits for the next change; returns false once the backend is gone
    /// (the current set then stays as it is forever).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a change is not lost when the future is dropped.
    pub async fn changed(&mut self) -> bool {
        self.rx.changed().await.is_ok()
    }
}

/// Resolves a service once: the current set of a fresh watch.
///
/// # Errors
///
/// Fails when the backend cannot watch the service.
pub async fn resolve<D: Discover + ?Sized>(discover: &D, service: &str) -> Result<Vec<Instance>> {
    Ok(discover.discover(service).await?.current().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wego_netpoll::Address;

    fn inst(port: u16) -> Instance {
        Instance::new(Address::Tcp(([127, 0, 0, 1], port).into()))
    }

    #[test]
    fn publish_bumps_version_only_on_change() {
        let p = Publisher::new(vec![inst(1)]);
        let w = p.subscribe();
        assert_eq!(w.version(), 0);
        assert!(!p.publish(vec![inst(1)]));
        assert_eq!(w.version(), 0);
        assert!(p.publish(vec![inst(2), inst(1)]));
        assert_eq!(w.version(), 1);
        assert_eq!(&*w.current(), &[inst(1), inst(2)]);
        assert!(!p.publish(vec![inst(1), inst(2)]), "order does not matter");
        assert!(p.update(|l| l.retain(|i| i != &inst(1))));
        assert_eq!(&*w.current(), &[inst(2)]);
    }

    #[test]
    fn a_dropped_publisher_keeps_the_last_set() {
        let p = Publisher::new(vec![inst(1)]);
        let mut w = p.subscribe();
        drop(p);
        let rt = wego_netpoll::rt::Runtime::builder().build().unwrap();
        assert!(!rt.block_on(w.changed()));
        assert_eq!(&*w.current(), &[inst(1)]);
    }
}
