//! The IO h2 reads from once HTTP/2 is chosen: the bytes the HTTP/1.1
//! driver already read come first, then the connection.
//!
//! For `Upgrade: h2c` it also places the upgrading request, encoded as the
//! HEADERS of stream 1 (see `upgrade.rs`), right after the client's first
//! frame: RFC 9113 §3.4 makes that frame SETTINGS, so h2 has the client's
//! settings before it sees the request, as if the client had sent it on
//! stream 1 itself.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::PREFACE;

/// Length of a frame header (RFC 9113 §4.1).
const FRAME_HEADER_LEN: usize = 9;
/// The largest first frame waited for before the stream-1 HEADERS are
/// placed: the protocol's default `SETTINGS_MAX_FRAME_SIZE`, which the
/// client cannot know is larger before it reads the server's SETTINGS.
const MAX_FIRST_FRAME: usize = 16 * 1024;

/// An IO that replays bytes read before it, then reads its inner IO.
pub(crate) struct Rewind<IO> {
    io: IO,
    /// Bytes not yet given to the reader.
    pre: Bytes,
    /// For an upgrade: frames to place after the client's first frame,
    /// and the bytes gathered until that frame is whole.
    inject: Option<(Bytes, BytesMut)>,
}

impl<IO> Rewind<IO> {
    /// Replays `pre`, then reads `io`.
    pub(crate) fn new(io: IO, pre: Bytes) -> Self {
        Self {
            io,
            pre,
            inject: None,
        }
    }

    /// Replays `pre` and what follows on `io` up to the end of the first
    /// frame after the connection preface, then `frames`, then the rest.
    pub(crate) fn upgraded(io: IO, pre: Bytes, frames: Bytes) -> Self {
        Self {
            io,
            pre: Bytes::new(),
            inject: Some((frames, BytesMut::from(&pre[..]))),
        }
    }
}

/// Where the client's first frame ends in `buf`: `Some(end)` once it is
/// whole, `Some(0)` when `buf` cannot hold the frame to place after (not
/// the preface, or a first frame too large: h2 rejects those itself),
/// `None` when more bytes are needed.
fn first_frame_end(buf: &[u8]) -> Option<usize> {
    let n = buf.len().min(PREFACE.len());
    if buf[..n] != PREFACE[..n] {
        return Some(0);
    }
    let header_end = PREFACE.len() + FRAME_HEADER_LEN;
    if buf.len() < header_end {
        return None;
    }
    let h = &buf[PREFACE.len()..header_end];
    let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
    if len > MAX_FIRST_FRAME {
        return Some(0);
    }
    (buf.len() >= header_end + len).then_some(header_end + len)
}

impl<IO: AsyncRead + Unpin> Rewind<IO> {
    /// Gathers the client's first frame and places the upgrade's frames
    /// after it in `pre`.
    fn poll_inject(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((frames, buf)) = self.inject.as_mut() {
            match first_frame_end(buf) {
                Some(end) => {
                    let mut all = BytesMut::with_capacity(buf.len() + frames.len());
                    if end == 0 {
                        all.extend_from_slice(buf);
                    } else {
                        all.extend_from_slice(&buf[..end]);
                        all.extend_from_slice(frames);
                        all.extend_from_slice(&buf[end..]);
                    }
                    self.pre = all.freeze();
                    self.inject = None;
                }
                None => {
                    let mut chunk = [0u8; 4096];
                    let mut rb = ReadBuf::new(&mut chunk);
                    ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb))?;
                    if rb.filled().is_empty() {
                        // EOF before the first frame: h2 sees what came.
                        self.pre = std::mem::take(buf).freeze();
                        self.inject = None;
                    } else {
                        buf.extend_from_slice(rb.filled());
                    }
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Rewind<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_inject(cx))?;
        if !this.pre.is_empty() {
            let n = this.pre.len().min(buf.remaining());
            buf.put_slice(&this.pre[..n]);
            this.pre.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Rewind<IO> {
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
    use tokio::io::AsyncReadExt;

    fn settings(payload: &[u8]) -> Vec<u8> {
        let mut v = PREFACE.to_vec();
        let len = payload.len();
        v.extend_from_slice(&[0, (len >> 8) as u8, len as u8, 0x4, 0, 0, 0, 0, 0]);
        v.extend_from_slice(payload);
        v
    }

    async fn read_all(mut r: Rewind<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        out
    }

    #[test]
    fn replays_then_reads() {
        let r = Rewind::new(&b" world"[..], Bytes::from_static(b"hello"));
        let out = wego_netpoll::rt::block_on(read_all(r)).unwrap();
        assert_eq!(out, b"hello world");
    }

    #[test]
    fn places_frames_after_the_first_frame_split_anywhere() {
        let mut wire = settings(&[0, 3, 0, 0, 0, 100]);
        let first = wire.len();
        wire.extend_from_slice(b"rest");
        for split in 0..wire.len() {
            let (pre, io) = wire.split_at(split);
            let r = Rewind::upgraded(io, Bytes::copy_from_slice(pre), Bytes::from_static(b"HDRS"));
            let out = wego_netpoll::rt::block_on(read_all(r)).unwrap();
            let mut want = wire[..first].to_vec();
            want.extend_from_slice(b"HDRS");
            want.extend_from_slice(b"rest");
            assert_eq!(out, want, "split at {split}");
        }
    }

    #[test]
    fn leaves_a_wrong_start_alone() {
        let wire = b"GET / HTTP/1.1\r\n\r\n".to_vec();
        let r = Rewind::upgraded(&wire[..], Bytes::new(), Bytes::from_static(b"HDRS"));
        let out = wego_netpoll::rt::block_on(read_all(r)).unwrap();
        assert_eq!(out, wire);
    }
}
