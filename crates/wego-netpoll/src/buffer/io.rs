//! Moving bytes between a [`LinkBuffer`] and a connection.

use std::io::{self, IoSlice};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::LinkBuffer;

/// How many blocks one vectored write hands to the kernel at most.
const MAX_IOVECS: usize = 64;

impl LinkBuffer {
    /// Reads once from `reader` into a fresh block and makes the bytes
    /// readable. Returns the number of bytes read; 0 means end of stream.
    ///
    /// # Errors
    ///
    /// The reader's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped, no bytes were consumed.
    pub async fn read_from<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        reader: &mut R,
    ) -> io::Result<usize> {
        let mut block = BytesMut::with_capacity(self.block_size);
        let n = reader.read_buf(&mut block).await?;
        self.push_readable(block.freeze());
        Ok(n)
    }

    /// Writes every readable byte to `writer` with vectored writes, consuming
    /// them, then flushes the writer. Returns the number of bytes written.
    ///
    /// Call [`flush`](Self::flush) first to include what was just written.
    ///
    /// # Errors
    ///
    /// The writer's error; bytes written before it are consumed, the rest
    /// stay readable.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in the sense that a dropped future may have written a
    /// prefix; the written prefix is consumed, so the buffer stays consistent.
    pub async fn write_to<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        writer: &mut W,
    ) -> io::Result<usize> {
        let mut total = 0;
        while !self.is_empty() {
            let n = {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut count = 0;
                for (slot, chunk) in slices.iter_mut().zip(self.chunks()) {
                    *slot = IoSlice::new(chunk);
                    count += 1;
                }
                writer.write_vectored(&slices[..count]).await?
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "writer accepted no bytes",
                ));
            }
            self.skip(n)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            total += n;
        }
        self.release();
        writer.flush().await?;
        Ok(total)
    }
}
