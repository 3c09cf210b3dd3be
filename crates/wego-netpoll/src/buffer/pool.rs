//! Buffers lent to connections from a per-thread pool.
//!
//! A connection needs a read buffer only while a read is under way or bytes
//! wait to be decoded, and a write buffer only between encoding a message
//! and the moment the socket has taken it: on a keep-alive connection both
//! are a small part of its life. Keeping buffers per connection means that,
//! at a thousand connections, every request is read into and every response
//! encoded into memory that has gone cold in the cache since that
//! connection's last request, and that idle connections hold megabytes.
//! Lending instead lets every request on a worker thread reuse the same few
//! buffers, which stay cached, and an idle connection holds no buffer at
//! all. wego-hertz's HTTP/1 connections and wego-kitex's Thrift and gRPC
//! connections all lend from this pool.
//!
//! The pool is thread-local and bounded: a buffer given back to a full
//! pool, or one that grew past [`KEEP_UP_TO`] (a large streamed message),
//! is freed. A buffer may be given back on another thread than the one
//! that lent it (a work-stealing runtime moves tasks); it then joins that
//! thread's pool. A returned buffer may still share its allocation with
//! `Bytes` split off it that someone holds; the next `reserve` on it then
//! allocates anew instead of reclaiming the space.

use std::cell::RefCell;

use bytes::BytesMut;

/// Capacity of a newly made buffer.
pub const NEW_CAPACITY: usize = 8 * 1024;
/// Buffers that grew beyond this are freed rather than pooled.
pub const KEEP_UP_TO: usize = 128 * 1024;
/// Buffers kept per thread.
const POOL_SIZE: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// Takes an empty buffer from this thread's pool, or makes one of
/// [`NEW_CAPACITY`].
pub fn lend() -> BytesMut {
    // `try_with`: a thread tearing down its thread-locals has no pool; the
    // buffer is then simply made (or, below, freed).
    POOL.try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| BytesMut::with_capacity(NEW_CAPACITY))
}

/// Gives a buffer back to this thread's pool, emptied; a buffer with no
/// capacity, one larger than [`KEEP_UP_TO`], or one the full pool has no
/// room for is freed.
pub fn give_back(mut buf: BytesMut) {
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
        b.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
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
        while POOL.with(|p| p.borrow_mut().pop()).is_some() {}
    }
}
