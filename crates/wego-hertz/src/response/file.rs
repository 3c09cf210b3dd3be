//! File responses, read off the executor threads.
//!
//! Opening and reading use blocking `std::fs` calls on the runtime's blocking
//! pool (`wego_netpoll::rt::spawn_blocking`), so every network backend can
//! serve files. The body streams 64 KiB chunks through a bounded channel;
//! dropping the response stops the reader.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

use super::{IntoResponse, Response, text};
use crate::Body;

const CHUNK: usize = 64 * 1024;

/// A file to send as the response body, with `Content-Type` guessed from its
/// extension and `Content-Length` from its metadata.
///
/// ```no_run
/// # use wego_hertz::response::{File, IntoResponse, Response};
/// async fn logo() -> Response {
///     match File::open("static/logo.png").await {
///         Ok(file) => file.into_response(),
///         Err(e) => e.into_response(), // 404, 403 or 500
///     }
/// }
/// ```
pub struct File {
    file: std::fs::File,
    len: u64,
    content_type: &'static str,
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("len", &self.len)
            .field("content_type", &self.content_type)
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
        Ok(Self {
            file,
            len: meta.len(),
            content_type,
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

    /// Overrides the guessed `Content-Type`.
    pub fn with_content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }
}

impl IntoResponse for File {
    fn into_response(self) -> Response {
        let Ok(ct) = HeaderValue::from_str(self.content_type) else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "invalid content type");
        };
        let len = self.len;
        let mut res = Response::new(Body::new(FileBody {
            state: State::Idle(Some(self.file)),
            remaining: len,
        }));
        res.headers_mut().insert(header::CONTENT_TYPE, ct);
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        res
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

enum State {
    Idle(Option<std::fs::File>),
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
                State::Idle(file) => {
                    let Some(file) = file.take() else {
                        return Poll::Ready(None);
                    };
                    let (tx, rx) = mpsc::channel(2);
                    // The reader ends when the file ends, fails, or the
                    // receiver (this body) is dropped.
                    drop(wego_netpoll::rt::spawn_blocking(move || {
                        read_file(file, &tx)
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

fn read_file(mut file: std::fs::File, tx: &mpsc::Sender<std::io::Result<Bytes>>) {
    loop {
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
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
