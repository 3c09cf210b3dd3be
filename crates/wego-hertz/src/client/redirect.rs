//! The redirect policy: which responses are followed, and what the next
//! request is (RFC 9110 §15.4). Off unless
//! [`ClientBuilder::with_redirects`](super::ClientBuilder::with_redirects)
//! sets a limit.
//!
//! - 301, 302 and 303 turn every method but `HEAD` into `GET` without a
//!   body (what browsers and common clients do; RFC 9110 §15.4.2–4 allow
//!   it for 301/302 and ask it for 303); `HEAD` stays `HEAD`.
//! - 307 and 308 keep the method and the body. A body that cannot be sent
//!   again (a stream) stops the chain there: the 3xx is the answer.
//! - `Authorization`, `Cookie` and `Proxy-Authorization` are dropped when
//!   the next request goes to another origin (scheme, host or port), so
//!   credentials meant for one server never reach another; so is a `Host`
//!   the caller set.
//! - `https://` to `http://` is refused with [`Error::is_redirect`]
//!   unless [`ClientBuilder::with_redirect_downgrade`](super::ClientBuilder::with_redirect_downgrade)
//!   allows it.
//! - A `Location` that does not parse, is longer than [`MAX_LOCATION`]
//!   bytes, or names a scheme other than http or https, ends the chain
//!   with the 3xx as the answer.
//!
//! [`Error::is_redirect`]: crate::Error::is_redirect

use http::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING,
};
use http::uri::{Parts, PathAndQuery};
use http::{HeaderMap, Method, StatusCode, Uri};

use super::pool::Origin;

/// The longest `Location` value the client follows, in bytes.
pub const MAX_LOCATION: usize = 8 * 1024;

/// The request a redirect asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Next {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    /// Whether the body goes along (307/308) or is dropped.
    pub(crate) keep_body: bool,
    /// Whether the next request leaves the origin of the last one.
    pub(crate) cross_origin: bool,
    /// Whether the next request goes from `https://` to `http://`.
    pub(crate) downgrade: bool,
}

/// What a response asks for, if it is a redirect that can be followed.
pub(crate) fn next(
    status: StatusCode,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Next> {
    let (method, keep_body) = match status {
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
            if *method == Method::HEAD =>
        {
            (Method::HEAD, false)
        }
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER => {
            (Method::GET, false)
        }
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => (method.clone(), true),
        _ => return None,
    };
    let location = headers.get(LOCATION)?.to_str().ok()?;
    let next = resolve_location(uri, location)?;
    let from = Origin::from_uri(uri).ok()?;
    let to = Origin::from_uri(&next).ok()?;
    Some(Next {
        method,
        uri: next,
        keep_body,
        cross_origin: from != to,
        downgrade: from.tls && !to.tls,
    })
}

/// Drops what must not follow the request: credentials and `Host` across
/// origins, and the body's description when the body is dropped.
pub(crate) fn strip(headers: &mut HeaderMap, next: &Next) {
    if next.cross_origin {
        for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, HOST] {
            headers.remove(name);
        }
    }
    if !next.keep_body {
        for name in [
            CONTENT_LENGTH,
            CONTENT_TYPE,
            CONTENT_ENCODING,
            TRANSFER_ENCODING,
        ] {
            headers.remove(name);
        }
    }
}

/// Resolves a `Location` value against the URI of the request it answers,
/// as the client does when it follows a redirect (RFC 9110 §10.2.2,
/// RFC 3986 §5.2): absolute `http`/`https` URIs, scheme-relative
/// (`//host/path`), absolute paths, relative paths (with `.` and `..`
/// segments removed) and query-only references. The fragment is dropped,
/// as it never goes to a server.
///
/// Returns `None` for an empty or unparsable value, one longer than
/// [`MAX_LOCATION`] bytes, another scheme, or a `base` that is not an
/// absolute URI.
///
/// ```
/// use http::Uri;
/// use wego_hertz::client::resolve_location;
///
/// let base: Uri = "http://a.test/dir/page?q=1".parse().unwrap();
/// let next = resolve_location(&base, "../up?k=v").unwrap();
/// assert_eq!(next, "http://a.test/up?k=v");
/// ```
pub fn resolve_location(base: &Uri, location: &str) -> Option<Uri> {
    if location.is_empty() || location.len() > MAX_LOCATION {
        return None;
    }
    // Fragments never go to the server.
    let location = location.split('#').next().unwrap_or_default();
    let base_scheme = base.scheme_str()?;
    base.authority()?;
    if location.starts_with("//") {
        return absolute(&format!("{base_scheme}:{location}"));
    }
    if has_scheme(location) {
        return absolute(location);
    }
    let joined = if location.starts_with('/') {
        location.to_owned()
    } else if location.is_empty() {
        base.path_and_query()
            .map_or("/", PathAndQuery::as_str)
            .to_owned()
    } else if location.starts_with('?') {
        format!("{}{location}", base.path())
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    let (path, query) = match joined.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (joined.as_str(), None),
    };
    let mut path_and_query = remove_dot_segments(path);
    if let Some(q) = query {
        path_and_query.push('?');
        path_and_query.push_str(q);
    }
    let mut parts = Parts::default();
    parts.scheme = base.scheme().cloned();
    parts.authority = base.authority().cloned();
    parts.path_and_query = Some(path_and_query.parse::<PathAndQuery>().ok()?);
    Uri::from_parts(parts).ok()
}

/// `scheme:` at the start (RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// An absolute `http`/`https` URI with a host, with dot segments removed
/// from its path.
fn absolute(s: &str) -> Option<Uri> {
    let uri = s.parse::<Uri>().ok()?;
    if !matches!(uri.scheme_str(), Some(scheme) if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
    {
        return None;
    }
    if uri.host().is_none_or(str::is_empty) {
        return None;
    }
    let mut path_and_query = remove_dot_segments(uri.path());
    if let Some(q) = uri.query() {
        path_and_query.push('?');
        path_and_query.push_str(q);
    }
    let mut parts = uri.into_parts();
    parts.path_and_query = Some(path_and_query.parse::<PathAndQuery>().ok()?);
    Uri::from_parts(parts).ok()
}

/// RFC 3986 §5.2.4 on an absolute path; the result starts with `/`.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(to: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LOCATION, to.parse().unwrap());
        h
    }

    fn base() -> Uri {
        "http://a.test/dir/page?q=1".parse().unwrap()
    }

    #[test]
    fn resolves_the_location_forms() {
        let cases = [
            ("http://b.test/x", "http://b.test/x"),
            ("https://a.test/y", "https://a.test/y"),
            ("HTTPS://a.test/y", "https://a.test/y"),
            ("//c.test/z", "http://c.test/z"),
            ("//c.test", "http://c.test/"),
            ("/abs?k=v", "http://a.test/abs?k=v"),
            ("rel", "http://a.test/dir/rel"),
            ("./rel", "http://a.test/dir/rel"),
            ("../up", "http://a.test/up"),
            ("../../../../up", "http://a.test/up"),
            ("/a/./b/../c", "http://a.test/a/c"),
            ("sub/..", "http://a.test/dir/"),
            ("?q=2", "http://a.test/dir/page?q=2"),
            ("/frag#part", "http://a.test/frag"),
            ("#only", "http://a.test/dir/page?q=1"),
            ("http://b.test/a/../b", "http://b.test/b"),
        ];
        for (loc, want) in cases {
            assert_eq!(
                resolve_location(&base(), loc).unwrap().to_string(),
                want,
                "{loc}"
            );
        }
    }

    #[test]
    fn rejects_malformed_and_foreign_locations() {
        let long = format!("/{}", "a".repeat(MAX_LOCATION));
        for bad in [
            "",
            "ftp://a.test/",
            "mailto:x@y.test",
            "javascript:alert(1)",
            "/bad path",
            "http://",
            "http:///nohost",
            "//",
            "http://a b/",
            "/\u{0}",
            long.as_str(),
        ] {
            assert!(resolve_location(&base(), bad).is_none(), "{bad:?}");
        }
        let relative_base: Uri = "/only/path".parse().unwrap();
        assert!(resolve_location(&relative_base, "/x").is_none());
    }

    #[test]
    fn methods_and_bodies_per_status() {
        let uri = base();
        let follow = |status: u16, method: Method| {
            next(
                StatusCode::from_u16(status).unwrap(),
                &method,
                &uri,
                &located("/next"),
            )
            .map(|n| (n.method, n.keep_body))
        };
        for status in [301, 302, 303] {
            assert_eq!(follow(status, Method::POST), Some((Method::GET, false)));
            assert_eq!(follow(status, Method::PUT), Some((Method::GET, false)));
            assert_eq!(follow(status, Method::GET), Some((Method::GET, false)));
            assert_eq!(follow(status, Method::HEAD), Some((Method::HEAD, false)));
        }
        assert_eq!(follow(307, Method::POST), Some((Method::POST, true)));
        assert_eq!(follow(308, Method::PUT), Some((Method::PUT, true)));
        assert_eq!(follow(307, Method::HEAD), Some((Method::HEAD, true)));
        for status in [200, 300, 304, 305, 306, 400] {
            assert_eq!(follow(status, Method::GET), None, "{status}");
        }
        assert!(next(StatusCode::FOUND, &Method::GET, &uri, &HeaderMap::new()).is_none());
        let mut binary = HeaderMap::new();
        binary.insert(LOCATION, http::HeaderValue::from_bytes(b"/\xff").unwrap());
        assert!(next(StatusCode::FOUND, &Method::GET, &uri, &binary).is_none());
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, "Bearer t".parse().unwrap());
        headers.insert(PROXY_AUTHORIZATION, "Basic x".parse().unwrap());
        headers.insert(COOKIE, "a=b".parse().unwrap());
        headers.insert(HOST, "a.test".parse().unwrap());
        headers.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        let uri = base();
        let same = next(StatusCode::FOUND, &Method::GET, &uri, &located("/x")).unwrap();
        assert!(!same.cross_origin && !same.downgrade);
        let mut kept = headers.clone();
        strip(&mut kept, &same);
        assert!(kept.contains_key(AUTHORIZATION) && kept.contains_key(COOKIE));
        assert!(
            !kept.contains_key(CONTENT_TYPE),
            "the body is dropped on 302"
        );
        for other in ["http://b.test/", "https://a.test/", "http://a.test:8080/"] {
            let n = next(
                StatusCode::TEMPORARY_REDIRECT,
                &Method::GET,
                &uri,
                &located(other),
            )
            .unwrap();
            assert!(n.cross_origin, "{other}");
            let mut h = headers.clone();
            strip(&mut h, &n);
            for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, HOST] {
                assert!(!h.contains_key(&name), "{other}: {name}");
            }
            assert!(h.contains_key(CONTENT_TYPE), "the body goes along on 307");
        }
        let explicit_port = next(
            StatusCode::FOUND,
            &Method::GET,
            &uri,
            &located("http://A.TEST:80/"),
        )
        .unwrap();
        assert!(!explicit_port.cross_origin);
    }

    #[test]
    fn marks_downgrades() {
        let secure: Uri = "https://a.test/".parse().unwrap();
        let n = next(
            StatusCode::FOUND,
            &Method::GET,
            &secure,
            &located("http://a.test/"),
        )
        .unwrap();
        assert!(n.downgrade && n.cross_origin);
        let n = next(
            StatusCode::FOUND,
            &Method::GET,
            &base(),
            &located("https://a.test/"),
        )
        .unwrap();
        assert!(!n.downgrade);
    }
}
