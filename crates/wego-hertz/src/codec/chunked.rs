//! The chunked transfer coding (RFC 9112 §7.1), both directions.
//!
//! The decoder consumes whole lines only: a chunk-size line or a trailer
//! section is parsed once it is complete, and each line is bounded, so a peer
//! can neither make it buffer without limit nor see it act on half a line.
//! Chunk data is split off the input buffer without copying.
//!
//! A line that arrives in pieces is scanned once: each call resumes the
//! search for its end where the last call stopped, so a peer that sends a
//! trailer section or a size line a byte at a time costs linear work, not
//! quadratic. A chunk size has at most 16 hex digits, leading zeros
//! included (as in Go's net/http), so zero padding cannot make size lines
//! cost more than a constant per chunk, beside the extension budget.

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::decoded::Decoded;
use super::error::ChunkError;

/// Longest chunk-size line (size and extensions), CRLF excluded.
const MAX_SIZE_LINE: usize = 4096;
/// Most hex digits in a chunk size, leading zeros included: enough for
/// any 64-bit size.
const MAX_SIZE_DIGITS: usize = 16;
/// Most extension bytes accepted over a whole body, so that a flood of tiny
/// chunks with extensions cannot cost more than this in parsing.
const MAX_EXTENSIONS_TOTAL: usize = 16 * 1024;
/// Most trailer fields.
const MAX_TRAILER_FIELDS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataCrlf,
    Trailers,
    Done,
}

/// A decoder of one chunked body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    extensions: usize,
    max_trailers: usize,
    /// Bytes at the front of the buffer already searched for the end of
    /// the current size line or trailer section, without finding it.
    scanned: usize,
    /// Bytes the searches for line ends examined, over the decoder's life.
    #[cfg(test)]
    pub(super) examined: usize,
}

impl ChunkedDecoder {
    /// A decoder whose trailer section may be at most `max_trailers` bytes.
    pub fn new(max_trailers: usize) -> Self {
        Self {
            state: State::Size,
            extensions: 0,
            max_trailers,
            scanned: 0,
            #[cfg(test)]
            examined: 0,
        }
    }

    /// Returns true once the last chunk and the trailer section were read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes the next piece of the body from the front of `buf`.
    ///
    /// `Ok(None)`: more input is needed. Data frames are split off `buf`
    /// without copying; after [`Decoded::Trailers`] (if any) comes
    /// [`Decoded::End`], on every later call too.
    ///
    /// `buf` is the same buffer on every call, with bytes only appended to
    /// it in between (as a read loop does): after `Ok(None)` the decoder
    /// resumes its search for the end of a line where it stopped, rather
    /// than search the bytes it has seen again.
    ///
    /// # Errors
    ///
    /// A [`ChunkError`] for a malformed chunk size, extension, line ending or
    /// trailer section; the body cannot be resumed after one.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ChunkError> {
        loop {
            match self.state {
                State::Size => {
                    let Some(size) = self.size_line(buf)? else {
                        return Ok(None);
                    };
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(remaining) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
                    // The chunk's CRLF, when already here, is checked before
                    // its data goes out: data past the chunk size is an
                    // error before any of the chunk is delivered.
                    let after = &buf[n..(n + 2).min(buf.len())];
                    if !matches!(after, b"" | b"\r" | b"\r\n") {
                        return Err(ChunkError::Crlf);
                    }
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        State::DataCrlf
                    } else {
                        State::Data(left)
                    };
                    return Ok(Some(Decoded::Data(buf.split_to(n).freeze())));
                }
                State::DataCrlf => {
                    match buf.len() {
                        0 => return Ok(None),
                        1 if buf[0] == b'\r' => return Ok(None),
                        1 => return Err(ChunkError::Crlf),
                        _ if &buf[..2] == b"\r\n" => {}
                        _ => return Err(ChunkError::Crlf),
                    }
                    let _ = buf.split_to(2);
                    self.state = State::Size;
                }
                State::Trailers => return self.trailers(buf),
                State::Done => return Ok(Some(Decoded::End)),
            }
        }
    }

    /// Parses `chunk-size [ chunk-ext ] CRLF`.
    fn size_line(&mut self, buf: &mut BytesMut) -> Result<Option<u64>, ChunkError> {
        let scan = &buf[..buf.len().min(MAX_SIZE_LINE + 2)];
        // The bytes before `scanned` hold no LF: searched by earlier calls.
        let from = self.scanned.min(scan.len());
        #[cfg(test)]
        {
            self.examined += scan.len() - from;
        }
        let Some(lf) = scan[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| from + i)
        else {
            self.scanned = scan.len();
            if buf.len() > MAX_SIZE_LINE + 1 {
                return Err(ChunkError::Extension);
            }
            // Fail early on a byte that can never start a valid line.
            if let Some(&first) = buf.first()
                && !first.is_ascii_hexdigit()
            {
                return Err(ChunkError::Size);
            }
            return Ok(None);
        };
        if lf == 0 || scan[lf - 1] != b'\r' {
            return Err(ChunkError::Crlf);
        }
        let line = &scan[..lf - 1];
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return Err(ChunkError::Size);
        }
        if digits > MAX_SIZE_DIGITS {
            return Err(ChunkError::SizeOverflow);
        }
        let mut size: u64 = 0;
        for &d in &line[..digits] {
            let v = (d as char).to_digit(16).ok_or(ChunkError::Size)?;
            size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(u64::from(v)))
                .ok_or(ChunkError::SizeOverflow)?;
        }
        let rest = &line[digits..];
        if !rest.is_empty() {
            // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ).
            // We ignore extensions but insist on their shape's first byte
            // and on visible characters only.
            let ext = rest.trim_ascii_start();
            if !ext.starts_with(b";")
                || !rest
                    .iter()
                    .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
            {
                return Err(if ext.is_empty() || ext.starts_with(b";") {
                    ChunkError::Extension
                } else {
                    ChunkError::Size
                });
            }
            self.extensions += rest.len();
            if self.extensions > MAX_EXTENSIONS_TOTAL {
                return Err(ChunkError::Extension);
            }
        }
        let _ = buf.split_to(lf + 1);
        self.scanned = 0;
        Ok(Some(size))
    }

    /// Parses the trailer section after the last chunk.
    fn trailers(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ChunkError> {
        if buf.starts_with(b"\r\n") {
            let _ = buf.split_to(2);
            self.state = State::Done;
            return Ok(Some(Decoded::End));
        }
        if buf.len() < 2 {
            return match buf.first() {
                Some(b'\r') | None => Ok(None),
                Some(_) => self.more_trailers(buf),
            };
        }
        self.more_trailers(buf)
    }

    fn more_trailers(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ChunkError> {
        let limit = self.max_trailers;
        let scan = &buf[..buf.len().min(limit)];
        // Earlier calls found no end before `scanned`; the end's first
        // three bytes may be the last three they saw.
        let from = self.scanned.saturating_sub(3).min(scan.len());
        #[cfg(test)]
        {
            self.examined += scan.len() - from;
        }
        let Some(end) = scan[from..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| from + i)
        else {
            self.scanned = scan.len();
            if buf.len() >= limit {
                return Err(ChunkError::TrailersTooLarge { limit });
            }
            return Ok(None);
        };
        let block = &scan[..end + 4];
        if block
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || block[i - 1] != b'\r'))
        {
            return Err(ChunkError::Crlf);
        }
        let mut slots = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
        let fields = match httparse::parse_headers(block, &mut slots) {
            Ok(httparse::Status::Complete((_, fields))) => fields,
            _ => return Err(ChunkError::Trailers),
        };
        let mut map = HeaderMap::with_capacity(fields.len());
        for f in fields {
            let name =
                HeaderName::from_bytes(f.name.as_bytes()).map_err(|_| ChunkError::Trailers)?;
            let value = HeaderValue::from_bytes(f.value).map_err(|_| ChunkError::Trailers)?;
            map.append(name, value);
        }
        let _ = buf.split_to(end + 4);
        self.scanned = 0;
        self.state = State::Done;
        Ok(Some(Decoded::Trailers(map)))
    }
}

/// Appends one chunk (size line, `data`, CRLF) to `dst`. An empty `data`
/// appends nothing: a zero-size chunk would end the body.
pub fn encode_chunk(data: &[u8], dst: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    encode_chunk_size(data.len(), dst);
    dst.extend_from_slice(data);
    dst.extend_from_slice(b"\r\n");
}

/// Appends the size line of a chunk of `len` bytes.
pub(crate) fn encode_chunk_size(len: usize, dst: &mut BytesMut) {
    let mut hex = [0u8; 16];
    let mut i = hex.len();
    let mut n = len;
    loop {
        i -= 1;
        hex[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&hex[i..]);
    dst.extend_from_slice(b"\r\n");
}

/// Appends the last chunk and the trailer section (`trailers` may be empty).
pub fn encode_last_chunk(trailers: Option<&HeaderMap>, dst: &mut BytesMut) {
    encode_last_chunk_cased(trailers, false, dst);
}

/// [`encode_last_chunk`] with trailer names title-cased if `title_case`.
pub(crate) fn encode_last_chunk_cased(
    trailers: Option<&HeaderMap>,
    title_case: bool,
    dst: &mut BytesMut,
) {
    dst.extend_from_slice(b"0\r\n");
    if let Some(map) = trailers {
        for (name, value) in map {
            super::response::put_name(dst, name.as_str().as_bytes(), title_case);
            dst.extend_from_slice(b": ");
            dst.extend_from_slice(value.as_bytes());
            dst.extend_from_slice(b"\r\n");
        }
    }
    dst.extend_from_slice(b"\r\n");
}
