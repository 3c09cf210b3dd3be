//! The embedded default: a static, in-process list of instances.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{BoxFuture, Discover, InstanceWatch, Publisher, Registration, Registry};
use crate::{Instance, Result};

/// A static, in-process discovery (and registry): the embedded default.
///
/// Instances are set by configuration ([`StaticDiscover::set`]) or by
/// [`Registry::register`] in the same process; changes reach existing
/// watches at once. TTLs are not enforced: nothing here can die silently.
#[derive(Debug, Clone, Default)]
pub struct StaticDiscover {
    services: Arc<Mutex<HashMap<String, Publisher>>>,
}

impl StaticDiscover {
    /// Creates an empty discovery.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a discovery knowing one service.
    pub fn with_service(service: impl Into<String>, instances: Vec<Instance>) -> Self {
        let d = Self::new();
        d.set(&service.into(), instances);
        d
    }

    fn publisher(&self, service: &str) -> Publisher {
        let mut map = self
            .services
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(service.to_owned())
            .or_insert_with(|| Publisher::new(Vec::new()))
            .clone()
    }

    /// Replaces a service's instances.
    pub fn set(&self, service: &str, instances: Vec<Instance>) {
        self.publisher(service).publish(instances);
    }

    /// Adds (or replaces, by address) one instance.
    pub fn insert(&self, service: &str, instance: Instance) {
        self.publisher(service).update(|list| {
            list.retain(|i| i.address != instance.address);
            list.push(instance);
        });
    }

    /// Removes the instance at `instance`'s address.
    pub fn remove(&self, service: &str, instance: &Instance) {
        self.publisher(service)
            .update(|list| list.retain(|i| i.address != instance.address));
    }
}

impl Discover for StaticDiscover {
    fn discover(&self, service: &str) -> BoxFuture<'_, Result<InstanceWatch>> {
        let watch = self.publisher(service).subscribe();
        Box::pin(async move { Ok(watch) })
    }
}

impl Registry for StaticDiscover {
    fn register(&self, registration: &Registration) -> BoxFuture<'_, Result<()>> {
        self.insert(&registration.service, registration.instance.clone());
        Box::pin(async { Ok(()) })
    }

    fn deregister(&self, registration: &Registration) -> BoxFuture<'_, Result<()>> {
        self.remove(&registration.service, &registration.instance);
        Box::pin(async { Ok(()) })
    }
}
