//! Read buffers lent to connections from a per-thread pool.
//!
//! A connection needs a read buffer only while a read is under way or
//! bytes of a frame wait to be decoded; a connection waiting for its next
//! frame holds none. Lending also keeps the bytes of most requests on a
//! worker thread in the same few buffers, which stay in the CPU cache.
//! wego-hertz lends its HTTP/1 buffers the same way
//! (`wego-hertz/src/server/pool.rs`, see docs/http.md).
//!
//! The pool is thread-local and bounded: a buffer returned to a full pool,
//! or one that grew past [`KEEP_UP_TO`] (a large frame), is freed. A buffer
//! may come back on another thread than the one that lent it (a
//! work-stealing runtime moves tasks); it then joins that thread's pool. A
//! returned buffer may still share its allocation with the `Bytes` of a
//! request in flight; the next `reserve` on it then allocates anew instead
//! of reclaiming the space.

use std::cell::RefCell;

use bytes::BytesMut;

/// Capacity of a newly made buffer.
const NEW_CAPACITY: usize = 8 * 1024;
/// Buffers that grew beyond this are freed rather than pooled.
const KEEP_UP_TO: usize = 128 * 1024;
/// Buffers kept per thread.
const POOL_SIZE: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// Takes a buffer from this thread's pool, or makes one.
pub(super) fn lend() -> BytesMut {
    // `try_with`: a thread tearing down its thread-locals has no pool; the
    // buffer is then simply made (or, below, freed).
    POOL.try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| BytesMut::with_capacity(NEW_CAPACITY))
}

/// Returns a buffer, emptied, to this thread's pool.
pub(super) fn give_back(mut buf: BytesMut) {
    if buf.capacity() == 0 || buf.capacity() > KEEP_UP_TO {
        return;
    }
    buf.clear();
    let _ = POOL.try_with(|p| {
        let mut pool = p.borrow_mut();
        if pool.len() < POOL_SIZE {
            pool.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_lent_again_empty() {
        let mut b = lend();
        b.extend_from_slice(b"\x00\x00\x00\x10");
        let ptr = b.as_ptr();
        give_back(b);
        let again = lend();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr, "the pooled allocation is reused");
        give_back(again);
    }

    #[test]
    fn oversized_and_surplus_buffers_are_freed() {
        while POOL.with(|p| p.borrow_mut().pop()).is_some() {}
        give_back(BytesMut::with_capacity(KEEP_UP_TO + 1));
        assert_eq!(POOL.with(|p| p.borrow().len()), 0);
        for _ in 0..POOL_SIZE + 5 {
            give_back(BytesMut::with_capacity(16));
        }
        assert_eq!(POOL.with(|p| p.borrow().len()), POOL_SIZE);
        give_back(BytesMut::new());
        assert_eq!(POOL.with(|p| p.borrow().len()), POOL_SIZE);
    }
}
