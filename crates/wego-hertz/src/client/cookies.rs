//! [`CookieJar`]: the client's opt-in cookie store (feature `cookies`).
//!
//! Storage and matching follow RFC 6265 through the `cookie_store`
//! crate: host-only and `Domain` cookies, `Path` (with the default path
//! of the request), `Secure` (sent over `https://` only), `Max-Age` and
//! `Expires` (an expired cookie removes the stored one). Without a public
//! suffix list, a `Domain` attribute naming a public suffix (`co.uk`) is
//! not recognised as one; a jar shared between unrelated sites should not
//! be relied on to keep them apart.
//!
//! Limits (RFC 6265 §6.1's minimums as maximums): a `Set-Cookie` value
//! longer than [`MAX_COOKIE_BYTES`] is ignored, as is a new cookie once
//! the jar holds [`MAX_COOKIES`] or its domain [`MAX_COOKIES_PER_DOMAIN`].
//! Cookies that have expired are removed whenever a response's cookies
//! are stored, before they are counted, so the limits bound the memory
//! the jar holds, however many short-lived cookies servers set.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue, Uri};

/// The longest `Set-Cookie` value the jar takes, in bytes.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// The most cookies one jar keeps.
pub const MAX_COOKIES: usize = 3000;

/// The most cookies one jar keeps for one domain.
pub const MAX_COOKIES_PER_DOMAIN: usize = 50;

/// Cookies received by a [`Client`](super::Client), sent back on later
/// requests whose URI they match. Cheap to clone: clones share the
/// cookies, so a caller can keep one to look inside or to share it
/// between clients.
#[derive(Clone, Default)]
pub struct CookieJar {
    store: Arc<Mutex<cookie_store::CookieStore>>,
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names and values are secrets; only the count is shown.
        f.debug_struct("CookieJar")
            .field("len", &self.len())
            .finish()
    }
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores the cookies that the `Set-Cookie` fields of `headers` set,
    /// as a response to a request for `uri`. Values that do not parse,
    /// do not apply to `uri` (another domain, `Secure` over `http://`) or
    /// pass the limits are ignored.
    pub fn store(&self, uri: &Uri, headers: &HeaderMap) {
        let Some(url) = to_url(uri) else {
            return;
        };
        let mut store = self.lock();
        let secure_origin = uri.scheme_str() == Some("https");
        // `cookie_store` keeps a cookie that expired while stored (and one
        // a server expired) in its map, only skipping it when reading:
        // take those out, so that the limits bound what the jar holds.
        // Counted once per response, then kept up to date.
        let mut total = 0;
        let mut per_domain: HashMap<String, usize> = HashMap::new();
        let mut expired = Vec::new();
        for c in store.iter_any() {
            if c.is_expired() {
                expired.push(key(c));
            } else {
                total += 1;
                *per_domain.entry(String::from(&c.domain)).or_default() += 1;
            }
        }
        for (domain, path, name) in &expired {
            store.remove(domain, path, name);
        }
        for value in headers.get_all(SET_COOKIE) {
            if value.len() > MAX_COOKIE_BYTES {
                continue;
            }
            let Ok(text) = value.to_str() else {
                continue;
            };
            let Ok(cookie) = cookie_store::Cookie::parse(text, &url) else {
                continue;
            };
            // RFC 6265bis §5.7 step 8: only a secure origin sets a Secure
            // cookie.
            if cookie.secure() == Some(true) && !secure_origin {
                continue;
            }
            let cookie = cookie.into_owned();
            let domain = String::from(&cookie.domain);
            let path = String::from(&cookie.path);
            let replaces = store.contains(&domain, &path, cookie.name());
            let same_domain = per_domain.get(&domain).copied().unwrap_or(0);
            if !replaces && (total >= MAX_COOKIES || same_domain >= MAX_COOKIES_PER_DOMAIN) {
                tracing::debug!("cookie jar full; a cookie was dropped");
                continue;
            }
            let expired = cookie.is_expired();
            let name = cookie.name().to_owned();
            if store.insert(cookie, &url).is_ok() {
                let count = per_domain.entry(domain.clone()).or_default();
                match (replaces, expired) {
                    (false, false) => {
                        total += 1;
                        *count += 1;
                    }
                    (true, true) => {
                        // Expired in place by the store: removed instead.
                        store.remove(&domain, &path, &name);
                        total = total.saturating_sub(1);
                        *count = count.saturating_sub(1);
                    }
                    _ => {}
                }
            }
        }
    }

    /// The `Cookie` header a request for `uri` carries, if any cookie
    /// matches it.
    pub fn header_for(&self, uri: &Uri) -> Option<HeaderValue> {
        let url = to_url(uri)?;
        let store = self.lock();
        let mut matching = store.matches(&url);
        // RFC 6265 §5.4 step 2: longer paths first; the store keeps no
        // creation time, so names order the rest, for a stable header.
        matching.sort_by(|a, b| {
            let (pa, pb) = (String::from(&a.path), String::from(&b.path));
            pb.len().cmp(&pa.len()).then_with(|| a.name().cmp(b.name()))
        });
        let pairs: Vec<String> = matching
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect();
        if pairs.is_empty() {
            return None;
        }
        HeaderValue::from_str(&pairs.join("; ")).ok()
    }

    /// How many unexpired cookies the jar holds.
    pub fn len(&self) -> usize {
        self.lock().iter_unexpired().count()
    }

    /// Whether the jar holds no unexpired cookie.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every cookie.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, cookie_store::CookieStore> {
        // Every update is a single insert; a panic mid-way leaves a
        // usable store.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The domain, path and name that identify `c` in the store.
fn key(c: &cookie_store::Cookie<'_>) -> (String, String, String) {
    (
        String::from(&c.domain),
        String::from(&c.path),
        c.name().to_owned(),
    )
}

/// `uri` as the `url` crate's type, which the store matches on.
fn to_url(uri: &Uri) -> Option<url::Url> {
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return None;
    }
    url::Url::parse(&uri.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(jar: &CookieJar, uri: &str, cookies: &[&str]) {
        let mut headers = HeaderMap::new();
        for c in cookies {
            headers.append(SET_COOKIE, HeaderValue::from_str(c).unwrap());
        }
        jar.store(&uri.parse().unwrap(), &headers);
    }

    fn sent(jar: &CookieJar, uri: &str) -> String {
        jar.header_for(&uri.parse().unwrap())
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn host_only_and_domain_cookies() {
        let jar = CookieJar::new();
        set(
            &jar,
            "http://www.a.test/",
            &["host=1", "dom=2; Domain=a.test", "other=3; Domain=b.test"],
        );
        assert_eq!(sent(&jar, "http://www.a.test/"), "dom=2; host=1");
        assert_eq!(sent(&jar, "http://api.a.test/"), "dom=2");
        assert_eq!(sent(&jar, "http://a.test/"), "dom=2");
        assert_eq!(
            sent(&jar, "http://b.test/"),
            "",
            "a foreign Domain is refused"
        );
        assert_eq!(sent(&jar, "http://nota.test/"), "");
    }

    #[test]
    fn paths_match_by_prefix_segment() {
        let jar = CookieJar::new();
        set(&jar, "http://a.test/app/login", &["p=1; Path=/app", "d=2"]);
        // `d` has the default path of /app/login: /app.
        assert_eq!(sent(&jar, "http://a.test/app"), "d=2; p=1");
        assert_eq!(sent(&jar, "http://a.test/app/x/y"), "d=2; p=1");
        assert_eq!(sent(&jar, "http://a.test/apple"), "", "not a segment match");
        assert_eq!(sent(&jar, "http://a.test/"), "");
    }

    #[test]
    fn secure_cookies_go_over_https_only() {
        let jar = CookieJar::new();
        set(&jar, "https://a.test/", &["s=1; Secure", "plain=2"]);
        assert_eq!(sent(&jar, "https://a.test/"), "plain=2; s=1");
        assert_eq!(sent(&jar, "http://a.test/"), "plain=2");
        // An http:// response cannot set a Secure cookie (RFC 6265bis).
        let jar = CookieJar::new();
        set(&jar, "http://a.test/", &["s=1; Secure"]);
        assert_eq!(sent(&jar, "https://a.test/"), "");
    }

    #[test]
    fn expiry_removes_cookies() {
        let jar = CookieJar::new();
        set(&jar, "http://a.test/", &["a=1", "b=2; Max-Age=3600"]);
        assert_eq!(jar.len(), 2);
        set(&jar, "http://a.test/", &["a=gone; Max-Age=0"]);
        set(
            &jar,
            "http://a.test/",
            &["b=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT"],
        );
        assert_eq!(sent(&jar, "http://a.test/"), "");
        assert!(jar.is_empty());
        set(&jar, "http://a.test/", &["c=3; Max-Age=0"]);
        assert!(jar.is_empty(), "an expired cookie is not stored");
    }

    #[test]
    fn malformed_and_oversized_values_are_ignored() {
        let jar = CookieJar::new();
        let long = format!("big={}", "x".repeat(MAX_COOKIE_BYTES));
        set(
            &jar,
            "http://a.test/",
            &["", "=", ";;;", "novalue", long.as_str()],
        );
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_bytes(b"bin=\xff").unwrap());
        jar.store(&"http://a.test/".parse().unwrap(), &headers);
        assert!(jar.len() <= 1, "at most the valueless cookie: {jar:?}");
        assert!(!sent(&jar, "http://a.test/").contains("big="));
        assert!(!sent(&jar, "http://a.test/").contains("bin="));
        // Not an http(s) URI: nothing stored or sent.
        let jar = CookieJar::new();
        set(&jar, "/relative", &["a=1"]);
        assert!(jar.is_empty());
        assert!(jar.header_for(&"/relative".parse().unwrap()).is_none());
    }

    /// A jar whose store holds `n` cookies of `host` that expired after
    /// they were stored.
    fn jar_with_expired(host: &str, n: usize) -> CookieJar {
        let url = url::Url::parse(&format!("http://{host}/")).unwrap();
        let expired = (0..n).map(|i| {
            let text = format!("old{i}=v; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
            let cookie = cookie_store::Cookie::parse(text, &url).unwrap();
            Ok::<_, std::convert::Infallible>(cookie.into_owned())
        });
        let store = cookie_store::CookieStore::from_cookies(expired, true).unwrap();
        CookieJar {
            store: Arc::new(Mutex::new(store)),
        }
    }

    #[test]
    fn expired_cookies_leave_the_store() {
        // Cookies that expired while stored (Max-Age, Expires) are taken
        // out when the next response is stored, not kept beside the new.
        let jar = jar_with_expired("a.test", MAX_COOKIES);
        assert_eq!(jar.lock().iter_any().count(), MAX_COOKIES);
        assert!(jar.is_empty());
        let fresh: Vec<String> = (0..MAX_COOKIES_PER_DOMAIN)
            .map(|i| format!("c{i}=v"))
            .collect();
        let refs: Vec<&str> = fresh.iter().map(String::as_str).collect();
        set(&jar, "http://a.test/", &refs);
        assert_eq!(jar.len(), MAX_COOKIES_PER_DOMAIN);
        assert_eq!(jar.lock().iter_any().count(), MAX_COOKIES_PER_DOMAIN);
        // Rounds of new names, each expired by the server: the store
        // never holds more than the limit.
        for round in 0..5 {
            let set_them: Vec<String> = (0..MAX_COOKIES_PER_DOMAIN)
                .map(|i| format!("r{round}c{i}=v"))
                .collect();
            let expire_them: Vec<String> = (0..MAX_COOKIES_PER_DOMAIN)
                .map(|i| format!("r{round}c{i}=gone; Max-Age=0"))
                .collect();
            jar.clear();
            set(
                &jar,
                "http://a.test/",
                &set_them.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            set(
                &jar,
                "http://a.test/",
                &expire_them.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            assert!(jar.is_empty());
            assert_eq!(jar.lock().iter_any().count(), 0, "round {round}");
        }
    }

    #[test]
    fn limits_bound_the_jar() {
        let jar = CookieJar::new();
        let many: Vec<String> = (0..MAX_COOKIES_PER_DOMAIN + 10)
            .map(|i| format!("c{i}=v"))
            .collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        set(&jar, "http://a.test/", &refs);
        assert_eq!(jar.len(), MAX_COOKIES_PER_DOMAIN);
        // Replacing a stored cookie still works at the limit.
        set(&jar, "http://a.test/", &["c0=new"]);
        assert!(sent(&jar, "http://a.test/").contains("c0=new"));
        for d in 0..(MAX_COOKIES / MAX_COOKIES_PER_DOMAIN) + 2 {
            set(&jar, &format!("http://d{d}.test/"), &refs);
        }
        assert_eq!(jar.len(), MAX_COOKIES);
        jar.clear();
        assert!(jar.is_empty());
    }
}
