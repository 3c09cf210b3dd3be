//! Watching a server connection's HTTP/2 handshake from the read side.
//!
//! h2's `handshake()` resolves once it has read the client's 24-byte
//! preface; the SETTINGS frame that must follow it (RFC 9113 §3.4) is
//! read later, by the connection, and h2 does not say when. The
//! [`Watched`] IO sits under h2 and counts what it reads: the handshake is
//! done once the preface and a whole SETTINGS frame after it have arrived,
//! which the connection loop asks with [`Progress::is_done`] to disarm its
//! handshake timer. Any other first frame leaves the handshake undone, so
//! the timer closes the connection (h2 itself does not check that the
//! first frame is SETTINGS).
//!
//! Only a counter and the 9-byte header of the first frame are kept; once
//! the handshake is done, a read costs one flag check.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use wego_netpoll::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Length of the client connection preface (RFC 9113 §3.4).
const PREFACE_LEN: usize = 24;
/// Length of a frame header (RFC 9113 §4.1).
const FRAME_HEADER_LEN: usize = 9;
/// The SETTINGS frame type (RFC 9113 §6.5).
const SETTINGS: u8 = 0x4;

/// Whether the handshake a [`Watched`] IO saw is complete; shared with
/// the connection loop.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    done: AtomicBool,
}

impl Progress {
    /// Whether the preface and the client's first SETTINGS frame arrived.
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

/// The bytes of the handshake seen so far: a sans-IO counter fed what
/// each read brings.
#[derive(Debug, Default)]
struct Tracker {
    /// Bytes read so far (until done).
    seen: usize,
    /// The header of the first frame after the preface.
    header: [u8; FRAME_HEADER_LEN],
}

impl Tracker {
    /// Feeds the bytes of one read; true once the preface and a whole
    /// SETTINGS frame have been seen.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        let start = self.seen;
        self.seen = self.seen.saturating_add(bytes.len());
        // Copy the part of the first frame's header this read carries.
        let header_at = PREFACE_LEN;
        let header_end = PREFACE_LEN + FRAME_HEADER_LEN;
        if start < header_end && self.seen > header_at {
            let from = start.max(header_at);
            let to = self.seen.min(header_end);
            self.header[from - header_at..to - header_at]
                .copy_from_slice(&bytes[from - start..to - start]);
        }
        if self.seen < header_end || self.header[3] != SETTINGS {
            return false;
        }
        let len = usize::from(self.header[0]) << 16
            | usize::from(self.header[1]) << 8
            | usize::from(self.header[2]);
        self.seen >= header_end + len
    }
}

/// An IO that reports when the HTTP/2 handshake has been read through it.
pub(crate) struct Watched<IO> {
    io: IO,
    /// `None` once the handshake is done.
    tracker: Option<Tracker>,
    progress: Arc<Progress>,
}

/// Wraps `io`, returning it and the handshake's progress.
pub(crate) fn watch<IO>(io: IO) -> (Watched<IO>, Arc<Progress>) {
    let progress = Arc::new(Progress::default());
    let watched = Watched {
        io,
        tracker: Some(Tracker::default()),
        progress: progress.clone(),
    };
    (watched, progress)
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if let Some(t) = this.tracker.as_mut()
            && t.feed(&buf.filled()[before..])
        {
            this.tracker = None;
            this.progress.done.store(true, Ordering::Release);
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    /// The preface and a SETTINGS frame with one setting (6 bytes).
    fn handshake() -> Vec<u8> {
        let mut v = PREFACE.to_vec();
        v.extend_from_slice(&[0, 0, 6, SETTINGS, 0, 0, 0, 0, 0]);
        v.extend_from_slice(&[0, 3, 0, 0, 0, 100]);
        v
    }

    #[test]
    fn done_after_the_settings_frame_whole_at_once() {
        let mut t = Tracker::default();
        let bytes = handshake();
        assert!(!t.feed(&bytes[..bytes.len() - 1]));
        assert!(t.feed(&bytes[bytes.len() - 1..]));
    }

    #[test]
    fn done_after_the_settings_frame_byte_by_byte() {
        let bytes = handshake();
        let mut t = Tracker::default();
        for (i, b) in bytes.iter().enumerate() {
            let done = t.feed(std::slice::from_ref(b));
            assert_eq!(done, i == bytes.len() - 1, "byte {i}");
        }
    }

    #[test]
    fn done_when_one_read_brings_more_than_the_handshake() {
        let mut bytes = handshake();
        bytes.extend_from_slice(&[0, 0, 0, SETTINGS, 1, 0, 0, 0, 0]);
        assert!(Tracker::default().feed(&bytes));
    }

    #[test]
    fn another_first_frame_never_completes_it() {
        let mut bytes = PREFACE.to_vec();
        // A PING where SETTINGS must be.
        bytes.extend_from_slice(&[0, 0, 8, 0x6, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[0; 8]);
        let mut t = Tracker::default();
        assert!(!t.feed(&bytes));
        assert!(!t.feed(&[0; 64]));
    }

    #[test]
    fn an_empty_settings_frame_completes_it() {
        let mut bytes = PREFACE.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
        let mut t = Tracker::default();
        assert!(!t.feed(&bytes[..30]));
        assert!(t.feed(&bytes[30..]));
    }
}
