//! The server's session cache, emptied when the certificates are
//! reloaded.
//!
//! A resumed TLS session skips the certificate: it trusts what the first
//! handshake proved (RFC 8446 §2.2). After a reload, a client resuming an
//! old session would keep seeing the old certificate, which defeats a
//! rotation made because a key leaked. So a reload starts a fresh cache,
//! and every later handshake is a full one with the new certificate.

use std::sync::{Arc, RwLock};

use rustls::server::{ServerSessionMemoryCache, StoresServerSessions};

/// How many sessions the cache keeps: rustls's own default.
const SESSIONS: usize = 256;

#[derive(Debug)]
pub(crate) struct SessionCache {
    current: RwLock<Arc<ServerSessionMemoryCache>>,
}

impl SessionCache {
    pub(crate) fn new() -> Self {
        Self {
            current: RwLock::new(ServerSessionMemoryCache::new(SESSIONS)),
        }
    }

    /// Forgets every stored session.
    pub(crate) fn clear(&self) {
        let fresh = ServerSessionMemoryCache::new(SESSIONS);
        // A poisoned lock only means a reader panicked; the Arc inside is
        // whole either way.
        match self.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }

    fn cache(&self) -> Arc<ServerSessionMemoryCache> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

impl StoresServerSessions for SessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.cache().put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.cache().get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.cache().take(key)
    }

    fn can_cache(&self) -> bool {
        true
    }
}
