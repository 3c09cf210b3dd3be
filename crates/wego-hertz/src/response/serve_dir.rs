//! `ServeDir`: static files from a directory, behind a catch-all route.

use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::StatusCode;
use tower_service::Service;

use super::{File, IntoResponse, Response, text};
use crate::extract::{PathParams, Request};
use crate::handler::BoxFuture;

/// Serves the files under a directory; mount it on a catch-all route.
///
/// The file is the route's last parameter (the catch-all), percent-decoded
/// by the router and checked segment by segment: `..`, `.`, empty segments
/// past the first, backslashes, NUL and drive prefixes answer 404 without
/// touching the file system, so a request can never leave the directory
/// (symbolic links inside it are followed). A directory serves its
/// `index.html`. Files go out with [`File`] (blocking pool, streamed,
/// `Content-Length`, type from the extension).
///
/// ```
/// use http::Method;
/// use wego_hertz::Router;
/// use wego_hertz::response::ServeDir;
///
/// let app = Router::new().route_service(Method::GET, "/static/*path", ServeDir::new("public"));
/// # drop(app);
/// ```
#[derive(Debug, Clone)]
pub struct ServeDir {
    root: Arc<PathBuf>,
}

impl ServeDir {
    /// Serves files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: Arc::new(root.into()),
        }
    }
}

impl Service<Request> for ServeDir {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let rel = req
            .extensions()
            .get::<PathParams>()
            .and_then(|p| p.iter().last().map(|(_, v)| v.to_owned()))
            .unwrap_or_default();
        let target = safe_join(&self.root, &rel);
        Box::pin(async move {
            let Some(target) = target else {
                return Ok(text(StatusCode::NOT_FOUND, "file not found"));
            };
            let res = match File::open(&target).await {
                Ok(f) => f.into_response(),
                Err(e) if e.is_not_found() => match File::open(target.join("index.html")).await {
                    Ok(f) => f.into_response(),
                    Err(e) => e.into_response(),
                },
                Err(e) => e.into_response(),
            };
            Ok(res)
        })
    }
}

/// `root` joined with a request path, or `None` when the path could
/// escape it.
pub(crate) fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    let rel = rel.strip_prefix('/').unwrap_or(rel);
    for seg in rel.split('/') {
        if seg.is_empty() {
            continue;
        }
        if seg == "." || seg == ".." || seg.contains(['\\', '\0', ':']) {
            return None;
        }
        // Belt and braces: the segment must be one normal component.
        let mut comps = Path::new(seg).components();
        match (comps.next(), comps.next()) {
            (Some(Component::Normal(_)), None) => out.push(seg),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_only_inside_the_root() {
        let root = Path::new("/srv/www");
        assert_eq!(
            safe_join(root, "a/b.css"),
            Some(PathBuf::from("/srv/www/a/b.css"))
        );
        assert_eq!(safe_join(root, ""), Some(PathBuf::from("/srv/www")));
        assert_eq!(safe_join(root, "a//b"), Some(PathBuf::from("/srv/www/a/b")));
        assert_eq!(
            safe_join(root, "/etc/passwd"),
            Some(PathBuf::from("/srv/www/etc/passwd"))
        );
        for bad in ["..", "a/../../etc", "./x", "a\\..\\b", "c:x", "a\0b"] {
            assert_eq!(safe_join(root, bad), None, "{bad:?}");
        }
    }
}
