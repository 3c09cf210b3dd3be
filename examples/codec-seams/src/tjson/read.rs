//! Reading TJSON: a recursive-descent parser over a byte slice that writes
//! the binary form as it goes (no tree is built), and a scanner that finds
//! where an unframed message ends.
//!
//! Every recursion is a struct or collection level, counted against
//! `max_depth`; strings are bounded by `max_len` and collection counts by
//! `max_elements` before anything is written for them; a count must match
//! the elements that follow.

use bytes::BytesMut;
use wego_kitex::thrift::transcode::{BinaryWriter, BodyLimits, FieldType};

use super::TJsonError;

type Read<T> = Result<T, TJsonError>;

/// A read position over TJSON text.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: BodyLimits,
    depth: u32,
    /// A string's bytes, reused for each string.
    scratch: Vec<u8>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8], limits: BodyLimits) -> Self {
        Self {
            buf,
            pos: 0,
            limits,
            depth: 0,
            scratch: Vec::new(),
        }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    fn peek(&self) -> Read<u8> {
        self.buf.get(self.pos).copied().ok_or(TJsonError::Truncated)
    }

    fn next(&mut self) -> Read<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    /// Skips JSON whitespace (Apache's writers send none; readers may).
    fn skip_ws(&mut self) -> Read<()> {
        while matches!(self.peek()?, b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        Ok(())
    }

    fn syntax(&self, expected: &'static str) -> TJsonError {
        TJsonError::Syntax {
            at: self.pos,
            expected,
        }
    }

    pub(super) fn expect(&mut self, want: u8, name: &'static str) -> Read<()> {
        self.skip_ws()?;
        if self.peek()? != want {
            return Err(self.syntax(name));
        }
        self.pos += 1;
        Ok(())
    }

    /// `,` before every element but the first; whether the container ended
    /// (`close` read) instead.
    fn separator(&mut self, first: bool, close: u8, name: &'static str) -> Read<bool> {
        self.skip_ws()?;
        let b = self.peek()?;
        if b == close {
            self.pos += 1;
            return Ok(true);
        }
        if !first {
            if b != b',' {
                return Err(self.syntax(name));
            }
            self.pos += 1;
        }
        Ok(false)
    }

    fn enter(&mut self) -> Read<()> {
        if self.depth >= self.limits.max_depth {
            return Err(TJsonError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        self.depth += 1;
        Ok(())
    }

    /// An integer's text: `-?[0-9]+`; the byte after it must be present
    /// (it could be another digit).
    fn integer_text(&mut self) -> Read<(usize, usize)> {
        let start = self.pos;
        if self.peek()? == b'-' {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.peek()?.is_ascii_digit() {
            self.pos += 1;
            if self.pos - start > 20 {
                return Err(TJsonError::OutOfRange { at: start });
            }
        }
        if self.pos == digits {
            return Err(self.syntax("a number"));
        }
        Ok((start, self.pos))
    }

    /// A JSON integer in value position.
    pub(super) fn integer(&mut self) -> Read<i64> {
        self.skip_ws()?;
        let (start, end) = self.integer_text()?;
        parse_i64(&self.buf[start..end], start)
    }

    /// A JSON string's bytes (UTF-8 checked), at most `max` of them.
    pub(super) fn string_within(&mut self, max: usize) -> Read<Vec<u8>> {
        self.skip_ws()?;
        self.string_into_scratch(max)?;
        Ok(std::mem::take(&mut self.scratch))
    }

    /// Reads a JSON string into `scratch`.
    fn string_into_scratch(&mut self, max: usize) -> Read<()> {
        if self.peek()? != b'"' {
            return Err(self.syntax("a string"));
        }
        self.pos += 1;
        let start = self.pos;
        self.scratch.clear();
        loop {
            if self.scratch.len() > max {
                return Err(TJsonError::TooLarge { max });
            }
            let at = self.pos;
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    let c = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.escaped_char(at)?,
                        _ => return Err(TJsonError::BadString { at }),
                    };
                    let mut b = [0u8; 4];
                    self.scratch
                        .extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
                c if c < 0x20 => return Err(TJsonError::BadString { at }),
                c => self.scratch.push(c),
            }
        }
        if self.scratch.len() > max {
            return Err(TJsonError::TooLarge { max });
        }
        if std::str::from_utf8(&self.scratch).is_err() {
            return Err(TJsonError::BadString { at: start });
        }
        Ok(())
    }

    /// The character of a `\uXXXX` escape (`\u` read), joining a UTF-16
    /// surrogate pair.
    fn escaped_char(&mut self, at: usize) -> Read<char> {
        let hi = self.hex4(at)?;
        let code = match hi {
            0xd800..=0xdbff => {
                if self.next()? != b'\\' || self.next()? != b'u' {
                    return Err(TJsonError::BadString { at });
                }
                let lo = self.hex4(at)?;
                if !(0xdc00..=0xdfff).contains(&lo) {
                    return Err(TJsonError::BadString { at });
                }
                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(TJsonError::BadString { at }),
            c => c,
        };
        char::from_u32(code).ok_or(TJsonError::BadString { at })
    }

    fn hex4(&mut self, at: usize) -> Read<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = char::from(self.next()?)
                .to_digit(16)
                .ok_or(TJsonError::BadString { at })?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    /// A type name: `"i32"`, `"rec"`, ...
    fn type_name(&mut self) -> Read<FieldType> {
        self.skip_ws()?;
        let at = self.pos;
        self.string_into_scratch(3)?;
        Ok(match &self.scratch[..] {
            b"tf" => FieldType::Bool,
            b"i8" => FieldType::I8,
            b"i16" => FieldType::I16,
            b"i32" => FieldType::I32,
            b"i64" => FieldType::I64,
            b"dbl" => FieldType::Double,
            b"str" => FieldType::String,
            b"rec" => FieldType::Struct,
            b"map" => FieldType::Map,
            b"lst" => FieldType::List,
            b"set" => FieldType::Set,
            b"uid" => FieldType::Uuid,
            _ => return Err(TJsonError::UnknownType { at }),
        })
    }

    /// A collection count, checked against the limit.
    fn count(&mut self) -> Read<usize> {
        self.skip_ws()?;
        let at = self.pos;
        let n = usize::try_from(self.integer()?).map_err(|_| TJsonError::OutOfRange { at })?;
        if n > self.limits.max_elements {
            return Err(TJsonError::TooLarge {
                max: self.limits.max_elements,
            });
        }
        Ok(n)
    }

    /// `{"id":{"type":value},...}`, written as a binary struct.
    pub(super) fn struct_body(&mut self, dst: &mut BytesMut) -> Read<()> {
        self.enter()?;
        self.expect(b'{', "{")?;
        let mut first = true;
        while !self.separator(first, b'}', ", or }")? {
            first = false;
            self.skip_ws()?;
            let at = self.pos;
            self.string_into_scratch(6)?;
            let id = std::str::from_utf8(&self.scratch)
                .ok()
                .and_then(|s| s.parse::<i16>().ok())
                .ok_or(TJsonError::OutOfRange { at })?;
            self.expect(b':', ":")?;
            self.expect(b'{', "{")?;
            let ty = self.type_name()?;
            self.expect(b':', ":")?;
            BinaryWriter::new(dst).field_begin(ty, id);
            self.value(ty, dst)?;
            self.expect(b'}', "}")?;
        }
        BinaryWriter::new(dst).struct_end();
        self.depth -= 1;
        Ok(())
    }

    /// One value of type `ty` in value position.
    fn value(&mut self, ty: FieldType, dst: &mut BytesMut) -> Read<()> {
        self.skip_ws()?;
        let at = self.pos;
        let mut w = BinaryWriter::new(dst);
        match ty {
            FieldType::Bool => match self.integer()? {
                0 => w.bool(false),
                1 => w.bool(true),
                _ => return Err(TJsonError::OutOfRange { at }),
            },
            FieldType::I8 => w.i8(narrow(self.integer()?, at)?),
            FieldType::I16 => w.i16(narrow(self.integer()?, at)?),
            FieldType::I32 => w.i32(narrow(self.integer()?, at)?),
            FieldType::I64 => w.i64(self.integer()?),
            FieldType::Double => {
                let d = self.double(false)?;
                BinaryWriter::new(dst).double(d);
            }
            FieldType::String => {
                self.string_into_scratch(self.limits.max_len)?;
                BinaryWriter::new(dst).bytes(&self.scratch)?;
            }
            FieldType::Uuid => {
                let u = self.uuid()?;
                BinaryWriter::new(dst).uuid(u);
            }
            FieldType::Struct => self.struct_body(dst)?,
            FieldType::List | FieldType::Set => self.list(dst)?,
            FieldType::Map => self.map(dst)?,
            _ => return Err(TJsonError::UnknownType { at }),
        }
        Ok(())
    }

    /// `["type",n,v1,...]`.
    fn list(&mut self, dst: &mut BytesMut) -> Read<()> {
        self.enter()?;
        self.expect(b'[', "[")?;
        let elem = self.type_name()?;
        self.expect(b',', ",")?;
        let n = self.count()?;
        BinaryWriter::new(dst).list_begin(elem, n)?;
        for _ in 0..n {
            self.expect(b',', ",")?;
            self.value(elem, dst)?;
        }
        self.skip_ws()?;
        if self.peek()? != b']' {
            return Err(TJsonError::CountMismatch {
                declared: n,
                at: self.pos,
            });
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// `["ktype","vtype",n,{"k":v,...}]`.
    fn map(&mut self, dst: &mut BytesMut) -> Read<()> {
        self.enter()?;
        self.expect(b'[', "[")?;
        let k = self.type_name()?;
        self.expect(b',', ",")?;
        let v = self.type_name()?;
        self.expect(b',', ",")?;
        let n = self.count()?;
        self.expect(b',', ",")?;
        self.expect(b'{', "{")?;
        BinaryWriter::new(dst).map_begin(k, v, n)?;
        let mut seen = 0;
        while !self.separator(seen == 0, b'}', ", or }")? {
            if seen == n {
                return Err(TJsonError::CountMismatch {
                    declared: n,
                    at: self.pos,
                });
            }
            seen += 1;
            self.key(k, dst)?;
            self.expect(b':', ":")?;
            self.value(v, dst)?;
        }
        if seen != n {
            return Err(TJsonError::CountMismatch {
                declared: n,
                at: self.pos,
            });
        }
        self.expect(b']', "]")?;
        self.depth -= 1;
        Ok(())
    }

    /// A map key: a JSON string holding the key (numbers quoted).
    fn key(&mut self, ty: FieldType, dst: &mut BytesMut) -> Read<()> {
        self.skip_ws()?;
        let at = self.pos;
        if ty == FieldType::String {
            self.string_into_scratch(self.limits.max_len)?;
            BinaryWriter::new(dst).bytes(&self.scratch)?;
            return Ok(());
        }
        if ty == FieldType::Double {
            let d = self.double(true)?;
            BinaryWriter::new(dst).double(d);
            return Ok(());
        }
        self.string_into_scratch(24)?;
        let n = parse_i64(&self.scratch, at)?;
        let mut w = BinaryWriter::new(dst);
        match ty {
            FieldType::Bool => match n {
                0 => w.bool(false),
                1 => w.bool(true),
                _ => return Err(TJsonError::OutOfRange { at }),
            },
            FieldType::I8 => w.i8(narrow(n, at)?),
            FieldType::I16 => w.i16(narrow(n, at)?),
            FieldType::I32 => w.i32(narrow(n, at)?),
            FieldType::I64 => w.i64(n),
            _ => return Err(TJsonError::UnsupportedKey),
        }
        Ok(())
    }

    /// A double: a JSON number, or (always, as a key) a quoted one or
    /// `"NaN"`, `"Infinity"`, `"-Infinity"`.
    fn double(&mut self, key: bool) -> Read<f64> {
        self.skip_ws()?;
        let at = self.pos;
        if self.peek()? == b'"' {
            self.string_into_scratch(32)?;
            return match &self.scratch[..] {
                b"NaN" => Ok(f64::NAN),
                b"Infinity" => Ok(f64::INFINITY),
                b"-Infinity" => Ok(f64::NEG_INFINITY),
                text if key => parse_f64(text, at),
                _ => Err(TJsonError::Syntax {
                    at,
                    expected: "an unquoted number",
                }),
            };
        }
        if key {
            return Err(self.syntax("a quoted key"));
        }
        let start = self.pos;
        while matches!(self.peek()?, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
            self.pos += 1;
            if self.pos - start > 32 {
                return Err(TJsonError::OutOfRange { at });
            }
        }
        parse_f64(&self.buf[start..self.pos], at)
    }

    /// A uuid: `"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"`.
    fn uuid(&mut self) -> Read<[u8; 16]> {
        let at = self.pos;
        self.string_into_scratch(36)?;
        let hex: Vec<u8> = self
            .scratch
            .iter()
            .copied()
            .filter(|&c| c != b'-')
            .collect();
        if self.scratch.len() != 36 || hex.len() != 32 {
            return Err(TJsonError::BadString { at });
        }
        let mut u = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).map_err(|_| TJsonError::BadString { at })?;
            u[i] = u8::from_str_radix(s, 16).map_err(|_| TJsonError::BadString { at })?;
        }
        Ok(u)
    }
}

fn parse_i64(text: &[u8], at: usize) -> Read<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(TJsonError::OutOfRange { at })
}

fn parse_f64(text: &[u8], at: usize) -> Read<f64> {
    // JSON's number grammar is a subset of what `f64::from_str` takes,
    // except that Rust also takes "inf", "nan" and a leading '+': the
    // characters allowed above exclude the words; a '+' only after 'e'.
    if text.first() == Some(&b'+') {
        return Err(TJsonError::Syntax {
            at,
            expected: "a number",
        });
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or(TJsonError::Syntax {
            at,
            expected: "a number",
        })
}

fn narrow<T: TryFrom<i64>>(v: i64, at: usize) -> Read<T> {
    T::try_from(v).map_err(|_| TJsonError::OutOfRange { at })
}

/// How far a [`message_len_from`] scan got through the message at the
/// front of a buffer: the bytes before `pos` are scanned, and the rest of
/// the fields say where in the text that left it.
#[derive(Debug, Clone, Default)]
pub(super) struct Scan {
    pos: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// The bytes scanned.
    #[cfg(test)]
    pub(super) fn pos(&self) -> usize {
        self.pos
    }
}

/// The length of the whole message (the top-level array) at the front of
/// `buf`, for unframed connections: brackets and braces are matched, and
/// strings skipped with their escapes, without parsing values.
/// [`TJsonError::Truncated`] until the array closes.
pub(super) fn message_len(buf: &[u8], max_depth: u32, max: usize) -> Read<usize> {
    message_len_from(buf, max_depth, max, &mut Scan::default())
}

/// As [`message_len`], going on from where `scan` left the last scan of
/// the same buffer (which has only grown at its end since), so that each
/// byte is scanned once however many reads bring the message. `scan`
/// holds the progress after [`TJsonError::Truncated`]; after anything
/// else it is to be started over.
pub(super) fn message_len_from(
    buf: &[u8],
    max_depth: u32,
    max: usize,
    scan: &mut Scan,
) -> Read<usize> {
    if scan.pos > buf.len() {
        // Not this buffer's progress: start over.
        *scan = Scan::default();
    }
    if scan.pos == 0 && buf.first().is_some_and(|&b| b != b'[') {
        return Err(TJsonError::Syntax {
            at: 0,
            expected: "[",
        });
    }
    for (i, &b) in buf.iter().enumerate().skip(scan.pos) {
        if i >= max {
            return Err(TJsonError::TooLarge { max });
        }
        if scan.in_string {
            match (scan.escaped, b) {
                (true, _) => scan.escaped = false,
                (false, b'\\') => scan.escaped = true,
                (false, b'"') => scan.in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => scan.in_string = true,
            b'[' | b'{' => {
                scan.depth += 1;
                // The envelope's array is one level beyond the body's.
                if scan.depth > max_depth.saturating_add(1) {
                    return Err(TJsonError::TooDeep { max: max_depth });
                }
            }
            b']' | b'}' => {
                scan.depth = scan.depth.checked_sub(1).ok_or(TJsonError::Syntax {
                    at: i,
                    expected: "a value",
                })?;
                if scan.depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
    }
    scan.pos = buf.len();
    if buf.len() >= max {
        return Err(TJsonError::TooLarge { max });
    }
    Err(TJsonError::Truncated)
}
