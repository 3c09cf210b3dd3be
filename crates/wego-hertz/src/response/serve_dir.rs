//! `ServeDir`: static files from a directory, behind a catch-all route.

use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};
use tower_service::Service;

use super::{File, Html, IntoResponse, Redirect, Response, text};
use crate::BoxFuture;
use crate::extract::{PathParams, Request};

/// Directory listings stop at this many entries.
const MAX_LISTING: usize = 5_000;

/// Serves the files under a directory; mount it on a catch-all route.
///
/// - **Paths.** The file is the route's last parameter (the catch-all),
///   percent-decoded by the router and checked segment by segment: `..`,
///   `.`, backslashes, NUL and drive prefixes answer 404 without touching
///   the file system. Symbolic links are followed only while their target
///   stays inside the root (checked on the resolved path); one that leads
///   outside answers 404 unless
///   [`with_symlinks_outside_root`](Self::with_symlinks_outside_root).
/// - **Files** go out with [`File::into_response_for`]: `ETag`,
///   `Last-Modified`, 304 for conditional requests, 206 / 416 for `Range`
///   (with `If-Range`), streamed from the blocking pool.
/// - **Directories.** A directory asked for without a trailing slash is
///   redirected (301) to the path with one, so that relative links in its
///   index resolve; with the slash it serves the first index file that
///   exists (`index.html` by default), else a listing when
///   [`with_directory_listing`](Self::with_directory_listing) is on (off by
///   default), else 404.
/// - **Precompressed siblings.** With [`with_precompressed_br`](Self::with_precompressed_br)
///   or [`with_precompressed_gzip`](Self::with_precompressed_gzip), a request
///   whose `Accept-Encoding` takes `br` (preferred) or `gzip` gets
///   `file.br` / `file.gz` when it exists, with `Content-Encoding`, the
///   original file's `Content-Type`, and `Vary: Accept-Encoding`.
///
/// ```
/// use http::Method;
/// use wego_hertz::Router;
/// use wego_hertz::response::ServeDir;
///
/// let app = Router::new().route_service(
///     Method::GET,
///     "/static/*path",
///     ServeDir::new("public").with_precompressed_gzip(),
/// );
/// # drop(app);
/// ```
#[derive(Debug, Clone)]
pub struct ServeDir {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    root: PathBuf,
    index_files: Vec<String>,
    listing: bool,
    br: bool,
    gzip: bool,
    symlinks_outside_root: bool,
}

impl ServeDir {
    /// Serves files under `root`, with `index.html` as the index file, no
    /// listings, no precompressed siblings, and no symbolic links out of the
    /// root.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            config: Arc::new(Config {
                root: root.into(),
                index_files: vec!["index.html".to_owned()],
                listing: false,
                br: false,
                gzip: false,
                symlinks_outside_root: false,
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Sets the index files a directory is served by, tried in order (none:
    /// an empty list).
    pub fn with_index_files<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config_mut().index_files = names.into_iter().map(Into::into).collect();
        self
    }

    /// Lists a directory that has no index file (an HTML page of links, at
    /// most 5,000 entries). Off by default.
    pub fn with_directory_listing(mut self, on: bool) -> Self {
        self.config_mut().listing = on;
        self
    }

    /// Serves `name.br` to clients that accept brotli, when it exists.
    pub fn with_precompressed_br(mut self) -> Self {
        self.config_mut().br = true;
        self
    }

    /// Serves `name.gz` to clients that accept gzip, when it exists.
    pub fn with_precompressed_gzip(mut self) -> Self {
        self.config_mut().gzip = true;
        self
    }

    /// Follows symbolic links whose targets are outside the root. Off by
    /// default: such a link answers 404.
    pub fn with_symlinks_outside_root(mut self, on: bool) -> Self {
        self.config_mut().symlinks_outside_root = on;
        self
    }
}

/// What a request resolves to on the file system.
#[derive(Debug)]
enum Target {
    File {
        path: PathBuf,
        /// The sibling to send instead and its `Content-Encoding`.
        encoded: Option<(PathBuf, &'static str)>,
        /// Whether precompressed siblings are on for this file (`Vary`).
        vary: bool,
    },
    AddSlash,
    Listing(PathBuf),
    NotFound,
}

impl Service<Request> for ServeDir {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let rel = req
            .extensions()
            .get::<PathParams>()
            .and_then(|p| p.iter().last().map(|(_, v)| v.to_owned()))
            .unwrap_or_default();
        let config = self.config.clone();
        // The body is not read; keeping only the head keeps the future
        // `Send` (a body is not `Sync`).
        let (parts, _body) = req.into_parts();
        let req = http::Request::from_parts(parts, ());
        Box::pin(async move {
            let Some(joined) = safe_join(&config.root, &rel) else {
                return Ok(text(StatusCode::NOT_FOUND, "file not found"));
            };
            let trailing_slash = req.uri().path().ends_with('/');
            let accept = accepted(req.headers());
            let resolved = wego_netpoll::rt::spawn_blocking(move || {
                resolve(&config, joined, trailing_slash, accept)
            })
            .await;
            let Ok(target) = resolved else {
                return Ok(text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot read the file",
                ));
            };
            Ok(respond(target, &req).await)
        })
    }
}

async fn respond(target: Target, req: &http::Request<()>) -> Response {
    match target {
        Target::NotFound => text(StatusCode::NOT_FOUND, "file not found"),
        Target::AddSlash => {
            let mut location = format!("{}/", req.uri().path());
            if let Some(q) = req.uri().query() {
                location.push('?');
                location.push_str(q);
            }
            Redirect::moved_permanently(location).into_response()
        }
        Target::Listing(dir) => match wego_netpoll::rt::spawn_blocking(move || listing(&dir)).await
        {
            Ok(Ok(page)) => Html(page).into_response(),
            _ => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot list the directory",
            ),
        },
        Target::File {
            path,
            encoded,
            vary,
        } => {
            let (open, encoding) = match &encoded {
                Some((sibling, enc)) => (sibling.as_path(), Some(*enc)),
                None => (path.as_path(), None),
            };
            let mut res = match File::open(open).await {
                Ok(f) => f
                    .with_content_type(super::file::guess_content_type(&path))
                    .into_response_for(req),
                Err(e) => return e.into_response(),
            };
            if let Some(enc) = encoding {
                res.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
            }
            if vary {
                res.headers_mut()
                    .append(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            res
        }
    }
}

/// Which precompressed encodings the client accepts (`br`, `gzip`).
#[derive(Debug, Clone, Copy, Default)]
struct Accepted {
    br: bool,
    gzip: bool,
}

/// Reads `Accept-Encoding`: an encoding is accepted when listed (or
/// covered by `*`) with a q-value above zero.
fn accepted(headers: &HeaderMap) -> Accepted {
    let mut br = None;
    let mut gzip = None;
    let mut star = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = true;
            for param in parts {
                if let Some((k, v)) = param.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    // q=0, 0.0, 0.00, 0.000 refuse; anything else accepts.
                    let v = v.trim();
                    q = !(v.starts_with('0') && v.bytes().skip(1).all(|b| b == b'.' || b == b'0'));
                }
            }
            match coding.as_str() {
                "br" => br = Some(q),
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => star = Some(q),
                _ => {}
            }
        }
    }
    Accepted {
        br: br.or(star).unwrap_or(false),
        gzip: gzip.or(star).unwrap_or(false),
    }
}

/// Resolves a joined path on the file system (blocking).
fn resolve(config: &Config, joined: PathBuf, trailing_slash: bool, accept: Accepted) -> Target {
    let Ok(meta) = std::fs::metadata(&joined) else {
        return Target::NotFound;
    };
    if !inside_root(config, &joined) {
        return Target::NotFound;
    }
    let path = if meta.is_dir() {
        if !trailing_slash {
            return Target::AddSlash;
        }
        let index = config
            .index_files
            .iter()
            .map(|name| joined.join(name))
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()) && inside_root(config, p));
        match index {
            Some(index) => index,
            None if config.listing => return Target::Listing(joined),
            None => return Target::NotFound,
        }
    } else {
        joined
    };
    let sibling = |ext: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(ext);
        let p = PathBuf::from(name);
        (std::fs::metadata(&p).is_ok_and(|m| m.is_file()) && inside_root(config, &p)).then_some(p)
    };
    let encoded = if config.br && accept.br {
        sibling(".br").map(|p| (p, "br"))
    } else {
        None
    };
    let encoded = encoded.or_else(|| {
        if config.gzip && accept.gzip {
            sibling(".gz").map(|p| (p, "gzip"))
        } else {
            None
        }
    });
    Target::File {
        path,
        encoded,
        vary: config.br || config.gzip,
    }
}

/// Whether `path`, with every symbolic link resolved, is inside the root
/// (always true when links out of the root are allowed).
fn inside_root(config: &Config, path: &Path) -> bool {
    if config.symlinks_outside_root {
        return true;
    }
    match (
        std::fs::canonicalize(&config.root),
        std::fs::canonicalize(path),
    ) {
        (Ok(root), Ok(path)) => path.starts_with(root),
        _ => false,
    }
}

/// An HTML page linking to a directory's entries, sorted by name.
fn listing(dir: &Path) -> std::io::Result<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        if names.len() == MAX_LISTING {
            break;
        }
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        names.push(if is_dir { format!("{name}/") } else { name });
    }
    names.sort();
    let mut page =
        String::from("<!doctype html>\n<meta charset=\"utf-8\">\n<title>Index</title>\n<ul>\n");
    for name in &names {
        let href = percent_encoding::utf8_percent_encode(name, HREF).to_string();
        page.push_str(&format!(
            "<li><a href=\"{href}\">{}</a></li>\n",
            escape_html(name)
        ));
    }
    page.push_str("</ul>\n");
    Ok(page)
}

/// Characters percent-encoded in a listing's links: controls, space, and
/// those with a meaning in a URL or in HTML.
const HREF: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`');

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
