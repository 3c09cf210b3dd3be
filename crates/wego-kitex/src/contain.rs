//! A handler's panic contained to its call, as a task per call would
//! contain it: the connection and its other calls go on. gRPC resets the
//! call's stream; Thrift and Kitex Protobuf answer the call with an
//! internal error.
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
