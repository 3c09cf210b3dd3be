//! Header maps and extension maps recycled per thread: a request's or a
//! written response's maps become a later request's or response's.
//!
//! Every keep-alive request costs two header maps, the request's (built by
//! the parser) and the response's (built by the handler, which sets at
//! least `content-type`), each two allocations (index table and entries),
//! and an extension map (a box and its table) for the server's and the
//! router's extensions (`ClientAddr`, `MatchedPath`). Instead of being
//! freed, the maps are cleared and kept here once their owner is done with
//! them:
//!
//! - a response's header map, once the server has encoded its head;
//! - a request's header and extension maps, once the crate's own handler
//!   glue or extractors have taken what they need from the request (a
//!   handler with no argument, a last argument read from the head, the
//!   buffered body extractors); a request handed whole to user code is
//!   freed there as usual.
//!
//! The parser builds the next request's fields in a kept header map, the
//! server inserts its extensions into a kept extension map, and the
//! response builders of [`crate::response`] start from a kept header map:
//! on keep-alive traffic through a routed handler no map is allocated, in
//! the spirit of Hertz's pooled request contexts.
//!
//! The pools are thread-local and bounded, as the buffer pool
//! (`wego_netpoll::buffer::pool`) is: a map given back to a full pool, a
//! map with nothing in it, or one that grew past [`KEEP_UP_TO`] fields,
//! values or extensions is freed. A cleared map keeps its capacity and
//! nothing else: no field or extension, and the default hashing (a header
//! map that switched to randomized hashing against collisions switches
//! back).
//!
//! One exception: an extension map that holds only the server's own
//! per-connection entries (`ClientAddr`, `TlsInfo`, `RequestBodyLimit`)
//! once the router's are dropped keeps them, boxes and all, and the next
//! request's [`ConnFacts::fill`] overwrites each in place (or removes it)
//! instead of freeing and allocating a box per entry per request. The pool
//! keeps with each map which of those entries it holds ([`Held`]), so that
//! `fill` looks up only the entries that are there or wanted. No other
//! code takes maps from the pool, so no request sees another's values.
//!
//! [`ConnFacts::fill`]: crate::server::facts::ConnFacts::fill

use std::cell::RefCell;

use http::{Extensions, HeaderMap, request};

use crate::server::facts::{Held, server_entries};

/// Maps that grew beyond this many fields (or extensions) are freed rather
/// than kept (a header entry is about 110 bytes: a full pool of the largest
/// maps holds ~350 KiB per thread, of the usual response maps, room for 6
/// fields, ~45 KiB).
const KEEP_UP_TO: usize = 48;
/// Maps of each kind kept per thread.
const POOL_SIZE: usize = 64;

thread_local! {
    static HEADERS: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
    static EXTENSIONS: RefCell<Vec<(Extensions, Held)>> = const { RefCell::new(Vec::new()) };
}

/// An empty header map: one from this thread's pool, or a new one.
#[cfg(test)]
fn headers() -> HeaderMap {
    let mut map = HeaderMap::new();
    clear_headers(&mut map);
    map
}

/// Empties `slot`, for a head to be built in it: a map with an allocation
/// is cleared and keeps it; one without (a new request's or response's)
/// takes a kept map from this thread's pool, if there is one.
///
/// A map with no capacity never allocated (`HeaderMap::new` does not), so
/// the one replaced is forgotten rather than dropped, which saves a call
/// that frees nothing on every request.
pub(crate) fn clear_headers(slot: &mut HeaderMap) {
    if slot.capacity() > 0 {
        slot.clear();
        return;
    }
    if let Some(map) = HEADERS.try_with(|p| p.borrow_mut().pop()).ok().flatten() {
        std::mem::forget(std::mem::replace(slot, map));
    }
}

/// Gives a header map back to this thread's pool, cleared (see the
/// module's documentation for the maps that are freed instead).
pub(crate) fn give_back_headers(mut map: HeaderMap) {
    let capacity = map.capacity();
    // `len` counts every value: a map with few names but many values under
    // one (a thousand `set-cookie`s) keeps their storage after `clear`,
    // which `capacity` (names only) does not show.
    if capacity == 0 || capacity > KEEP_UP_TO || map.len() > KEEP_UP_TO {
        return;
    }
    map.clear();
    keep(&HEADERS, map);
}

/// An extension map from this thread's pool, or a new one, and which of
/// the server's own entries it holds. A pooled map may hold those from an
/// earlier request (see [`give_back_extensions`]): only
/// [`ConnFacts::fill`] takes maps from here, and it sets each of them.
///
/// [`ConnFacts::fill`]: crate::server::facts::ConnFacts::fill
fn extensions() -> (Extensions, Held) {
    EXTENSIONS
        .try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or((Extensions::new(), Held::NONE))
}

/// Replaces `map`, if it is empty, with one from this thread's pool, so
/// that inserting into it reuses a kept allocation, and says which of the
/// server's entries `map` then holds ([`Held::UNKNOWN`] for a map that was
/// not empty). For [`ConnFacts::fill`], which then sets those entries.
///
/// [`ConnFacts::fill`]: crate::server::facts::ConnFacts::fill
pub(crate) fn refill_extensions(map: &mut Extensions) -> Held {
    if !map.is_empty() {
        return Held::UNKNOWN;
    }
    let (kept, held) = extensions();
    *map = kept;
    held
}

/// Gives an extension map back to this thread's pool. The router's
/// [`MatchedPath`] is dropped; a map that then holds the server's
/// per-connection entries and nothing else ([`server_entries`]; a
/// [`PathParams`] is something else) keeps them, for the next request to
/// overwrite in place; any other map is cleared. An empty map (which may have no
/// allocation to keep) and one of more than [`KEEP_UP_TO`] extensions are
/// dropped instead. (`Extensions` does not tell its capacity: a map that
/// held more and had some removed is kept with its table, whose size the
/// program's number of extension types bounds, one entry per type.)
///
/// [`MatchedPath`]: crate::router::MatchedPath
/// [`PathParams`]: crate::extract::PathParams
pub(crate) fn give_back_extensions(mut map: Extensions) {
    if map.is_empty() || map.len() > KEEP_UP_TO {
        return;
    }
    map.remove::<crate::router::MatchedPath>();
    let held = if map.is_empty() {
        Held::NONE
    } else if let Some(held) = server_entries(&map) {
        held
    } else {
        // `PathParams`, or anything else.
        map.clear();
        Held::NONE
    };
    keep(&EXTENSIONS, (map, held));
}

/// Gives a request head's header and extension maps back; the rest of it
/// is dropped.
#[inline]
pub(crate) fn give_back_parts(parts: request::Parts) {
    give_back_headers(parts.headers);
    give_back_extensions(parts.extensions);
}

/// How many header and extension maps this thread's pools hold.
#[cfg(test)]
pub(crate) fn pooled() -> (usize, usize) {
    (
        HEADERS.with(|p| p.borrow().len()),
        EXTENSIONS.with(|p| p.borrow().len()),
    )
}

/// Empties this thread's pools, so that a test sees only its own maps.
#[cfg(test)]
pub(crate) fn drain() {
    HEADERS.with(|p| p.borrow_mut().clear());
    EXTENSIONS.with(|p| p.borrow_mut().clear());
}

fn keep<T: 'static>(pool: &'static std::thread::LocalKey<RefCell<Vec<T>>>, map: T) {
    let _ = pool.try_with(|p| {
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

    #[test]
    fn a_given_back_map_comes_back_empty_with_its_capacity() {
        drain();
        let mut map = headers();
        map.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        let capacity = map.capacity();
        give_back_headers(map);
        let again = headers();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), capacity, "the allocation is reused");
        assert!(again.get(CONTENT_TYPE).is_none());
        assert_eq!(headers().capacity(), 0, "the pool held one map");
    }

    #[test]
    fn a_slot_keeps_its_allocation_or_takes_a_kept_one() {
        drain();
        let mut slot = HeaderMap::new();
        clear_headers(&mut slot);
        assert_eq!(slot.capacity(), 0, "an empty pool leaves the slot as it is");

        give_back_headers(HeaderMap::with_capacity(4));
        let mut slot = HeaderMap::with_capacity(20);
        slot.insert(HOST, "a".parse().unwrap());
        let capacity = slot.capacity();
        clear_headers(&mut slot);
        assert!(slot.is_empty());
        assert_eq!(slot.capacity(), capacity, "its own allocation, cleared");
        assert_eq!(pooled().0, 1, "the kept map stays in the pool");

        let mut slot = HeaderMap::new();
        clear_headers(&mut slot);
        assert!(slot.is_empty());
        assert!(slot.capacity() > 0, "the kept map");
        assert_eq!(pooled().0, 0);
    }

    #[test]
    fn maps_without_allocation_or_too_large_are_not_kept() {
        drain();
        give_back_headers(HeaderMap::new());
        assert_eq!(headers().capacity(), 0);

        let mut large = HeaderMap::with_capacity(KEEP_UP_TO + 1);
        large.insert(HOST, "a".parse().unwrap());
        give_back_headers(large);
        assert_eq!(headers().capacity(), 0, "a large map is freed");

        // Few names, many values: their storage would outlive `clear`.
        let mut cookies = HeaderMap::new();
        for _ in 0..=KEEP_UP_TO {
            cookies.append(http::header::SET_COOKIE, "a=b".parse().unwrap());
        }
        assert!(cookies.capacity() <= KEEP_UP_TO);
        give_back_headers(cookies);
        assert_eq!(headers().capacity(), 0, "a map of many values is freed");
    }

    #[test]
    fn a_request_parsed_after_a_response_has_only_its_own_fields() {
        drain();
        let mut response = HeaderMap::new();
        response.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        response.insert("x-session", "secret".parse().unwrap());
        response.append("x-session", "another".parse().unwrap());
        let capacity = response.capacity();
        give_back_headers(response);

        let mut buf = bytes::BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]);
        let head = crate::codec::parse_request_head(&mut buf, &Default::default())
            .unwrap()
            .unwrap();
        let headers = &head.parts.headers;
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert_eq!(headers[HOST], "a");
        assert_eq!(headers.capacity(), capacity, "built in the recycled map");
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Secret(&'static str);

    #[test]
    fn a_given_back_extension_map_comes_back_empty() {
        drain();
        let mut ext = extensions().0;
        ext.insert(Secret("a session's"));
        ext.insert(7u32);
        give_back_extensions(ext);
        assert_eq!(pooled().1, 1);

        let mut again = Extensions::new();
        assert_eq!(refill_extensions(&mut again), Held::NONE);
        assert_eq!(pooled().1, 0, "the kept map was taken");
        assert!(again.is_empty());
        assert_eq!(again.get::<Secret>(), None, "no value survives");
        again.insert(Secret("this request's"));
        assert_eq!(again.get::<Secret>(), Some(&Secret("this request's")));

        // A map that already holds something is left as it is.
        give_back_extensions(again);
        let mut full = Extensions::new();
        full.insert(1u8);
        assert_eq!(refill_extensions(&mut full), Held::UNKNOWN);
        assert_eq!(full.get::<u8>(), Some(&1));
        assert_eq!(pooled().1, 1);
    }

    #[test]
    fn the_servers_own_entries_are_kept_for_the_next_request_to_overwrite() {
        use crate::router::MatchedPath;
        use crate::server::ClientAddr;
        drain();
        let addr = |s: &str| ClientAddr(s.parse().unwrap());
        let mut ext = Extensions::new();
        ext.insert(addr("127.0.0.1:1"));
        ext.insert(MatchedPath("/a".into()));
        give_back_extensions(ext);
        let (kept, held) = extensions();
        assert_eq!(
            held,
            Held {
                peer: Some(true),
                ..Held::NONE
            }
        );
        assert_eq!(kept.len(), 1, "the route's entry is gone");
        assert_eq!(kept.get::<ClientAddr>(), Some(&addr("127.0.0.1:1")));

        // With anything else in it, the map is cleared.
        let mut ext = kept;
        ext.insert(Secret("a handler's"));
        give_back_extensions(ext);
        assert_eq!(pooled().1, 1);
        let (kept, held) = extensions();
        assert!(kept.is_empty());
        assert_eq!(held, Held::NONE);
    }

    #[test]
    fn extension_maps_empty_or_too_large_are_not_kept() {
        drain();
        give_back_extensions(Extensions::new());
        let mut emptied = Extensions::new();
        emptied.insert(1u8);
        emptied.remove::<u8>();
        give_back_extensions(emptied);
        assert_eq!(pooled().1, 0, "an empty map is dropped");

        macro_rules! fill {
            ($ext:ident, $($n:literal)*) => { $( $ext.insert([0u8; $n]); )* };
        }
        let mut large = Extensions::new();
        fill!(large, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24
            25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48);
        assert!(large.len() > KEEP_UP_TO);
        give_back_extensions(large);
        assert_eq!(pooled().1, 0, "a large map is dropped");
    }

    #[test]
    fn a_request_head_gives_back_both_maps() {
        drain();
        let mut parts = http::Request::new(()).into_parts().0;
        parts.headers.insert(HOST, "a".parse().unwrap());
        parts.extensions.insert(Secret("x"));
        give_back_parts(parts);
        assert_eq!(pooled(), (1, 1));
        drain();
    }

    #[test]
    fn the_pool_is_bounded() {
        drain();
        for _ in 0..POOL_SIZE + 10 {
            give_back_headers(HeaderMap::with_capacity(4));
        }
        assert_eq!(HEADERS.with(|p| p.borrow().len()), POOL_SIZE);
        drain();
    }
}
