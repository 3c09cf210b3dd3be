//! The call scope shared by retry/hedging and load balancing.
//!
//! A retry (or a backup request) must not go back to the instance that just
//! failed when others exist. The layers above the balancer cannot see
//! instances, and the request type belongs to the protocol, so the two meet
//! through a scope: while the retry layer calls `inner.call(req)`, which is
//! synchronous, it installs an [`Attempt`] in a thread-local; the load
//! balancer's `call` reads the instances to avoid and writes the one it
//! picked. Nothing is held across an `.await`. A layer that defers `call`
//! to another task (a buffer) between the two breaks the link; the balancer
//! then simply picks without exclusions.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};

use wego_netpoll::Address;

/// What one logical call has tried so far.
#[derive(Debug, Default)]
pub(crate) struct Attempt {
    state: Mutex<AttemptState>,
}

#[derive(Debug, Default)]
struct AttemptState {
    excluded: Vec<Address>,
    picked: Option<Address>,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Attempt>>> = const { RefCell::new(None) };
}

impl Attempt {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Attempt::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AttemptState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new attempt that avoids what the attempt in scope (an outer retry)
    /// already avoids.
    pub(crate) fn inherit() -> Arc<Self> {
        let a = Attempt::new();
        if let Some(parent) = Attempt::current() {
            a.lock().excluded = parent.excluded();
        }
        a
    }

    /// Runs `f` (an inner service's `call`) with this attempt in scope.
    pub(crate) fn scope<R>(self: &Arc<Self>, f: impl FnOnce() -> R) -> R {
        let prev = CURRENT.with(|c| c.replace(Some(self.clone())));
        let out = f();
        CURRENT.with(|c| *c.borrow_mut() = prev);
        out
    }

    /// The attempt in scope, if any.
    pub(crate) fn current() -> Option<Arc<Attempt>> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Takes the instance picked by the last `call` in scope.
    pub(crate) fn take_picked(&self) -> Option<Address> {
        self.lock().picked.take()
    }

    pub(crate) fn set_picked(&self, addr: Address) {
        self.lock().picked = Some(addr);
    }

    /// Marks an instance to avoid in later attempts.
    pub(crate) fn exclude(&self, addr: Address) {
        let mut s = self.lock();
        if !s.excluded.contains(&addr) {
            s.excluded.push(addr);
        }
    }

    pub(crate) fn excluded(&self) -> Vec<Address> {
        self.lock().excluded.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_visible_only_inside_and_nests() {
        assert!(Attempt::current().is_none());
        let a = Attempt::new();
        let b = Attempt::new();
        a.scope(|| {
            assert!(Arc::ptr_eq(&Attempt::current().unwrap(), &a));
            b.scope(|| assert!(Arc::ptr_eq(&Attempt::current().unwrap(), &b)));
            assert!(Arc::ptr_eq(&Attempt::current().unwrap(), &a));
        });
        assert!(Attempt::current().is_none());
        a.exclude(Address::loopback());
        a.exclude(Address::loopback());
        assert_eq!(a.excluded().len(), 1);
    }
}
