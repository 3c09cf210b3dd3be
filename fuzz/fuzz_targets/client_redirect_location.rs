//! Fuzzes the client's `Location` resolution: any value resolves to an
//! absolute `http`/`https` URI with a host, or to nothing, and never
//! panics; a value over `MAX_LOCATION` bytes never resolves.
#![no_main]

use http::Uri;
use libfuzzer_sys::fuzz_target;
use wego_hertz::client::{MAX_LOCATION, resolve_location};

const BASES: [&str; 4] = [
    "http://a.test/dir/page?q=1",
    "https://a.test:8443/",
    "http://[::1]:8080/x/y/z",
    "http://127.0.0.1/",
];

fuzz_target!(|data: &[u8]| {
    let Some((pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(location) = std::str::from_utf8(rest) else {
        return;
    };
    let base: Uri = BASES[usize::from(*pick) % BASES.len()]
        .parse()
        .expect("invariant: the bases parse");
    if let Some(uri) = resolve_location(&base, location) {
        assert!(location.len() <= MAX_LOCATION);
        assert!(matches!(uri.scheme_str(), Some("http" | "https")));
        assert!(uri.host().is_some_and(|h| !h.is_empty()));
        assert!(uri.path().starts_with('/'));
        assert!(!uri.path().split('/').any(|seg| seg == ".."));
    }
});
