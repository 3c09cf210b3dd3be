//! TJSONProtocol message envelopes, read and written only so that a call in
//! TJSON can be answered: wego-kitex ships the binary and compact protocols,
//! and on a server without a TJSON [`PayloadProtocol`](super::PayloadProtocol)
//! a TJSON call gets a `TApplicationException` of type `INVALID_PROTOCOL`
//! in TJSON, which the caller's own protocol can read.
//!
//! A TJSON message is one JSON array, `[1,"name",type,seqid,{...}]` (Apache
//! Thrift's `TJSONProtocol`, version 1); only its first four elements are
//! read here. Bodies are never parsed. An exception body is the struct
//! `{1: string message, 2: i32 type}` written as
//! `{"1":{"str":"..."},"2":{"i32":N}}`.

use bytes::{BufMut, BytesMut};

use super::{ApplicationException, MessageHeader, MessageType};

/// The only TJSON message version.
const VERSION: i64 = 1;
/// Longest method name read (as for the binary envelope).
const MAX_NAME_LEN: usize = 64 * 1024;

/// Why an envelope could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The bytes so far are the start of a TJSON envelope; more are needed.
    NeedMore,
    /// The bytes are not a TJSON envelope.
    Invalid,
}

/// Whether `buf` may start a TJSON message (its first byte opens an array).
pub(crate) fn starts_like(buf: &[u8]) -> bool {
    buf.first() == Some(&b'[')
}

/// Reads the envelope at the front of `buf`.
///
/// # Errors
///
/// [`Stop::NeedMore`] while `buf` is a proper prefix of an envelope,
/// [`Stop::Invalid`] once it cannot be one.
pub(crate) fn decode_envelope(buf: &[u8]) -> Result<MessageHeader, Stop> {
    let mut r = Reader { buf, pos: 0 };
    r.expect(b'[')?;
    if r.number()? != VERSION {
        return Err(Stop::Invalid);
    }
    r.expect(b',')?;
    let name = r.string()?;
    r.expect(b',')?;
    let kind = u8::try_from(r.number()?)
        .ok()
        .and_then(|c| MessageType::from_code(c).ok())
        .ok_or(Stop::Invalid)?;
    r.expect(b',')?;
    let seq_id = i32::try_from(r.number()?).map_err(|_| Stop::Invalid)?;
    Ok(MessageHeader { name, kind, seq_id })
}

/// Appends a whole TJSON exception message answering `call`.
pub(crate) fn encode_exception(call: &MessageHeader, e: &ApplicationException, dst: &mut BytesMut) {
    dst.put_slice(b"[1,");
    put_string(dst, &call.name);
    dst.put_slice(format!(",{},{},", MessageType::Exception.code(), call.seq_id).as_bytes());
    dst.put_slice(b"{\"1\":{\"str\":");
    put_string(dst, &e.message);
    dst.put_slice(format!("}},\"2\":{{\"i32\":{}}}}}]", e.kind.code()).as_bytes());
}

/// A JSON string: quotes, backslashes and control characters escaped (RFC
/// 8259 §7), everything else as UTF-8.
fn put_string(dst: &mut BytesMut, s: &str) {
    dst.put_u8(b'"');
    for c in s.chars() {
        match c {
            '"' => dst.put_slice(b"\\\""),
            '\\' => dst.put_slice(b"\\\\"),
            '\n' => dst.put_slice(b"\\n"),
            '\r' => dst.put_slice(b"\\r"),
            '\t' => dst.put_slice(b"\\t"),
            c if u32::from(c) < 0x20 => {
                dst.put_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
            }
            c => {
                let mut b = [0u8; 4];
                dst.put_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    dst.put_u8(b'"');
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Result<u8, Stop> {
        self.buf.get(self.pos).copied().ok_or(Stop::NeedMore)
    }

    fn next(&mut self) -> Result<u8, Stop> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn skip_ws(&mut self) -> Result<(), Stop> {
        while matches!(self.peek()?, b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        Ok(())
    }

    fn expect(&mut self, want: u8) -> Result<(), Stop> {
        self.skip_ws()?;
        if self.next()? == want {
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }

    /// An integer; the byte after it must be there (it could be a digit).
    fn number(&mut self) -> Result<i64, Stop> {
        self.skip_ws()?;
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let mut v: i64 = 0;
        let mut digits = 0;
        while self.peek()?.is_ascii_digit() {
            let d = i64::from(self.next()? - b'0');
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(d))
                .ok_or(Stop::Invalid)?;
            digits += 1;
        }
        if digits == 0 {
            return Err(Stop::Invalid);
        }
        Ok(if negative { -v } else { v })
    }

    fn string(&mut self) -> Result<String, Stop> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            if out.len() > MAX_NAME_LEN {
                return Err(Stop::Invalid);
            }
            match self.next()? {
                b'"' => break,
                b'\\' => match self.next()? {
                    b'"' => out.push(b'"'),
                    b'\\' => out.push(b'\\'),
                    b'/' => out.push(b'/'),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let c = self.escaped_char()?;
                        let mut b = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                    }
                    _ => return Err(Stop::Invalid),
                },
                c if c < 0x20 => return Err(Stop::Invalid),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| Stop::Invalid)
    }

    /// The character of a `\uXXXX` escape (its `\u` already read), joining
    /// a UTF-16 surrogate pair.
    fn escaped_char(&mut self) -> Result<char, Stop> {
        let hi = self.hex4()?;
        let code = match hi {
            0xd800..=0xdbff => {
                if self.next()? != b'\\' || self.next()? != b'u' {
                    return Err(Stop::Invalid);
                }
                let lo = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&lo) {
                    return Err(Stop::Invalid);
                }
                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(Stop::Invalid),
            c => c,
        };
        char::from_u32(code).ok_or(Stop::Invalid)
    }

    fn hex4(&mut self) -> Result<u32, Stop> {
        let mut v = 0;
        for _ in 0..4 {
            let d = char::from(self.next()?).to_digit(16).ok_or(Stop::Invalid)?;
            v = v * 16 + d;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::ExceptionKind;

    #[test]
    fn reads_the_envelope_apache_writers_send() {
        // Python's TJSONProtocol for testString("hi"), seqid 0.
        let h = decode_envelope(br#"[1,"testString",1,0,{"1":{"str":"hi"}}]"#).unwrap();
        assert_eq!(h.name, "testString");
        assert_eq!(h.kind, MessageType::Call);
        assert_eq!(h.seq_id, 0);
        let h = decode_envelope(b"[ 1 , \"a\\u00e9\\ud83d\\ude00\\\"\" , 4 , -7 , {}]").unwrap();
        assert_eq!(h.name, "a\u{e9}\u{1f600}\"");
        assert_eq!(h.kind, MessageType::Oneway);
        assert_eq!(h.seq_id, -7);
    }

    #[test]
    fn every_prefix_needs_more() {
        let msg = br#"[1,"ping",1,2147483647,{}]"#;
        let end = msg.iter().position(|&b| b == b'{').unwrap();
        for cut in 0..end {
            assert_eq!(decode_envelope(&msg[..cut]), Err(Stop::NeedMore), "{cut}");
        }
        assert_eq!(decode_envelope(&msg[..end]).unwrap().seq_id, i32::MAX);
    }

    #[test]
    fn rejects_what_is_not_an_envelope() {
        let cases: &[&[u8]] = &[
            b"{}",
            br#"[2,"m",1,0,{}]"#,
            br#"[1,m,1,0,{}]"#,
            br#"[1,"m",9,0,{}]"#,
            br#"[1,"m",1,2147483648,{}]"#,
            br#"[1,"m",1,99999999999999999999,{}]"#,
            br#"[1,"\q",1,0,{}]"#,
            br#"[1,"\ud800x",1,0,{}]"#,
            br#"[1,"\udc00",1,0,{}]"#,
            b"[1,\"\x01\",1,0,{}]",
            b"[1,\"\xff\",1,0,{}]",
            br#"[1,"m"1,0,{}]"#,
            b"[-,",
        ];
        for c in cases {
            assert_eq!(
                decode_envelope(c),
                Err(Stop::Invalid),
                "{}",
                String::from_utf8_lossy(c)
            );
        }
    }

    #[test]
    fn writes_an_exception_its_reader_reads_back() {
        let call = MessageHeader {
            name: "say \"hi\"\n".into(),
            kind: MessageType::Call,
            seq_id: 42,
        };
        let e = ApplicationException::new(ExceptionKind::InvalidProtocol, "no \\ json\u{1}");
        let mut dst = BytesMut::new();
        encode_exception(&call, &e, &mut dst);
        assert_eq!(
            &dst[..],
            br#"[1,"say \"hi\"\n",3,42,{"1":{"str":"no \\ json\u0001"},"2":{"i32":9}}]"#
        );
        let back = decode_envelope(&dst).unwrap();
        assert_eq!(back.name, call.name);
        assert_eq!(back.kind, MessageType::Exception);
        assert_eq!(back.seq_id, 42);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = decode_envelope(&b);
        }

        #[test]
        fn names_roundtrip(name in ".{0,40}", seq in proptest::prelude::any::<i32>()) {
            let call = MessageHeader { name: name.clone(), kind: MessageType::Call, seq_id: seq };
            let mut dst = BytesMut::new();
            encode_exception(&call, &ApplicationException::new(ExceptionKind::Unknown, ""), &mut dst);
            let back = decode_envelope(&dst).unwrap();
            proptest::prop_assert_eq!(back.name, name);
            proptest::prop_assert_eq!(back.seq_id, seq);
        }
    }
}
