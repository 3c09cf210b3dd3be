//! The byte stream under tungstenite: the upgraded connection as it is,
//! or with permessage-deflate applied to the frames both ways.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::frames::{Inbound, Outbound};
use super::negotiate::Agreed;
use super::{DeflateError, PerMessageDeflate};
use crate::upgrade::Upgraded;

/// Bytes asked of the connection per read.
const READ_SIZE: usize = 16 * 1024;

/// The connection tungstenite reads and writes.
pub(crate) struct Transport {
    io: Upgraded,
    deflate: Option<Box<Deflate>>,
}

/// The buffers and codec state of a compressed connection.
struct Deflate {
    inbound: Inbound,
    outbound: Outbound,
    /// Bytes read from the connection, not yet a whole frame.
    wire_in: BytesMut,
    /// Plain frames for tungstenite to read.
    plain_in: BytesMut,
    /// Bytes tungstenite wrote, not yet a whole frame.
    plain_out: BytesMut,
    /// Frames to write to the connection.
    wire_out: BytesMut,
    /// The connection reached its end.
    eof: bool,
}

impl Transport {
    /// The connection as it is.
    pub(crate) fn plain(io: Upgraded) -> Self {
        Self { io, deflate: None }
    }

    /// The connection with permessage-deflate, as `agreed`.
    pub(crate) fn deflate(
        io: Upgraded,
        server: bool,
        config: &PerMessageDeflate,
        agreed: Agreed,
        max_frame: usize,
        max_message: usize,
    ) -> Self {
        Self {
            io,
            deflate: Some(Box::new(Deflate {
                inbound: Inbound::new(server, max_frame, max_message),
                outbound: Outbound::new(config.level, agreed.reset_compressor),
                wire_in: BytesMut::new(),
                plain_in: BytesMut::new(),
                plain_out: BytesMut::new(),
                wire_out: BytesMut::new(),
                eof: false,
            })),
        }
    }

    /// Whether messages are compressed.
    pub(crate) fn is_deflate(&self) -> bool {
        self.deflate.is_some()
    }
}

/// A codec failure as the IO error tungstenite passes up; the socket
/// finds the [`DeflateError`] inside to pick the close code.
fn to_io(e: DeflateError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Writes `wire_out` to `io` until it holds at most `keep` bytes.
fn poll_drain(
    io: &mut Upgraded,
    wire_out: &mut BytesMut,
    keep: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while wire_out.len() > keep {
        let n = ready!(Pin::new(&mut *io).poll_write(cx, wire_out))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        wire_out.advance(n);
    }
    Poll::Ready(Ok(()))
}

impl AsyncRead for Transport {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some(d) = this.deflate.as_deref_mut() else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        loop {
            if !d.plain_in.is_empty() {
                let n = d.plain_in.len().min(buf.remaining());
                buf.put_slice(&d.plain_in.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if d.eof {
                return Poll::Ready(Ok(()));
            }
            // Reads into the buffer's spare capacity: nothing is zeroed
            // or copied on the way in.
            d.wire_in.reserve(READ_SIZE);
            let n = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut this.io),
                cx,
                &mut d.wire_in
            ))?;
            if n == 0 {
                // The end: a partial frame goes to tungstenite as it is,
                // which reports the connection reset mid-frame.
                d.eof = true;
                let rest = d.wire_in.split();
                d.plain_in.extend_from_slice(&rest);
                continue;
            }
            d.inbound
                .decode(&mut d.wire_in, &mut d.plain_in)
                .map_err(to_io)?;
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let Some(d) = this.deflate.as_deref_mut() else {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        };
        // What was accepted before goes out first: a write waits for the
        // connection, as it would without compression.
        ready!(poll_drain(&mut this.io, &mut d.wire_out, 0, cx))?;
        d.plain_out.extend_from_slice(buf);
        d.outbound
            .encode(&mut d.plain_out, &mut d.wire_out)
            .map_err(to_io)?;
        // Hand the frames to the connection now where it takes them:
        // tungstenite's server writes its close reply and drops the
        // connection without a flush.
        if let Poll::Ready(Err(e)) = poll_drain(&mut this.io, &mut d.wire_out, 0, cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(d) = this.deflate.as_deref_mut() {
            ready!(poll_drain(&mut this.io, &mut d.wire_out, 0, cx))?;
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(d) = this.deflate.as_deref_mut() {
            ready!(poll_drain(&mut this.io, &mut d.wire_out, 0, cx))?;
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
