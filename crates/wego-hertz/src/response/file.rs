//! File responses, read off the executor threads, with validators,
//! conditional requests and byte ranges.
//!
//! Opening and reading use blocking `std::fs` calls on the runtime's blocking
//! pool (`wego_netpoll::rt::spawn_blocking`), so every network backend can
//! serve files. The body streams 64 KiB chunks through a bounded channel;
//! dropping the response stops the reader.

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

use super::conditional::{self, Outcome, Validators};
use super::{ByteRanges, IntoResponse, Response, text};
use crate::Body;

const CHUNK: usize = 64 * 1024;

/// A file to send as the response body, with `Content-Type` guessed from its
/// extension, `Content-Length` from its metadata, and an `ETag` and
/// `Last-Modified` from its length and modification time.
///
/// [`into_response`](IntoResponse::into_response) always sends the whole
/// file (200). [`into_response_for`](File::into_response_for) also answers
/// the request's conditional headers (304, 412) and `Range` (206, 416), as
/// [`ServeDir`](super::ServeDir) does.
///
/// ```no_run
/// # use wego_hertz::extract::Request;
/// # use wego_hertz::response::{File, IntoResponse, Response};
/// async fn logo(req: Request) -> Response {
///     match File::open("static/logo.png").await {
///         Ok(file) => file.into_response_for(&req),
///         Err(e) => e.into_response(), // 404, 403 or 500
///     }
/// }
/// ```
pub struct File {
    file: std::fs::File,
    len: u64,
    content_type: &'static str,
    validators: Validators,
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("len", &self.len)
            .field("content_type", &self.content_type)
            .field("etag", &self.validators.etag)
            .finish()
    }
}

impl File {
    /// Opens a regular file for sending.
    ///
    /// # Errors
    ///
    /// [`FileError`] when the file is missing (renders 404), not readable
    /// (403), not a regular file (404), or another I/O error occurs (500).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, FileError> {
        let path: PathBuf = path.as_ref().to_owned();
        let content_type = guess_content_type(&path);
        let opened = wego_netpoll::rt::spawn_blocking(move || {
            let file = std::fs::File::open(&path)?;
            let meta = file.metadata()?;
            Ok::<_, std::io::Error>((file, meta))
        })
        .await
        .map_err(|e| FileError(std::io::Error::other(e.to_string())))?;
        let (file, meta) = opened.map_err(FileError)?;
        if !meta.is_file() {
            return Err(FileError(std::io::Error::from(
                std::io::ErrorKind::NotFound,
            )));
        }
        let modified: Option<SystemTime> = meta.modified().ok();
        Ok(Self {
            file,
            len: meta.len(),
            content_type,
            validators: Validators::for_file(meta.len(), modified),
        })
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The strong entity tag sent as `ETag`, quotes included.
    pub fn etag(&self) -> &str {
        &self.validators.etag
    }

    /// The modification time sent as `Last-Modified`, in whole seconds.
    pub fn last_modified(&self) -> Option<SystemTime> {
        self.validators.modified
    }

    /// Overrides the guessed `Content-Type`.
    pub fn with_content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    /// Answers `req` with this file, honouring its preconditions and range:
    ///
    /// - `If-Match` / `If-Unmodified-Since` that fail: 412;
    /// - `If-None-Match` / `If-Modified-Since` on a current copy: 304 (GET
    ///   and HEAD);
    /// - `Range: bytes=…` on a GET (and `If-Range`, when present, naming
    ///   this version): 206 with one range, or `multipart/byteranges` with
    ///   several (overlapping ranges merged, at most
    ///   [`MAX_RANGES`](super::MAX_RANGES)); 416 when none overlaps the file;
    /// - otherwise 200 with the whole file.
    ///
    /// Every answer carries `ETag`, `Last-Modified` and
    /// `Accept-Ranges: bytes`.
    pub fn into_response_for<B>(self, req: &http::Request<B>) -> Response {
        let Ok(ct) = HeaderValue::from_str(self.content_type) else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "invalid content type");
        };
        match conditional::evaluate(req.method(), req.headers(), &self.validators) {
            Outcome::Proceed => {}
            Outcome::NotModified => {
                let mut res = Response::new(Body::empty());
                *res.status_mut() = StatusCode::NOT_MODIFIED;
                set_validators(&self.validators, &mut res);
                return res;
            }
            Outcome::PreconditionFailed => {
                let mut res = text(StatusCode::PRECONDITION_FAILED, "precondition failed");
                set_validators(&self.validators, &mut res);
                return res;
            }
        }
        let ranges = match req.headers().get(header::RANGE) {
            Some(range)
                if req.method() == Method::GET
                    && conditional::if_range_holds(req.headers(), &self.validators) =>
            {
                ByteRanges::resolve(range.as_bytes(), self.len)
            }
            _ => ByteRanges::Full,
        };
        match ranges {
            ByteRanges::Ranges(ranges) if ranges.len() == 1 => self.single_range(ct, &ranges[0]),
            ByteRanges::Ranges(ranges) => self.multiple_ranges(ct, &ranges),
            ByteRanges::Unsatisfiable => {
                let mut res = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", self.len)) {
                    res.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                set_validators(&self.validators, &mut res);
                res
            }
            _ => self.into_response(),
        }
    }

    /// A response of `status` whose body is `segments`.
    fn respond(self, status: StatusCode, ct: HeaderValue, segments: Vec<Segment>) -> Response {
        let total = segments.iter().map(Segment::len).sum::<u64>();
        let mut res = Response::new(Body::new(FileBody {
            state: State::Idle(Some((self.file, segments))),
            remaining: total,
        }));
        *res.status_mut() = status;
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, ct);
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
        set_validators(&self.validators, &mut res);
        res
    }

    fn single_range(self, ct: HeaderValue, range: &Range<u64>) -> Response {
        let content_range = format!("bytes {}-{}/{}", range.start, range.end - 1, self.len);
        let segments = vec![Segment::File(range.clone())];
        let mut res = self.respond(StatusCode::PARTIAL_CONTENT, ct, segments);
        if let Ok(v) = HeaderValue::from_str(&content_range) {
            res.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        res
    }

    fn multiple_ranges(self, ct: HeaderValue, ranges: &[Range<u64>]) -> Response {
        let boundary = boundary();
        let part_type = ct.to_str().unwrap_or("application/octet-stream").to_owned();
        let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
        for r in ranges {
            let head = format!(
                "\r\n--{boundary}\r\ncontent-type: {part_type}\r\ncontent-range: bytes {}-{}/{}\r\n\r\n",
                r.start,
                r.end - 1,
                self.len
            );
            segments.push(Segment::Literal(Bytes::from(head)));
            segments.push(Segment::File(r.clone()));
        }
        segments.push(Segment::Literal(Bytes::from(format!(
            "\r\n--{boundary}--\r\n"
        ))));
        let ct = HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}"))
            .unwrap_or(HeaderValue::from_static("multipart/byteranges"));
        self.respond(StatusCode::PARTIAL_CONTENT, ct, segments)
    }
}

/// Sets `ETag`, `Last-Modified` and `Accept-Ranges: bytes`.
fn set_validators(v: &Validators, res: &mut Response) {
    let h = res.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(&v.etag) {
        h.insert(header::ETAG, tag);
    }
    if let Some(lm) = v.last_modified()
        && let Ok(date) = HeaderValue::from_str(&lm)
    {
        h.insert(header::LAST_MODIFIED, date);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

/// A `multipart/byteranges` boundary: 32 hex digits from the standard
/// library's randomly keyed hasher, so that a file cannot be made to contain
/// it on purpose.
fn boundary() -> String {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut a = state.build_hasher();
    a.write_u8(1);
    let mut b = state.build_hasher();
    b.write_u8(2);
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

impl IntoResponse for File {
    fn into_response(self) -> Response {
        let Ok(ct) = HeaderValue::from_str(self.content_type) else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "invalid content type");
        };
        let len = self.len;
        self.respond(StatusCode::OK, ct, vec![Segment::File(0..len)])
    }
}

/// Why a [`File`] could not be opened. Renders 404, 403 or 500.
#[derive(Debug)]
pub struct FileError(std::io::Error);

impl FileError {
    /// Whether the file does not exist (or is not a regular file).
    pub fn is_not_found(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::NotFound
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot open the file: {}", self.0)
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl IntoResponse for FileError {
    fn into_response(self) -> Response {
        match self.0.kind() {
            std::io::ErrorKind::NotFound => text(StatusCode::NOT_FOUND, "file not found"),
            std::io::ErrorKind::PermissionDenied => text(StatusCode::FORBIDDEN, "forbidden"),
            _ => text(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file"),
        }
    }
}

/// A piece of the response body: literal bytes (multipart headers) or a
/// range of the file.
enum Segment {
    Literal(Bytes),
    File(Range<u64>),
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Segment::Literal(b) => b.len() as u64,
            Segment::File(r) => r.end - r.start,
        }
    }
}

enum State {
    Idle(Option<(std::fs::File, Vec<Segment>)>),
    Reading(mpsc::Receiver<std::io::Result<Bytes>>),
}

struct FileBody {
    state: State,
    remaining: u64,
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        loop {
            match &mut self.state {
                State::Idle(plan) => {
                    let Some((file, segments)) = plan.take() else {
                        return Poll::Ready(None);
                    };
                    let (tx, rx) = mpsc::channel(2);
                    // The reader ends when the plan is done, fails, or the
                    // receiver (this body) is dropped.
                    drop(wego_netpoll::rt::spawn_blocking(move || {
                        read_segments(file, segments, &tx)
                    }));
                    self.state = State::Reading(rx);
                }
                State::Reading(rx) => {
                    return match rx.poll_recv(cx) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(None) => Poll::Ready(None),
                        Poll::Ready(Some(Ok(chunk))) => {
                            self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
                            Poll::Ready(Some(Ok(Frame::data(chunk))))
                        }
                        Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    };
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Sends the segments in order. A file that got shorter since it was opened
/// ends the body with an error, so the connection closes rather than sending
/// fewer bytes than `Content-Length` promised.
fn read_segments(
    mut file: std::fs::File,
    segments: Vec<Segment>,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) {
    for segment in segments {
        let sent = match segment {
            Segment::Literal(bytes) => tx.blocking_send(Ok(bytes)).is_ok(),
            Segment::File(range) => read_range(&mut file, range, tx),
        };
        if !sent {
            return;
        }
    }
}

/// Sends `range` of the file; false when the body is gone or an error was
/// sent.
fn read_range(
    file: &mut std::fs::File,
    range: Range<u64>,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) -> bool {
    if let Err(e) = file.seek(SeekFrom::Start(range.start)) {
        let _ = tx.blocking_send(Err(e));
        return false;
    }
    let mut left = range.end - range.start;
    while left > 0 {
        let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
        let mut buf = vec![0u8; want];
        match file.read(&mut buf) {
            Ok(0) => {
                let e = std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file got shorter while it was sent",
                );
                let _ = tx.blocking_send(Err(e));
                return false;
            }
            Ok(n) => {
                buf.truncate(n);
                left -= n as u64;
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return false;
            }
        }
    }
    true
}

/// Guesses a `Content-Type` from a file extension (a small table of common
/// web types; `application/octet-stream` otherwise).
pub(crate) fn guess_content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}
