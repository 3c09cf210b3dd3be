//! TTHeader (Kitex, magic `0x1000`) and Apache THeader (magic `0x0FFF`), sans-IO.
//!
//! ```text
//! 0        4        6        8           12       14
//! | LENGTH | MAGIC  | FLAGS  | SEQ ID    | HSIZE  | header (HSIZE*4 bytes) | payload |
//! ```
//!
//! `LENGTH` counts everything after itself. The variable header starts with
//! the protocol id, the transform count and ids, then info sections, then zero
//! padding to a multiple of four. TTHeader uses fixed-width fields (u8 ids, u16
//! lengths; info `0x01` string key-values, `0x10` int key-values, `0x11` ACL
//! token); THeader uses varints (info `1` key-values, `2` persistent
//! key-values). Both are decoded by [`decode`] and encoded by [`encode`], so
//! Kitex Protobuf (protocol id [`PROTOCOL_KITEX_PROTOBUF`]) can reuse them.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Kitex TTHeader magic.
pub const TTHEADER_MAGIC: u16 = 0x1000;
/// Apache Thrift THeader magic.
pub const THEADER_MAGIC: u16 = 0x0fff;
/// Protocol id: Thrift binary.
pub const PROTOCOL_BINARY: u8 = 0x00;
/// Protocol id: Thrift compact.
pub const PROTOCOL_COMPACT: u8 = 0x02;
/// Protocol id: Kitex Protobuf (Kitex >= 0.9.2; older Kitex sends 0 and a payload magic).
pub const PROTOCOL_KITEX_PROTOBUF: u8 = 0x04;
/// Flag: the client accepts out-of-order replies.
pub const FLAG_SUPPORT_OUT_OF_ORDER: u16 = 0x01;

const INFO_PADDING: u8 = 0x00;
const INFO_KEY_VALUE: u8 = 0x01;
const INFO_PERSIST_KEY_VALUE: u8 = 0x02;
const INFO_INT_KEY_VALUE: u8 = 0x10;
const INFO_ACL_TOKEN: u8 = 0x11;
/// Most key-value pairs (string and int, across every info section)
/// accepted in one frame's header.
pub const MAX_INFO_PAIRS: usize = 4096;

/// Which of the two header formats a frame uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderFormat {
    /// Kitex TTHeader (magic `0x1000`).
    TtHeader,
    /// Apache THeader (magic `0x0FFF`).
    THeader,
}

/// A decoded TTHeader / THeader: everything before the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// TTHeader or THeader.
    pub format: HeaderFormat,
    /// Header flags.
    pub flags: u16,
    /// Sequence id (as the payload's, for multiplexing).
    pub seq_id: i32,
    /// Payload protocol id ([`PROTOCOL_BINARY`], ...).
    pub protocol_id: u8,
    /// Transform ids (none are supported; a non-empty list is rejected by servers).
    pub transforms: Vec<u8>,
    /// Int key-values (info `0x10`; TTHeader only).
    pub int_info: Vec<(u16, String)>,
    /// String key-values (info `0x01`).
    pub str_info: Vec<(String, String)>,
    /// ACL token (info `0x11`; TTHeader only).
    pub token: Option<String>,
}

impl Header {
    /// A header of `format` for `protocol_id` and `seq_id`, with no info.
    pub fn new(format: HeaderFormat, protocol_id: u8, seq_id: i32) -> Self {
        Self {
            format,
            flags: 0,
            seq_id,
            protocol_id,
            transforms: Vec::new(),
            int_info: Vec::new(),
            str_info: Vec::new(),
            token: None,
        }
    }

    /// The value of int key `key`.
    pub fn int(&self, key: u16) -> Option<&str> {
        self.int_info
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of string key `key`.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.str_info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a header frame could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The magic is neither `0x1000` nor `0x0FFF`.
    #[error("bad header magic {0:#06x}")]
    BadMagic(u16),
    /// The frame's length field exceeds the limit.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Declared size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// A length or count inside the header runs past it.
    #[error("header field runs past the header")]
    Truncated,
    /// The header is malformed.
    #[error("invalid header: {0}")]
    Invalid(&'static str),
    /// A string is not UTF-8.
    #[error("header string is not valid utf-8")]
    InvalidUtf8,
    /// The header would be larger than 256 KiB (the 16-bit word count).
    #[error("header too large to encode")]
    HeaderTooLarge,
}

/// Returns the frame size (including the 4-byte length) if `buf` starts a
/// frame whose length is known, `None` if fewer than 4 bytes are present.
///
/// # Errors
///
/// [`HeaderError::FrameTooLarge`] if the declared size exceeds `max`.
pub fn frame_size(buf: &[u8], max: usize) -> Result<Option<usize>, HeaderError> {
    let Some(len) = buf.get(..4) else {
        return Ok(None);
    };
    let size = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if size > max {
        return Err(HeaderError::FrameTooLarge { size, max });
    }
    Ok(Some(size + 4))
}

/// Decodes one complete frame from the front of `buf`, splitting it off.
///
/// Returns `Ok(None)` ("need more") until the whole frame is buffered; no
/// allocation depends on the declared size.
///
/// # Errors
///
/// Any [`HeaderError`]; the connection should then be closed.
pub fn decode(
    buf: &mut BytesMut,
    max_frame: usize,
) -> Result<Option<(Header, Bytes)>, HeaderError> {
    let Some(total) = frame_size(buf, max_frame)? else {
        return Ok(None);
    };
    if buf.len() < 14.min(total) || buf.len() < total {
        return Ok(None);
    }
    let frame = buf.split_to(total).freeze();
    decode_frame(frame).map(Some)
}

/// Decodes a complete frame (length prefix included) into header and payload.
///
/// # Errors
///
/// Any [`HeaderError`].
pub fn decode_frame(mut frame: Bytes) -> Result<(Header, Bytes), HeaderError> {
    if frame.len() < 14 {
        return Err(HeaderError::Truncated);
    }
    frame.advance(4);
    let magic = frame.get_u16();
    let format = match magic {
        TTHEADER_MAGIC => HeaderFormat::TtHeader,
        THEADER_MAGIC => HeaderFormat::THeader,
        m => return Err(HeaderError::BadMagic(m)),
    };
    let flags = frame.get_u16();
    let seq_id = frame.get_i32();
    let hsize = usize::from(frame.get_u16()) * 4;
    if hsize > frame.len() {
        return Err(HeaderError::Truncated);
    }
    let mut h = frame.split_to(hsize);
    let mut header = Header::new(format, 0, seq_id);
    header.flags = flags;
    let mut r = Reader {
        buf: &mut h,
        format,
        pairs: 0,
    };
    header.protocol_id = r.id()?;
    let n = r.id()?;
    for _ in 0..n {
        let t = r.id()?;
        header.transforms.push(t);
    }
    while r.buf.has_remaining() {
        let info = r.id()?;
        match (format, info) {
            (_, INFO_PADDING) => {
                // Padding runs to the end of the header.
                if r.buf.iter().any(|b| *b != 0) {
                    // Kitex stops at the first padding byte too; tolerate junk
                    // after it only if it is zero.
                    return Err(HeaderError::Invalid("data after padding"));
                }
                break;
            }
            (_, INFO_KEY_VALUE) | (HeaderFormat::THeader, INFO_PERSIST_KEY_VALUE) => {
                let n = r.count()?;
                for _ in 0..n {
                    let k = r.string()?;
                    let v = r.string()?;
                    header.str_info.push((k, v));
                }
            }
            (HeaderFormat::TtHeader, INFO_INT_KEY_VALUE) => {
                let n = r.count()?;
                for _ in 0..n {
                    let k = r.u16()?;
                    let v = r.string()?;
                    header.int_info.push((k, v));
                }
            }
            (HeaderFormat::TtHeader, INFO_ACL_TOKEN) => header.token = Some(r.string()?),
            _ => return Err(HeaderError::Invalid("unknown info id")),
        }
    }
    Ok((header, frame))
}

struct Reader<'a> {
    buf: &'a mut Bytes,
    format: HeaderFormat,
    /// Key-value pairs announced so far, across every info section.
    pairs: usize,
}

impl Reader<'_> {
    fn u16(&mut self) -> Result<u16, HeaderError> {
        if self.buf.remaining() < 2 {
            return Err(HeaderError::Truncated);
        }
        Ok(self.buf.get_u16())
    }

    fn varint(&mut self) -> Result<u32, HeaderError> {
        let mut v: u64 = 0;
        for i in 0..5 {
            if !self.buf.has_remaining() {
                return Err(HeaderError::Truncated);
            }
            let b = self.buf.get_u8();
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| HeaderError::Invalid("varint overflows"));
            }
        }
        Err(HeaderError::Invalid("varint too long"))
    }

    /// A protocol, transform or info id: u8 (TTHeader) or varint (THeader).
    fn id(&mut self) -> Result<u8, HeaderError> {
        match self.format {
            HeaderFormat::TtHeader => {
                if !self.buf.has_remaining() {
                    return Err(HeaderError::Truncated);
                }
                Ok(self.buf.get_u8())
            }
            HeaderFormat::THeader => {
                u8::try_from(self.varint()?).map_err(|_| HeaderError::Invalid("id out of range"))
            }
        }
    }

    fn count(&mut self) -> Result<usize, HeaderError> {
        let n = match self.format {
            HeaderFormat::TtHeader => u32::from(self.u16()?),
            HeaderFormat::THeader => self.varint()?,
        } as usize;
        // Each pair takes at least two bytes: a larger count is a lie.
        if n > self.buf.remaining() {
            return Err(HeaderError::Invalid("info count larger than the header"));
        }
        // A header may repeat its sections: the cap is on the frame, so the
        // pairs a server turns into metainfo stay bounded.
        self.pairs += n;
        if self.pairs > MAX_INFO_PAIRS {
            return Err(HeaderError::Invalid(
                "more than 4096 key-value pairs in the header",
            ));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, HeaderError> {
        let n = match self.format {
            HeaderFormat::TtHeader => u32::from(self.u16()?),
            HeaderFormat::THeader => self.varint()?,
        } as usize;
        if n > self.buf.remaining() {
            return Err(HeaderError::Truncated);
        }
        let raw = self.buf.split_to(n);
        String::from_utf8(raw.to_vec()).map_err(|_| HeaderError::InvalidUtf8)
    }
}

/// Writes the length placeholder and header for `h` to `dst`; append the
/// payload, then call [`finish`] with the returned start offset.
///
/// # Errors
///
/// [`HeaderError::HeaderTooLarge`] if the header exceeds 65535 words, or a
/// string longer than 65535 bytes in TTHeader.
pub fn encode(h: &Header, dst: &mut BytesMut) -> Result<usize, HeaderError> {
    let start = dst.len();
    // The fixed part in one write: length (patched by `finish`), magic,
    // flags, sequence id, header size (patched below).
    let magic = match h.format {
        HeaderFormat::TtHeader => TTHEADER_MAGIC,
        HeaderFormat::THeader => THEADER_MAGIC,
    };
    let mut fixed = [0u8; 14];
    fixed[4..6].copy_from_slice(&magic.to_be_bytes());
    fixed[6..8].copy_from_slice(&h.flags.to_be_bytes());
    fixed[8..12].copy_from_slice(&h.seq_id.to_be_bytes());
    dst.extend_from_slice(&fixed);
    let size_at = start + 12;
    let var_start = dst.len();
    let mut w = Writer {
        dst,
        format: h.format,
    };
    w.id(h.protocol_id);
    w.id(u8::try_from(h.transforms.len()).map_err(|_| HeaderError::HeaderTooLarge)?);
    for t in &h.transforms {
        w.id(*t);
    }
    if !h.int_info.is_empty() && h.format == HeaderFormat::TtHeader {
        w.id(INFO_INT_KEY_VALUE);
        w.len(h.int_info.len())?;
        for (k, v) in &h.int_info {
            w.dst.put_u16(*k);
            w.string(v)?;
        }
    }
    if !h.str_info.is_empty() {
        w.id(INFO_KEY_VALUE);
        w.len(h.str_info.len())?;
        for (k, v) in &h.str_info {
            w.string(k)?;
            w.string(v)?;
        }
    }
    if let (Some(t), HeaderFormat::TtHeader) = (&h.token, h.format) {
        w.id(INFO_ACL_TOKEN);
        w.string(t)?;
    }
    let var_len = dst.len() - var_start;
    let padded = var_len.div_ceil(4) * 4;
    dst.extend_from_slice(&[0u8; 3][..padded - var_len]);
    let words = u16::try_from(padded / 4).map_err(|_| HeaderError::HeaderTooLarge)?;
    dst[size_at..size_at + 2].copy_from_slice(&words.to_be_bytes());
    Ok(start)
}

/// Patches the length field of the frame that starts at `start` in `dst`.
///
/// # Errors
///
/// [`HeaderError::FrameTooLarge`] if the frame exceeds 4 GiB.
pub fn finish(dst: &mut BytesMut, start: usize) -> Result<(), HeaderError> {
    let size = dst.len() - start - 4;
    let len = u32::try_from(size).map_err(|_| HeaderError::FrameTooLarge {
        size,
        max: u32::MAX as usize,
    })?;
    dst[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

struct Writer<'a> {
    dst: &'a mut BytesMut,
    format: HeaderFormat,
}

impl Writer<'_> {
    fn varint(&mut self, v: usize) {
        crate::thrift::put_varint(self.dst, v as u64);
    }

    fn id(&mut self, id: u8) {
        match self.format {
            HeaderFormat::TtHeader => self.dst.put_u8(id),
            HeaderFormat::THeader => self.varint(usize::from(id)),
        }
    }

    fn len(&mut self, n: usize) -> Result<(), HeaderError> {
        match self.format {
            HeaderFormat::TtHeader => self
                .dst
                .put_u16(u16::try_from(n).map_err(|_| HeaderError::HeaderTooLarge)?),
            HeaderFormat::THeader => self.varint(n),
        }
        Ok(())
    }

    fn string(&mut self, s: &str) -> Result<(), HeaderError> {
        self.len(s.len())?;
        self.dst.put_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
