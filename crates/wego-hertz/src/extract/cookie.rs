//! Cookies: read the `Cookie` header, queue `Set-Cookie` changes.

use std::fmt;
use std::time::Duration;

use http::header::{COOKIE, SET_COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};

use super::FromRequestParts;
use crate::response::{IntoResponseParts, PartsError, Response};

/// The request's cookies, plus any changes to send back.
///
/// Extract it, read with [`get`](Self::get), add or remove with
/// [`with_cookie`](Self::with_cookie) / [`without_cookie`](Self::without_cookie), and return it in a
/// response tuple (`(jar, body)`) to emit one `Set-Cookie` per change.
/// Malformed cookie pairs are skipped, not rejected (as browsers do).
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    cookies: Vec<(String, String)>,
    changes: Vec<Cookie>,
}

impl CookieJar {
    /// Parses the `Cookie` headers of `headers`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut cookies = Vec::new();
        for value in headers.get_all(COOKIE) {
            let Ok(s) = value.to_str() else { continue };
            for pair in s.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                let name = name.trim();
                if name.is_empty() {
                    continue;
                }
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        Self {
            cookies,
            changes: Vec::new(),
        }
    }

    /// The value of cookie `name` (the first, if the client sent several).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All `(name, value)` pairs the client sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.cookies.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Sets a cookie on the client.
    #[must_use]
    pub fn with_cookie(mut self, cookie: Cookie) -> Self {
        self.cookies.retain(|(k, _)| *k != cookie.name);
        self.cookies
            .push((cookie.name.clone(), cookie.value.clone()));
        self.changes.push(cookie);
        self
    }

    /// Deletes cookie `name` on the client (an expired `Set-Cookie` with
    /// `Path=/`).
    #[must_use]
    pub fn without_cookie(mut self, name: &str) -> Self {
        self.cookies.retain(|(k, _)| k != name);
        self.changes.push(
            Cookie::new(name, "")
                .with_path("/")
                .with_max_age(Duration::ZERO),
        );
        self
    }
}

impl FromRequestParts for CookieJar {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

impl IntoResponseParts for CookieJar {
    fn into_response_parts(self, res: &mut Response) -> Result<(), PartsError> {
        for cookie in self.changes {
            let Ok(value) = HeaderValue::try_from(cookie.to_string()) else {
                return Err(PartsError::new("invalid cookie"));
            };
            res.headers_mut().append(SET_COOKIE, value);
        }
        Ok(())
    }
}

/// `SameSite` cookie attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (requires `Secure` in browsers).
    None,
}

/// A cookie to set with [`CookieJar::with_cookie`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    path: Option<String>,
    domain: Option<String>,
    max_age: Option<Duration>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

impl Cookie {
    /// A session cookie `name=value` with no attributes.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            path: None,
            domain: None,
            max_age: None,
            secure: false,
            http_only: false,
            same_site: None,
        }
    }

    /// Sets `Path`.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets `Domain`.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets `Max-Age` (whole seconds).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Sets `Secure`.
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Sets `HttpOnly`.
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// Sets `SameSite`.
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }
}

impl fmt::Display for Cookie {
    /// The `Set-Cookie` header value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)?;
        if let Some(p) = &self.path {
            write!(f, "; Path={p}")?;
        }
        if let Some(d) = &self.domain {
            write!(f, "; Domain={d}")?;
        }
        if let Some(age) = self.max_age {
            write!(f, "; Max-Age={}", age.as_secs())?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        match self.same_site {
            Some(SameSite::Strict) => f.write_str("; SameSite=Strict")?,
            Some(SameSite::Lax) => f.write_str("; SameSite=Lax")?,
            Some(SameSite::None) => f.write_str("; SameSite=None")?,
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_skips_garbage() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; b=\"two\"; junk; =x; c = 3"),
        );
        h.append(COOKIE, HeaderValue::from_static("d=4"));
        let jar = CookieJar::from_headers(&h);
        assert_eq!(jar.get("a"), Some("1"));
        assert_eq!(jar.get("b"), Some("two"));
        assert_eq!(jar.get("c"), Some("3"));
        assert_eq!(jar.get("d"), Some("4"));
        assert_eq!(jar.get("junk"), None);
        assert_eq!(jar.iter().count(), 4);
    }

    #[test]
    fn renders_set_cookie() {
        let c = Cookie::new("sid", "abc")
            .with_path("/")
            .with_max_age(Duration::from_secs(60))
            .with_http_only(true)
            .with_secure(true)
            .with_same_site(SameSite::Lax);
        assert_eq!(
            c.to_string(),
            "sid=abc; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax"
        );
        let mut res = Response::new(crate::Body::empty());
        let jar = CookieJar::default().with_cookie(c).without_cookie("old");
        jar.into_response_parts(&mut res).unwrap();
        let all: Vec<_> = res.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1], "old=; Path=/; Max-Age=0");
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Cookies rendered as `Set-Cookie` parse back from a `Cookie`
        /// header built from their `name=value` parts.
        #[test]
        fn set_cookie_pairs_parse_back(
            pairs in proptest::collection::vec(("[A-Za-z0-9_-]{1,10}", "[A-Za-z0-9_.-]{0,16}"), 1..6)
        ) {
            let header: Vec<String> = pairs
                .iter()
                .map(|(n, v)| {
                    let set = Cookie::new(n.clone(), v.clone()).with_path("/").to_string();
                    set.split(';').next().unwrap().to_owned()
                })
                .collect();
            let mut h = HeaderMap::new();
            h.insert(COOKIE, HeaderValue::try_from(header.join("; ")).unwrap());
            let jar = CookieJar::from_headers(&h);
            for (n, v) in &pairs {
                let first = pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
                prop_assert_eq!(jar.get(n), first);
                let _ = v;
            }
        }

        /// Arbitrary header bytes never panic the parser.
        #[test]
        fn arbitrary_cookie_headers_parse(raw in "[ -~]{0,200}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::try_from(raw) {
                h.insert(COOKIE, v);
            }
            let jar = CookieJar::from_headers(&h);
            prop_assert!(jar.iter().all(|(k, _)| !k.is_empty()));
        }
    }
}
