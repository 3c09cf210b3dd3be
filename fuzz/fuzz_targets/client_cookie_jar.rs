//! Fuzzes the client's cookie jar: any `Set-Cookie` values from any of a
//! few origins are stored or ignored without a panic, the jar stays
//! within its limits, and the `Cookie` header it builds is a valid field
//! value made only of stored pairs.
#![no_main]

use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;
use wego_hertz::client::{CookieJar, MAX_COOKIES};

const ORIGINS: [&str; 4] = [
    "http://a.test/dir/page",
    "https://www.a.test/",
    "http://[::1]:8080/x",
    "https://b.test/app/",
];

fuzz_target!(|data: &[u8]| {
    let jar = CookieJar::new();
    // Each line is one Set-Cookie value; its first byte picks the origin.
    for line in data.split(|b| *b == b'\n') {
        let Some((pick, value)) = line.split_first() else {
            continue;
        };
        let uri: Uri = ORIGINS[usize::from(*pick) % ORIGINS.len()]
            .parse()
            .expect("invariant: the origins parse");
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, value);
        jar.store(&uri, &headers);
    }
    assert!(jar.len() <= MAX_COOKIES);
    for origin in ORIGINS {
        let uri: Uri = origin.parse().expect("invariant: the origins parse");
        if let Some(header) = jar.header_for(&uri) {
            assert!(!header.is_empty());
            assert!(header.to_str().is_ok());
        }
    }
});
