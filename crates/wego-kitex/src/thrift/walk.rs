//! A structural walker over Thrift binary and compact values.
//!
//! It answers "how many bytes does this value take?" without building it:
//! the safe input protocols use it to skip unknown fields, and the
//! resumable message scan (`scan.rs`) that finds where an unframed message
//! ends is built on its cursor and headers. It checks every length against the bytes
//! present and against a limit, and bounds nesting depth, so hostile input
//! yields an error, never a panic or a large allocation.

use super::Protocol;

/// Deepest nesting the walker follows (as Apache Thrift's default).
pub(crate) const MAX_DEPTH: u32 = 64;

/// Why a walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The value continues past the bytes given.
    NeedMore,
    /// The value would end past the limit.
    TooLarge,
    /// The bytes are not a valid value.
    Invalid(&'static str),
}

pub(crate) type Walk<T> = Result<T, Stop>;

/// A read position over a byte slice with a hard limit.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    limit: usize,
    /// The buffer length the last [`Stop::NeedMore`] wanted.
    wanted: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], limit: usize) -> Self {
        Self::at(buf, 0, limit)
    }

    /// A cursor at `pos` (at most `buf.len()`).
    pub(crate) fn at(buf: &'a [u8], pos: usize, limit: usize) -> Self {
        Self {
            buf,
            pos,
            limit,
            wanted: 0,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves the read position back to `pos`, an earlier one.
    pub(crate) fn rewind(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// How long the buffer must be before the read that last stopped with
    /// [`Stop::NeedMore`] can succeed.
    pub(crate) fn wanted(&self) -> usize {
        self.wanted
    }

    /// Bytes left after the read position.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Claims `n` bytes and returns them.
    pub(crate) fn take(&mut self, n: usize) -> Walk<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Stop::TooLarge)?;
        if end > self.limit {
            return Err(Stop::TooLarge);
        }
        let Some(s) = self.buf.get(self.pos..end) else {
            self.wanted = end;
            return Err(Stop::NeedMore);
        };
        self.pos = end;
        Ok(s)
    }

    /// Checks that `n` more bytes (each element's minimum) could still fit.
    pub(crate) fn reserve(&self, n: usize) -> Walk<()> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.limit => Ok(()),
            _ => Err(Stop::TooLarge),
        }
    }

    pub(crate) fn u8(&mut self) -> Walk<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn i32_be(&mut self) -> Walk<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i16_be(&mut self) -> Walk<i16> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads an unsigned LEB128 varint of at most `max_bytes` bytes.
    pub(crate) fn varint(&mut self, max_bytes: usize) -> Walk<u64> {
        let mut v: u64 = 0;
        for i in 0..max_bytes {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Stop::Invalid("varint too long"))
    }

    /// Reads a length (binary: i32, compact: varint) and claims that many bytes.
    pub(crate) fn binary(&mut self, proto: Protocol) -> Walk<&'a [u8]> {
        let len = match proto {
            Protocol::Binary | Protocol::BinaryBase64 => {
                let n = self.i32_be()?;
                usize::try_from(n).map_err(|_| Stop::Invalid("negative length"))?
            }
            Protocol::Compact => {
                usize::try_from(self.varint(5)?).map_err(|_| Stop::Invalid("length overflows"))?
            }
        };
        self.take(len)
    }
}

/// Thrift type codes of the binary protocol (TType).
pub(crate) mod ttype {
    pub(crate) const STOP: u8 = 0;
    pub(crate) const BOOL: u8 = 2;
    pub(crate) const I8: u8 = 3;
    pub(crate) const DOUBLE: u8 = 4;
    pub(crate) const I16: u8 = 6;
    pub(crate) const I32: u8 = 8;
    pub(crate) const I64: u8 = 10;
    pub(crate) const STRING: u8 = 11;
    pub(crate) const STRUCT: u8 = 12;
    pub(crate) const MAP: u8 = 13;
    pub(crate) const SET: u8 = 14;
    pub(crate) const LIST: u8 = 15;
    pub(crate) const UUID: u8 = 16;
}

/// Maps a compact type nibble to the binary TType code (spec: thrift-compact-protocol.md).
pub(crate) fn compact_to_ttype(t: u8) -> Walk<u8> {
    Ok(match t {
        0 => ttype::STOP,
        1 | 2 => ttype::BOOL,
        3 => ttype::I8,
        4 => ttype::I16,
        5 => ttype::I32,
        6 => ttype::I64,
        7 => ttype::DOUBLE,
        8 => ttype::STRING,
        9 => ttype::LIST,
        10 => ttype::SET,
        11 => ttype::MAP,
        12 => ttype::STRUCT,
        13 => ttype::UUID,
        _ => return Err(Stop::Invalid("unknown compact type")),
    })
}

/// Skips one value of binary type code `ty` in protocol `proto`.
pub(crate) fn skip(cur: &mut Cursor<'_>, proto: Protocol, ty: u8, depth: u32) -> Walk<()> {
    if depth == 0 {
        return Err(Stop::Invalid("nesting too deep"));
    }
    match (proto, ty) {
        (_, ttype::BOOL | ttype::I8) => cur.take(1).map(drop),
        (_, ttype::DOUBLE) => cur.take(8).map(drop),
        (_, ttype::UUID) => cur.take(16).map(drop),
        (Protocol::Compact, ttype::I16) => cur.varint(3).map(drop),
        (Protocol::Compact, ttype::I32) => cur.varint(5).map(drop),
        (Protocol::Compact, ttype::I64) => cur.varint(10).map(drop),
        (_, ttype::I16) => cur.take(2).map(drop),
        (_, ttype::I32) => cur.take(4).map(drop),
        (_, ttype::I64) => cur.take(8).map(drop),
        (_, ttype::STRING) => cur.binary(proto).map(drop),
        (_, ttype::STRUCT) => skip_struct(cur, proto, depth),
        (_, ttype::LIST | ttype::SET) => {
            let (elem, n) = collection_header(cur, proto)?;
            cur.reserve(n)?;
            for _ in 0..n {
                skip(cur, proto, elem, depth - 1)?;
            }
            Ok(())
        }
        (_, ttype::MAP) => {
            let (k, v, n) = map_header(cur, proto)?;
            cur.reserve(n.saturating_mul(2))?;
            for _ in 0..n {
                skip(cur, proto, k, depth - 1)?;
                skip(cur, proto, v, depth - 1)?;
            }
            Ok(())
        }
        _ => Err(Stop::Invalid("unknown field type")),
    }
}

/// Reads a list or set header: element type and count.
pub(crate) fn collection_header(cur: &mut Cursor<'_>, proto: Protocol) -> Walk<(u8, usize)> {
    match proto {
        Protocol::Binary | Protocol::BinaryBase64 => {
            let elem = cur.u8()?;
            let n = cur.i32_be()?;
            let n = usize::try_from(n).map_err(|_| Stop::Invalid("negative collection size"))?;
            Ok((elem, n))
        }
        Protocol::Compact => {
            let h = cur.u8()?;
            let elem = compact_to_ttype(h & 0x0f)?;
            let n = match h >> 4 {
                15 => usize::try_from(cur.varint(5)?)
                    .map_err(|_| Stop::Invalid("collection size overflows"))?,
                small => usize::from(small),
            };
            Ok((elem, n))
        }
    }
}

pub(crate) fn map_header(cur: &mut Cursor<'_>, proto: Protocol) -> Walk<(u8, u8, usize)> {
    match proto {
        Protocol::Binary | Protocol::BinaryBase64 => {
            let k = cur.u8()?;
            let v = cur.u8()?;
            let n = cur.i32_be()?;
            let n = usize::try_from(n).map_err(|_| Stop::Invalid("negative map size"))?;
            Ok((k, v, n))
        }
        Protocol::Compact => {
            let n =
                usize::try_from(cur.varint(5)?).map_err(|_| Stop::Invalid("map size overflows"))?;
            if n == 0 {
                return Ok((ttype::STOP, ttype::STOP, 0));
            }
            let kv = cur.u8()?;
            Ok((compact_to_ttype(kv >> 4)?, compact_to_ttype(kv & 0x0f)?, n))
        }
    }
}

fn skip_struct(cur: &mut Cursor<'_>, proto: Protocol, depth: u32) -> Walk<()> {
    loop {
        let h = cur.u8()?;
        match proto {
            Protocol::Binary | Protocol::BinaryBase64 => {
                if h == ttype::STOP {
                    return Ok(());
                }
                cur.i16_be()?;
                skip(cur, proto, h, depth - 1)?;
            }
            Protocol::Compact => {
                if h == 0 {
                    return Ok(());
                }
                if h >> 4 == 0 {
                    // Long form: the field id follows as a zigzag varint i16.
                    cur.varint(3)?;
                }
                match h & 0x0f {
                    // Booleans live in the field header itself.
                    1 | 2 => {}
                    t => skip(cur, proto, compact_to_ttype(t)?, depth - 1)?,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_struct_lengths() {
        // struct { 1: i32 = 7, 2: string = "ab" } STOP
        let b = [8, 0, 1, 0, 0, 0, 7, 11, 0, 2, 0, 0, 0, 2, b'a', b'b', 0];
        let mut cur = Cursor::new(&b, 1 << 20);
        skip(&mut cur, Protocol::Binary, ttype::STRUCT, MAX_DEPTH).unwrap();
        assert_eq!(cur.pos(), b.len());
        for cut in 0..b.len() {
            let mut cur = Cursor::new(&b[..cut], 1 << 20);
            assert_eq!(
                skip(&mut cur, Protocol::Binary, ttype::STRUCT, MAX_DEPTH),
                Err(Stop::NeedMore)
            );
        }
    }

    #[test]
    fn rejects_negative_and_oversized_lengths() {
        let b = [11, 0, 1, 0xff, 0xff, 0xff, 0xff, 0];
        let mut cur = Cursor::new(&b, 1 << 20);
        assert!(matches!(
            skip(&mut cur, Protocol::Binary, ttype::STRUCT, MAX_DEPTH),
            Err(Stop::Invalid(_))
        ));
        // A list claiming 2^31-1 elements is too large for a 1 MiB limit.
        let b = [15, 8, 0x7f, 0xff, 0xff, 0xff];
        let mut cur = Cursor::new(&b, 1 << 20);
        assert_eq!(
            skip(&mut cur, Protocol::Binary, ttype::LIST, MAX_DEPTH),
            Err(Stop::TooLarge)
        );
    }

    #[test]
    fn rejects_deep_nesting() {
        // 100 nested lists of lists, each with one element.
        let mut b = Vec::new();
        for _ in 0..100 {
            b.extend_from_slice(&[15, 0, 0, 0, 1]);
        }
        let mut cur = Cursor::new(&b, 1 << 20);
        let r = skip(&mut cur, Protocol::Binary, ttype::LIST, MAX_DEPTH);
        assert_eq!(r, Err(Stop::Invalid("nesting too deep")));
    }

    #[test]
    fn compact_struct_with_bools_and_long_ids() {
        // field 1 bool true (short form), field 300 i32 (long form), STOP
        let b = [0x11, 0x05, 0xd8, 0x04, 0x0e, 0x00];
        let mut cur = Cursor::new(&b, 1 << 20);
        skip(&mut cur, Protocol::Compact, ttype::STRUCT, MAX_DEPTH).unwrap();
        assert_eq!(cur.pos(), b.len());
    }

    #[test]
    fn rejects_overlong_varint() {
        let b = [0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0];
        let mut cur = Cursor::new(&b, 1 << 20);
        assert!(matches!(
            skip(&mut cur, Protocol::Compact, ttype::STRUCT, MAX_DEPTH),
            Err(Stop::Invalid(_))
        ));
    }
}
