//! The upstream URL and how a request's target is joined to it.

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};

use super::ProxyError;

/// The upstream's base URL, split once at build time.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    scheme: Scheme,
    authority: Authority,
    /// The base path without its trailing `/` (empty for `/`).
    path: String,
    query: Option<String>,
}

impl Upstream {
    /// `uri` as an upstream: absolute, `http` or `https`.
    pub(crate) fn new(uri: &Uri) -> Option<Self> {
        let scheme = uri.scheme()?.clone();
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return None;
        }
        Some(Self {
            scheme,
            authority: uri.authority()?.clone(),
            path: uri.path().trim_end_matches('/').to_owned(),
            query: uri.query().filter(|q| !q.is_empty()).map(str::to_owned),
        })
    }

    /// The upstream URL for a request whose target is `uri`: its path,
    /// less `strip_prefix`, joined to the base path with one `/`, and its
    /// query after the base URL's.
    pub(crate) fn join(&self, uri: &Uri, strip_prefix: Option<&str>) -> Result<Uri, ProxyError> {
        let path = uri.path();
        let rest = strip_prefix.map_or(path, |p| strip(path, p));
        let query = uri.query().filter(|q| !q.is_empty());
        let mut out = String::with_capacity(
            self.path.len()
                + rest.len()
                + 2
                + self.query.as_ref().map_or(0, String::len)
                + query.map_or(0, str::len),
        );
        out.push_str(&self.path);
        if !rest.starts_with('/') {
            out.push('/');
        }
        out.push_str(rest);
        match (&self.query, query) {
            (Some(base), Some(q)) => {
                out.push('?');
                out.push_str(base);
                out.push('&');
                out.push_str(q);
            }
            (Some(q), None) => {
                out.push('?');
                out.push_str(q);
            }
            (None, Some(q)) => {
                out.push('?');
                out.push_str(q);
            }
            (None, None) => {}
        }
        let pq = PathAndQuery::try_from(out).map_err(|_| ProxyError::InvalidTarget)?;
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|_| ProxyError::InvalidTarget)
    }

    /// The upstream's authority, `host[:port]`, for its `Host`.
    pub(crate) fn authority(&self) -> &Authority {
        &self.authority
    }
}

/// `path` without `prefix` when `prefix` is its first whole segments
/// (`prefix` has no trailing `/`); `path` otherwise.
fn strip<'a>(path: &'a str, prefix: &str) -> &'a str {
    match path.strip_prefix(prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &str, target: &str, prefix: Option<&str>) -> String {
        let up = Upstream::new(&base.parse().unwrap()).unwrap();
        up.join(&target.parse().unwrap(), prefix)
            .unwrap()
            .to_string()
    }

    #[test]
    fn joins_paths_with_one_slash_and_keeps_the_query() {
        assert_eq!(join("http://u:81", "/a/b?x=1", None), "http://u:81/a/b?x=1");
        assert_eq!(join("http://u:81/", "/a", None), "http://u:81/a");
        assert_eq!(join("http://u/base", "/a?x", None), "http://u/base/a?x");
        assert_eq!(join("http://u/base/", "/a", None), "http://u/base/a");
        assert_eq!(join("http://u/base", "/", None), "http://u/base/");
        assert_eq!(
            join("http://u/b?k=v", "/a?x=1", None),
            "http://u/b/a?k=v&x=1"
        );
        assert_eq!(join("http://u/b?k=v", "/a", None), "http://u/b/a?k=v");
        assert_eq!(join("https://u", "/a?", None), "https://u/a");
        // An HTTP/2 request's absolute target: only path and query count.
        assert_eq!(
            join("http://u", "http://front:8080/p?q", None),
            "http://u/p?q"
        );
        // Percent-encoded bytes pass as they are.
        assert_eq!(join("http://u", "/a%2Fb/%20", None), "http://u/a%2Fb/%20");
    }

    #[test]
    fn strips_whole_segments_only() {
        assert_eq!(
            join("http://u", "/api/users?id=7", Some("/api")),
            "http://u/users?id=7"
        );
        assert_eq!(join("http://u", "/api", Some("/api")), "http://u/");
        assert_eq!(join("http://u/v1", "/api/", Some("/api")), "http://u/v1/");
        assert_eq!(join("http://u", "/apix/y", Some("/api")), "http://u/apix/y");
        assert_eq!(join("http://u", "/other", Some("/api")), "http://u/other");
        assert_eq!(join("http://u", "/a/b/c", Some("/a/b")), "http://u/c");
    }

    #[test]
    fn only_absolute_http_urls_are_upstreams() {
        for bad in ["/path", "ftp://h/", "ws://h/"] {
            assert!(Upstream::new(&bad.parse().unwrap()).is_none(), "{bad}");
        }
        let up = Upstream::new(&"http://h:9/x".parse().unwrap()).unwrap();
        assert_eq!(up.authority().as_str(), "h:9");
    }
}
