//! Header maps recycled per thread: a written response's map becomes a
//! later request's.
//!
//! Every keep-alive request costs two header maps, the request's (built by
//! the parser) and the response's (built by the handler, which sets at
//! least `content-type`), and each map is two allocations, its index table
//! and its entries. Once the server has encoded a response's head, its map
//! is cleared and kept here, and the parser builds the next request's
//! fields into it instead of allocating: two allocations and two frees
//! fewer per request, in the spirit of Hertz's pooled request contexts.
//!
//! The pool is thread-local and bounded, as the buffer pool
//! (`wego_netpoll::buffer::pool`) is: a map given back to a full pool, a
//! map with no allocation, or one that grew past [`KEEP_UP_TO`] fields or
//! values is freed. A cleared map keeps its capacity and nothing else: no
//! field, and the default hashing (a map that switched to randomized
//! hashing against collisions switches back).

use std::cell::RefCell;

use http::HeaderMap;

/// Maps that grew beyond this many fields are freed rather than kept (an
/// entry is about 110 bytes: a full pool of the largest maps holds ~350 KiB
/// per thread, of the usual response maps, room for 6 fields, ~45 KiB).
const KEEP_UP_TO: usize = 48;
/// Maps kept per thread.
const POOL_SIZE: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
}

/// An empty map: one from this thread's pool, or a new one.
pub(crate) fn take() -> HeaderMap {
    // `try_with`: a thread tearing down its thread-locals has no pool.
    POOL.try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Gives a map back to this thread's pool, cleared (see the module's
/// documentation for the maps that are freed instead).
pub(crate) fn give_back(mut map: HeaderMap) {
    let capacity = map.capacity();
    // `len` counts every value: a map with few names but many values under
    // one (a thousand `set-cookie`s) keeps their storage after `clear`,
    // which `capacity` (names only) does not show.
    if capacity == 0 || capacity > KEEP_UP_TO || map.len() > KEEP_UP_TO {
        return;
    }
    map.clear();
    let _ = POOL.try_with(|p| {
        let mut pool = p.borrow_mut();
        if pool.len() < POOL_SIZE {
            pool.push(map);
        }
    });
}

#[cfg(test)]
mod tests {
    use http::header::{CONTENT_TYPE, HOST};

    use super::*;

    /// Empties this thread's pool, so that each test sees only its own maps.
    fn drain() {
        POOL.with(|p| p.borrow_mut().clear());
    }

    #[test]
    fn a_given_back_map_comes_back_empty_with_its_capacity() {
        drain();
        let mut map = take();
        map.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        let capacity = map.capacity();
        give_back(map);
        let again = take();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), capacity, "the allocation is reused");
        assert!(again.get(CONTENT_TYPE).is_none());
        assert_eq!(take().capacity(), 0, "the pool held one map");
    }

    #[test]
    fn maps_without_allocation_or_too_large_are_not_kept() {
        drain();
        give_back(HeaderMap::new());
        assert_eq!(take().capacity(), 0);

        let mut large = HeaderMap::with_capacity(KEEP_UP_TO + 1);
        large.insert(HOST, "a".parse().unwrap());
        give_back(large);
        assert_eq!(take().capacity(), 0, "a large map is freed");

        // Few names, many values: their storage would outlive `clear`.
        let mut cookies = HeaderMap::new();
        for _ in 0..=KEEP_UP_TO {
            cookies.append(http::header::SET_COOKIE, "a=b".parse().unwrap());
        }
        assert!(cookies.capacity() <= KEEP_UP_TO);
        give_back(cookies);
        assert_eq!(take().capacity(), 0, "a map of many values is freed");
    }

    #[test]
    fn a_request_parsed_after_a_response_has_only_its_own_fields() {
        drain();
        let mut response = HeaderMap::new();
        response.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        response.insert("x-session", "secret".parse().unwrap());
        response.append("x-session", "another".parse().unwrap());
        let capacity = response.capacity();
        give_back(response);

        let mut buf = bytes::BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]);
        let head = super::super::parse_request_head(&mut buf, &Default::default())
            .unwrap()
            .unwrap();
        let headers = &head.parts.headers;
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert_eq!(headers[HOST], "a");
        assert_eq!(headers.capacity(), capacity, "built in the recycled map");
    }

    #[test]
    fn the_pool_is_bounded() {
        drain();
        for _ in 0..POOL_SIZE + 10 {
            give_back(HeaderMap::with_capacity(4));
        }
        assert_eq!(POOL.with(|p| p.borrow().len()), POOL_SIZE);
        drain();
    }
}
