//! A handler's panic contained to its call, as a task per call would
//! contain it: the connection and its other calls go on. gRPC resets the
//! call's stream; Thrift and Kitex Protobuf answer the call with an
//! internal error. Code plugged in from outside the crate and run for one
//! call (a `PayloadHandler`, a `PayloadProtocol`'s transcoders) is
//! contained the same way.
//!
//! The calls of a connection run on the connection's task (no spawn per
//! call), so without this a panic would unwind out of the connection's
//! driver and end every call in flight on it.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

/// Runs `call`; `None` if it panicked.
///
/// Unwind safety is asserted as at a task boundary: the panicking call's
/// own state is dropped with it, and state it shares with other calls sits
/// behind the usual locks (poisoned, as after a panicking task).
pub(crate) fn contain<F: Future>(call: F) -> impl Future<Output = Option<F::Output>> {
    AssertUnwindSafe(call).catch_unwind().map(Result::ok)
}

/// Runs `f`, a synchronous call into code plugged in from outside the
/// crate (a payload protocol's transcoder, a payload handler's hook);
/// `None`, logged at `error` as `what` panicking, if it panicked. Unwind
/// safety is asserted as for [`contain`]: what the call was writing is
/// the caller's to discard.
pub(crate) fn contain_sync<R>(what: &'static str, f: impl FnOnce() -> R) -> Option<R> {
    let r = std::panic::catch_unwind(AssertUnwindSafe(f)).ok();
    if r.is_none() {
        tracing::error!("{what} panicked");
    }
    r
}
