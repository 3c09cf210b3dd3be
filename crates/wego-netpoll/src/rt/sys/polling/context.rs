//! Which polling runtime and loop the current thread belongs to.
//!
//! A loop thread belongs to its own loop; the thread inside
//! `Runtime::block_on` and the blocking-pool threads borrow loop 0's (or a
//! round-robin loop's) poller and timers. The facade asks [`is_entered`] to
//! send a call to this backend.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;

use super::Shared;
use super::event_loop::LoopShared;

/// The runtime and loop of the current thread.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
}

impl Context {
    pub(crate) fn owner(&self) -> &Arc<LoopShared> {
        self.shared.loop_at(self.index)
    }
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// The current thread's context, if it is inside a polling runtime.
pub(crate) fn current() -> Option<Context> {
    CONTEXT.with(|c| c.borrow().clone())
}

/// Runs `f` on the current thread's context without cloning it; `None`
/// outside a polling runtime.
pub(crate) fn with_current<R>(f: impl FnOnce(&Context) -> R) -> Option<R> {
    CONTEXT.with(|c| c.borrow().as_ref().map(f))
}

/// Returns true if the current thread is inside a polling runtime.
pub(crate) fn is_entered() -> bool {
    CONTEXT.with(|c| c.borrow().is_some())
}

/// The loop whose poller and timers serve the current thread.
pub(crate) fn current_loop() -> Option<Arc<LoopShared>> {
    CONTEXT.with(|c| c.borrow().as_ref().map(|c| Arc::clone(c.owner())))
}

/// The error of a socket used on a thread outside any polling runtime.
pub(crate) fn outside_runtime() -> io::Error {
    io::Error::other("this socket belongs to the polling backend, used outside a wego runtime")
}

/// The context of the current thread; panics outside a runtime, as the
/// facade's free functions document.
pub(crate) fn expect_current(what: &str) -> Context {
    current().unwrap_or_else(|| panic!("{what} must be called inside a wego runtime"))
}

/// Sets the thread's context until dropped, then restores the previous one.
pub(crate) struct EnterGuard {
    previous: Option<Context>,
}

/// Enters `ctx` on the current thread.
pub(crate) fn enter(ctx: Context) -> EnterGuard {
    let previous = CONTEXT.with(|c| c.borrow_mut().replace(ctx));
    EnterGuard { previous }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CONTEXT.with(|c| *c.borrow_mut() = previous);
    }
}
