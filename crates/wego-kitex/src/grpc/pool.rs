//! Write buffers lent to gRPC connections from a per-thread pool.
//!
//! A connection's coalescing buffer (`coalesce.rs`) holds bytes only
//! between the writes of one wake-up and the flush that ends it; owning
//! one per connection would cost every idle connection its 16 KiB. The
//! connection takes a buffer with its first write and gives it back once
//! the socket has taken every byte, so an idle connection holds none, and
//! the connections of a worker thread reuse the same few buffers, which
//! stay in the CPU cache (wego-hertz lends its buffers the same way).
//!
//! The pool is thread-local and bounded: a buffer returned to a full pool,
//! or one that grew past [`KEEP_UP_TO`], is freed. A buffer may come back
//! on another thread than the one that lent it (a work-stealing runtime
//! moves tasks); it then joins that thread's pool.

use std::cell::RefCell;

/// Capacity of a newly made buffer.
const NEW_CAPACITY: usize = 16 * 1024;
/// Buffers that grew beyond this are freed rather than pooled.
const KEEP_UP_TO: usize = 128 * 1024;
/// Buffers kept per thread.
const POOL_SIZE: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Takes an empty buffer from this thread's pool, or makes one.
pub(crate) fn lend() -> Vec<u8> {
    // `try_with`: a thread tearing down its thread-locals has no pool; the
    // buffer is then simply made (or, below, freed).
    POOL.try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| Vec::with_capacity(NEW_CAPACITY))
}

/// Returns a buffer to this thread's pool, emptied.
pub(crate) fn give_back(mut buf: Vec<u8>) {
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
        b.extend_from_slice(b"frame");
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
        give_back(Vec::with_capacity(KEEP_UP_TO + 1));
        assert_eq!(POOL.with(|p| p.borrow().len()), 0);
        for _ in 0..POOL_SIZE + 3 {
            give_back(Vec::with_capacity(NEW_CAPACITY));
        }
        assert_eq!(POOL.with(|p| p.borrow().len()), POOL_SIZE);
        while POOL.with(|p| p.borrow_mut().pop()).is_some() {}
    }
}
