//! The backends, side by side, each a module exporting the same items (see
//! the contract at the top of [`rt`](crate::rt)):
//!
//! | item | tokio | polling |
//! |------|-------|---------|
//! | runtime, `build`, `block_on`, `spawn` | `tokio` (work-stealing), `tokio::per_core` | `polling::Runtime` |
//! | `spawn`, `spawn_blocking`, `sleep`, `sleep_until`, `now` | `tokio::*` | `polling::*` |
//! | `spawn_connection` | `tokio::connection` | `polling::place` |
//! | `net::Stream`, `net::Listener`, `connect_tcp`, `connect_unix` | `tokio::net` | `polling::net` |
//!
//! The facade ([`rt`](crate::rt), [`net`](crate::net)) wraps their types
//! and sends each call to the backend of the runtime the calling thread is
//! in ([`current`]).

#[cfg(feature = "polling")]
pub(crate) mod polling;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;

/// The backend a call on this thread goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    #[cfg(feature = "tokio")]
    Tokio,
    #[cfg(feature = "polling")]
    Polling,
}

/// The backend of the runtime the current thread is in. Outside any
/// runtime, tokio when it is compiled in (whose functions then panic or
/// fail as tokio's do), else polling (whose functions panic with a message
/// saying a wego runtime is needed).
pub(crate) fn current() -> Which {
    #[cfg(feature = "polling")]
    if polling::context::is_entered() {
        return Which::Polling;
    }
    #[cfg(feature = "tokio")]
    {
        Which::Tokio
    }
    #[cfg(not(feature = "tokio"))]
    {
        Which::Polling
    }
}
