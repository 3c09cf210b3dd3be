//! [`LinkBuffer`]: a chain of [`Bytes`] blocks that codecs read without copying.
//!
//! The design follows CloudWeGo Netpoll's LinkBuffer. A buffer has two ends:
//!
//! ```text
//!   reader side (flushed, readable)            writer side (not yet readable)
//!  ┌────────┬──────────┬───────┐        ┌──────────────┬────────────────────┐
//!  │ block0 │  block1  │ ...   │ <───── │ pending Bytes │ tail: BytesMut     │
//!  └────────┴──────────┴───────┘ flush  └──────────────┴────────────────────┘
//!   ^ off: first unread byte of block0
//! ```
//!
//! - **Reader**: [`peek`](LinkBuffer::peek), [`next`](LinkBuffer::next),
//!   [`skip`](LinkBuffer::skip), [`slice`](LinkBuffer::slice) (a `Bytes` that
//!   shares memory with the buffer), big-endian integer reads, and
//!   [`release`](LinkBuffer::release) to drop consumed blocks. `peek` and
//!   `next` return a contiguous slice: when the bytes asked for span blocks,
//!   those blocks are merged once (one copy of `n` bytes), and later reads of
//!   the same bytes are free. `slice` shares memory whenever the bytes lie in
//!   one block, which is the common case because reads fill whole blocks.
//! - **Writer**: [`malloc`](LinkBuffer::malloc) reserves bytes to fill in
//!   place, [`write_slice`](LinkBuffer::write_slice) copies,
//!   [`append`](LinkBuffer::append) links a `Bytes` without copying, and
//!   [`flush`](LinkBuffer::flush) makes everything written readable.
//! - **I/O**: [`read_from`](LinkBuffer::read_from) reads from any
//!   `AsyncRead` into a fresh block; [`write_to`](LinkBuffer::write_to) drains
//!   the readable bytes into any `AsyncWrite` with vectored writes.
//!
//! Invariants: `len` equals the readable bytes after `off` across `blocks`;
//! no readable block is empty except possibly a fully consumed `blocks[0]`
//! (kept so that a slice returned by `next` stays valid while borrowed).

mod io;
pub mod pool;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// Default size of a block allocated by [`LinkBuffer::read_from`] and
/// [`LinkBuffer::malloc`].
pub const DEFAULT_BLOCK_SIZE: usize = 8 * 1024;

/// Not enough readable bytes for a read: the codec should wait for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("need {needed} bytes but only {available} are buffered")]
#[non_exhaustive]
pub struct Incomplete {
    /// Bytes the read asked for.
    pub needed: usize,
    /// Bytes readable now.
    pub available: usize,
}

/// A chain of [`Bytes`] blocks with a no-copy reader and a reserve-and-fill
/// writer; see the [module docs](self).
#[derive(Debug, Default)]
pub struct LinkBuffer {
    blocks: VecDeque<Bytes>,
    off: usize,
    len: usize,
    pending: Vec<Bytes>,
    tail: BytesMut,
    /// Arena that merged (contiguous) copies are carved from, so that a run
    /// of small frames spanning blocks costs one allocation per block.
    merge: BytesMut,
    block_size: usize,
}

impl LinkBuffer {
    /// An empty buffer with [`DEFAULT_BLOCK_SIZE`] blocks.
    pub fn new() -> Self {
        Self::with_block_size(DEFAULT_BLOCK_SIZE)
    }

    /// An empty buffer whose fresh blocks hold `block_size` bytes (at least 64).
    pub fn with_block_size(block_size: usize) -> Self {
        Self {
            block_size: block_size.max(64),
            ..Self::default()
        }
    }

    /// Readable bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns true if nothing is readable.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes written but not yet [flushed](Self::flush).
    pub fn unflushed_len(&self) -> usize {
        self.pending.iter().map(Bytes::len).sum::<usize>() + self.tail.len()
    }

    /// Number of readable blocks (for tests and diagnostics).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Unread bytes in the front block.
    #[inline]
    fn front_avail(&self) -> usize {
        self.blocks.front().map_or(0, |b| b.len() - self.off)
    }

    #[inline]
    fn check(&self, n: usize) -> Result<(), Incomplete> {
        if n > self.len {
            Err(Incomplete {
                needed: n,
                available: self.len,
            })
        } else {
            Ok(())
        }
    }

    /// Drops a fully consumed front block so that `blocks[0]` holds unread
    /// bytes whenever `len > 0`.
    #[inline]
    fn settle_front(&mut self) {
        while let Some(front) = self.blocks.front() {
            if self.off < front.len() {
                break;
            }
            self.blocks.pop_front();
            self.off = 0;
        }
    }

    /// Makes the first `n` readable bytes contiguous in `blocks[0]`, copying
    /// only when they span blocks. Caller has checked `n <= len`.
    fn make_contiguous(&mut self, n: usize) {
        if self.front_avail() >= n {
            return;
        }
        let merged = self.take_merged(n);
        self.blocks.push_front(merged);
    }

    /// Removes the first `n` readable bytes from the chain as one contiguous
    /// copy carved from the merge arena, without touching `len`. Caller has
    /// checked `n <= len`.
    fn take_merged(&mut self, n: usize) -> Bytes {
        if self.merge.capacity() < n {
            self.merge = BytesMut::with_capacity(n.max(self.block_size));
        }
        let mut need = n;
        while need > 0 {
            let Some(front) = self.blocks.front_mut() else {
                break;
            };
            let start = std::mem::take(&mut self.off);
            let avail = front.len() - start;
            if avail <= need {
                self.merge.extend_from_slice(&front[start..]);
                need -= avail;
                self.blocks.pop_front();
            } else {
                self.merge.extend_from_slice(&front[start..start + need]);
                // Moving the view forward shares the block; no copy, no refcount.
                front.advance(start + need);
                need = 0;
            }
        }
        self.merge.split().freeze()
    }

    /// Returns the next `n` readable bytes without consuming them.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than `n` bytes are readable.
    #[inline]
    pub fn peek(&mut self, n: usize) -> Result<&[u8], Incomplete> {
        self.check(n)?;
        if n == 0 {
            return Ok(&[]);
        }
        self.make_contiguous(n);
        let off = self.off;
        Ok(&self.blocks[0][off..off + n])
    }

    /// Consumes and returns the next `n` readable bytes.
    ///
    /// The slice stays valid while borrowed; the memory is reclaimed by a
    /// later read or [`release`](Self::release).
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than `n` bytes are readable.
    #[inline]
    pub fn next(&mut self, n: usize) -> Result<&[u8], Incomplete> {
        self.check(n)?;
        if n == 0 {
            return Ok(&[]);
        }
        self.make_contiguous(n);
        let off = self.off;
        self.off += n;
        self.len -= n;
        Ok(&self.blocks[0][off..off + n])
    }

    /// Consumes `n` readable bytes without looking at them.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than `n` bytes are readable; nothing is consumed.
    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<(), Incomplete> {
        self.check(n)?;
        if self.front_avail() >= n {
            self.off += n;
            self.len -= n;
            self.settle_front();
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            self.settle_front();
            let Some(front) = self.blocks.front() else {
                break;
            };
            let step = (front.len() - self.off).min(left);
            self.off += step;
            left -= step;
        }
        self.len -= n;
        Ok(())
    }

    /// Consumes the next `n` readable bytes and returns them as [`Bytes`]
    /// sharing the buffer's memory (copied once if they span blocks).
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than `n` bytes are readable.
    #[inline]
    pub fn slice(&mut self, n: usize) -> Result<Bytes, Incomplete> {
        self.check(n)?;
        if n == 0 {
            return Ok(Bytes::new());
        }
        self.len -= n;
        if self.front_avail() < n {
            // Spanning blocks: the merged copy is the result itself.
            return Ok(self.take_merged(n));
        }
        let off = self.off;
        let out = self.blocks[0].slice(off..off + n);
        self.off += n;
        self.settle_front();
        Ok(out)
    }

    /// Copies the next `N` readable bytes into an array without consuming
    /// them or merging blocks.
    fn peek_array<const N: usize>(&mut self) -> Result<[u8; N], Incomplete> {
        self.check(N)?;
        if self.front_avail() >= N {
            let mut out = [0u8; N];
            out.copy_from_slice(&self.blocks[0][self.off..self.off + N]);
            return Ok(out);
        }
        self.settle_front();
        let mut out = [0u8; N];
        let mut filled = 0;
        let mut start = self.off;
        for block in &self.blocks {
            let take = (block.len() - start).min(N - filled);
            out[filled..filled + take].copy_from_slice(&block[start..start + take]);
            filled += take;
            start = 0;
            if filled == N {
                break;
            }
        }
        Ok(out)
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], Incomplete> {
        let out = self.peek_array::<N>()?;
        self.skip(N)?;
        Ok(out)
    }

    /// Reads a `u8`.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if no byte is readable.
    #[inline]
    pub fn read_u8(&mut self) -> Result<u8, Incomplete> {
        self.read_array::<1>().map(|b| b[0])
    }

    /// Reads a big-endian `u16`.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than 2 bytes are readable.
    #[inline]
    pub fn read_u16(&mut self) -> Result<u16, Incomplete> {
        self.read_array().map(u16::from_be_bytes)
    }

    /// Reads a big-endian `u32`.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than 4 bytes are readable.
    #[inline]
    pub fn read_u32(&mut self) -> Result<u32, Incomplete> {
        self.read_array().map(u32::from_be_bytes)
    }

    /// Reads a big-endian `u64`.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than 8 bytes are readable.
    #[inline]
    pub fn read_u64(&mut self) -> Result<u64, Incomplete> {
        self.read_array().map(u64::from_be_bytes)
    }

    /// Reads a big-endian `i16`.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than 2 bytes are readable.
    #[inline]
    pub fn read_i16(&mut self) -> Result<i16, Incomplete> {
        self.read_array().map(i16::from_be_bytes)
    }

    /// Reads a big-endian `i32`.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than 4 bytes are readable.
    #[inline]
    pub fn read_i32(&mut self) -> Result<i32, Incomplete> {
        self.read_array().map(i32::from_be_bytes)
    }

    /// Reads a big-endian `i64`.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than 8 bytes are readable.
    #[inline]
    pub fn read_i64(&mut self) -> Result<i64, Incomplete> {
        self.read_array().map(i64::from_be_bytes)
    }

    /// Peeks a big-endian `u16` without consuming it.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than 2 bytes are readable.
    #[inline]
    pub fn peek_u16(&mut self) -> Result<u16, Incomplete> {
        self.peek_array().map(u16::from_be_bytes)
    }

    /// Peeks a big-endian `u32` without consuming it (e.g. a frame length).
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if fewer than 4 bytes are readable.
    #[inline]
    pub fn peek_u32(&mut self) -> Result<u32, Incomplete> {
        self.peek_array().map(u32::from_be_bytes)
    }

    /// Drops consumed blocks, returning their memory (shared blocks are
    /// freed once the last `Bytes` pointing into them drops).
    pub fn release(&mut self) {
        self.settle_front();
        if self.off > 0
            && let Some(front) = self.blocks.front_mut()
        {
            let _ = front.split_to(self.off);
            self.off = 0;
        }
    }

    /// Iterates over the readable bytes block by block, without consuming.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let off = self.off;
        self.blocks
            .iter()
            .enumerate()
            .map(move |(i, b)| {
                if i == 0 {
                    &b[off.min(b.len())..]
                } else {
                    &b[..]
                }
            })
            .filter(|c| !c.is_empty())
    }

    /// Reserves `n` zeroed bytes at the end of the writer side and returns
    /// them to fill in place; they become readable at the next
    /// [`flush`](Self::flush).
    pub fn malloc(&mut self, n: usize) -> &mut [u8] {
        if self.tail.capacity() - self.tail.len() < n {
            self.seal_tail();
            self.tail.reserve(n.max(self.block_size));
        }
        let start = self.tail.len();
        self.tail.resize(start + n, 0);
        &mut self.tail[start..]
    }

    /// Copies `data` to the end of the writer side.
    pub fn write_slice(&mut self, data: &[u8]) {
        self.malloc(data.len()).copy_from_slice(data);
    }

    /// Links `data` to the end of the writer side without copying.
    pub fn append(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.seal_tail();
        self.pending.push(data);
    }

    /// Moves the written tail into the pending list, keeping the tail's
    /// spare capacity for the next writes.
    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.pending.push(self.tail.split().freeze());
        }
    }

    /// Makes everything written so far readable.
    pub fn flush(&mut self) {
        self.seal_tail();
        for block in self.pending.drain(..) {
            self.len += block.len();
            self.blocks.push_back(block);
        }
    }

    /// Appends an already-readable block (used by [`read_from`](Self::read_from)).
    fn push_readable(&mut self, block: Bytes) {
        if !block.is_empty() {
            self.len += block.len();
            self.blocks.push_back(block);
        }
    }
}
