//! The event-stream parser, sans-IO (HTML Living Standard, "Server-sent
//! events", §9.2.6 "Interpreting an event stream").
//!
//! Bytes go in with [`EventParser::push`]; complete events come out of
//! [`EventParser::next_event`]. Lines end with CRLF, LF or CR; a CR at the
//! end of the input ends its line at once and a LF that follows it later
//! is skipped. Lines are split on bytes (UTF-8 never encodes CR or LF
//! inside a character) and decoded with replacement characters, as the
//! standard asks. A leading BOM is skipped once.
//!
//! Memory is bounded by the maximum event size: a line, or the fields of
//! one event, past it is an error rather than a larger buffer. Work is
//! linear in the input: the search for a line end resumes where the last
//! one stopped, so a long line sent in tiny pieces is searched once.

use std::time::Duration;

use bytes::{Buf, BytesMut};

/// The default maximum event size: 1 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 1 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why an event stream could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A line, or the fields of one event, is larger than the limit.
    #[error("event larger than the limit of {limit} bytes")]
    EventTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Reading the body failed.
    #[error("reading the event stream failed")]
    Body(#[source] crate::BoxError),
    /// Opening the stream (or reopening it to reconnect) failed.
    #[error("opening the event stream failed")]
    Connect(#[source] crate::BoxError),
}

/// One event received: its type, data and the stream's last event id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageEvent {
    /// The `event` field, `message` when the event had none.
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
    /// The last `id` the stream set, at this event or before (empty if
    /// none).
    pub id: String,
}

/// A sans-IO event-stream parser with a maximum event size.
#[derive(Debug)]
pub struct EventParser {
    buf: BytesMut,
    /// Bytes of `buf` already known to hold no line end: the next search
    /// for one starts after them, so a long line that arrives in small
    /// pieces is searched once, not once per piece.
    scanned: usize,
    /// How many bytes the searches for line ends have looked at.
    #[cfg(test)]
    searched: usize,
    max: usize,
    /// Whether the BOM check is done.
    started: bool,
    /// The last line ended with CR: a LF first in the input belongs to it.
    after_cr: bool,
    data: String,
    event: String,
    last_id: String,
    retry: Option<Duration>,
}

impl Default for EventParser {
    fn default() -> Self {
        Self::new()
    }
}

impl EventParser {
    /// A parser with the default maximum event size (1 MiB).
    pub fn new() -> Self {
        Self::with_max_event_size(DEFAULT_MAX_EVENT_SIZE)
    }

    /// A parser whose lines and events may hold at most `max` bytes.
    pub fn with_max_event_size(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            scanned: 0,
            #[cfg(test)]
            searched: 0,
            max,
            started: false,
            after_cr: false,
            data: String::new(),
            event: String::new(),
            last_id: String::new(),
            retry: None,
        }
    }

    /// Continues from an earlier stream's last event id, as a reconnection
    /// does.
    pub fn with_last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_id = id.into();
        self
    }

    /// The last event id the stream set (empty if none).
    pub fn last_event_id(&self) -> &str {
        &self.last_id
    }

    /// The reconnection delay the stream set with `retry`, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Appends bytes of the stream.
    ///
    /// # Errors
    ///
    /// [`SseError::EventTooLarge`] when a line is still unfinished past the
    /// maximum event size.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        self.buf.extend_from_slice(bytes);
        match self.find_line_end() {
            Some(_) => {}
            None if self.buf.len() > self.max.saturating_add(BOM.len()) => {
                return Err(SseError::EventTooLarge { limit: self.max });
            }
            None => self.scanned = self.buf.len(),
        }
        Ok(())
    }

    /// The next complete event, `None` until more bytes arrive. Lines are
    /// taken out of the buffer as they are read.
    ///
    /// # Errors
    ///
    /// [`SseError::EventTooLarge`] when the fields of one event, or a
    /// line, are larger than the maximum event size.
    pub fn next_event(&mut self) -> Result<Option<MessageEvent>, SseError> {
        if !self.started {
            let n = self.buf.len().min(BOM.len());
            if self.buf[..n] != BOM[..n] {
                self.started = true;
            } else if n == BOM.len() {
                self.buf.advance(BOM.len());
                self.scanned = self.scanned.saturating_sub(BOM.len());
                self.started = true;
            } else {
                // A prefix of the BOM: wait for the rest.
                return Ok(None);
            }
        }
        loop {
            // The LF of a CRLF split between pushes: skip it once.
            if self.after_cr && !self.buf.is_empty() {
                if self.buf[0] == b'\n' {
                    self.buf.advance(1);
                    self.scanned = self.scanned.saturating_sub(1);
                }
                self.after_cr = false;
            }
            let Some(end) = self.find_line_end() else {
                self.scanned = self.buf.len();
                if self.buf.len() > self.max {
                    return Err(SseError::EventTooLarge { limit: self.max });
                }
                return Ok(None);
            };
            if end > self.max {
                return Err(SseError::EventTooLarge { limit: self.max });
            }
            let line = self.buf.split_to(end);
            match self.buf.first() {
                Some(b'\r') => {
                    self.buf.advance(1);
                    if self.buf.first() == Some(&b'\n') {
                        self.buf.advance(1);
                    } else if self.buf.is_empty() {
                        self.after_cr = true;
                    }
                }
                _ => self.buf.advance(1),
            }
            self.scanned = 0;
            if let Some(event) = self.line(&line)? {
                return Ok(Some(event));
            }
        }
    }

    /// The index of the first CR or LF in `buf`, searched from `scanned`
    /// on.
    fn find_line_end(&mut self) -> Option<usize> {
        let from = self.scanned.min(self.buf.len());
        #[cfg(test)]
        {
            self.searched += self.buf.len() - from;
        }
        memchr::memchr2(b'\n', b'\r', &self.buf[from..]).map(|i| from + i)
    }

    /// Processes one line; an empty one dispatches the event.
    fn line(&mut self, line: &[u8]) -> Result<Option<MessageEvent>, SseError> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            b"data" => {
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
            }
            // An id with NUL is ignored (it could not be sent back in
            // Last-Event-ID).
            b"id" if !value.contains(&0) => {
                self.last_id = String::from_utf8_lossy(value).into_owned();
            }
            b"retry" => {
                if !value.is_empty()
                    && value.iter().all(u8::is_ascii_digit)
                    && let Some(ms) = std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
        if self.data.len() + self.event.len() + self.last_id.len() > self.max {
            return Err(SseError::EventTooLarge { limit: self.max });
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<MessageEvent> {
        if self.data.is_empty() {
            self.event.clear();
            return None;
        }
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event = if self.event.is_empty() {
            "message".to_owned()
        } else {
            std::mem::take(&mut self.event)
        };
        Some(MessageEvent {
            event,
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<MessageEvent> {
        let mut p = EventParser::new();
        p.push(input).unwrap();
        let mut out = Vec::new();
        while let Some(e) = p.next_event().unwrap() {
            out.push(e);
        }
        out
    }

    fn ev(event: &str, data: &str, id: &str) -> MessageEvent {
        MessageEvent {
            event: event.into(),
            data: data.into(),
            id: id.into(),
        }
    }

    #[test]
    fn parses_fields_and_joins_data_lines() {
        let got = all(b"event: add\nid: 7\ndata: a\ndata:b\ndata\n\n: comment\ndata: c\n\n");
        assert_eq!(got, vec![ev("add", "a\nb\n", "7"), ev("message", "c", "7")]);
    }

    #[test]
    fn every_line_ending_works_and_each_byte_split_too() {
        let input =
            b"\xEF\xBB\xBFdata: one\r\n\r\ndata: two\r\rdata: three\n\nid: x\r\ndata: 4\r\r";
        let expected = vec![
            ev("message", "one", ""),
            ev("message", "two", ""),
            ev("message", "three", ""),
            ev("message", "4", "x"),
        ];
        assert_eq!(all(input), expected);
        // Byte by byte: a CR at the end of the input, the BOM in pieces.
        let mut p = EventParser::new();
        let mut got = Vec::new();
        for b in input {
            p.push(&[*b]).unwrap();
            while let Some(e) = p.next_event().unwrap() {
                got.push(e);
            }
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn a_lf_after_a_split_crlf_is_skipped_once_only() {
        // The CR ends one push and its LF starts the next; the LF after
        // that is an empty line and dispatches the event.
        let mut p = EventParser::new();
        let mut got = Vec::new();
        for piece in [&b"data: a\r"[..], b"\n", b"\n"] {
            p.push(piece).unwrap();
            while let Some(e) = p.next_event().unwrap() {
                got.push(e);
            }
        }
        assert_eq!(got, vec![ev("message", "a", "")]);
    }

    #[test]
    fn bom_is_skipped_once_only() {
        let got = all(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n");
        // The second BOM is part of a field name, so that line is ignored.
        assert_eq!(got, vec![ev("message", "y", "")]);
    }

    #[test]
    fn events_without_data_are_not_dispatched_and_reset_the_type() {
        assert_eq!(
            all(b"event: x\n\ndata: d\n\n"),
            vec![ev("message", "d", "")]
        );
        assert!(all(b"id: 1\n\n").is_empty());
        // An unfinished event at the end is not dispatched.
        assert!(all(b"data: half\n").is_empty());
    }

    #[test]
    fn retry_takes_digits_only_and_id_rejects_nul() {
        let mut p = EventParser::new();
        p.push(b"retry: 1500\nretry: 1x\nretry:\nid: a\0b\ndata: d\n\n")
            .unwrap();
        let e = p.next_event().unwrap().unwrap();
        assert_eq!(p.retry(), Some(Duration::from_millis(1500)));
        assert_eq!(e.id, "");
        let mut p = EventParser::new().with_last_event_id("9");
        p.push(b"data: d\n\nid\ndata: e\n\n").unwrap();
        assert_eq!(p.next_event().unwrap().unwrap().id, "9");
        assert_eq!(
            p.next_event().unwrap().unwrap().id,
            "",
            "a bare id clears it"
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(
            all(b"data: \xff!\n\n"),
            vec![ev("message", "\u{fffd}!", "")]
        );
    }

    #[test]
    fn an_endless_line_is_an_error_not_a_bigger_buffer() {
        let mut p = EventParser::with_max_event_size(64);
        p.push(&[b'a'; 60]).unwrap();
        let e = p.push(&[b'a'; 60]).unwrap_err();
        assert!(matches!(e, SseError::EventTooLarge { limit: 64 }), "{e}");
        assert_eq!(e.to_string(), "event larger than the limit of 64 bytes");
    }

    #[test]
    fn an_event_of_many_small_lines_is_bounded_too() {
        let mut p = EventParser::with_max_event_size(64);
        p.push(&b"data: 0123456789\n".repeat(10)).unwrap();
        assert!(matches!(
            p.next_event(),
            Err(SseError::EventTooLarge { limit: 64 })
        ));
    }

    #[test]
    fn a_line_that_arrives_byte_by_byte_is_searched_once() {
        let mut p = EventParser::new();
        let n = 64 * 1024;
        p.push(b"data: ").unwrap();
        assert!(p.next_event().unwrap().is_none());
        for _ in 0..n {
            p.push(b"x").unwrap();
            assert!(p.next_event().unwrap().is_none());
        }
        // Each byte is looked at by `push` alone: `next_event` starts
        // where the last search stopped.
        assert_eq!(p.searched, 6 + n);
        p.push(b"\n\n").unwrap();
        let e = p.next_event().unwrap().unwrap();
        assert_eq!(e.data.len(), n);
    }

    #[test]
    fn a_long_line_in_one_push_is_an_error() {
        let mut p = EventParser::with_max_event_size(16);
        let mut input = b"data: ".to_vec();
        input.extend([b'x'; 100]);
        input.extend(b"\n\n");
        p.push(&input).unwrap();
        assert!(p.next_event().is_err());
    }

    /// Feeds `data` in pieces of `step` bytes; the events, and whether it
    /// failed.
    fn in_pieces(data: &[u8], step: usize, max: usize) -> (Vec<MessageEvent>, bool) {
        let mut p = EventParser::with_max_event_size(max);
        let mut events = Vec::new();
        for piece in data.chunks(step) {
            if p.push(piece).is_err() {
                return (events, true);
            }
            loop {
                match p.next_event() {
                    Ok(Some(e)) => events.push(e),
                    Ok(None) => break,
                    Err(_) => return (events, true),
                }
            }
        }
        (events, false)
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Pieces of event streams, line ends and bytes that are not UTF-8
        /// among them.
        fn token() -> impl Strategy<Value = &'static [u8]> {
            proptest::sample::select(vec![
                &b"data"[..],
                b"event",
                b"id",
                b"retry",
                b":",
                b" ",
                b"\n",
                b"\r",
                b"\r\n",
                b"x",
                b"12",
                b"\xEF\xBB\xBF",
                b"\xff",
                b"\0",
                b"0123456789abcdef",
            ])
        }

        proptest! {
            /// Any split of the input gives the events and the outcome of
            /// the whole: line ends, a CR and its LF, and a BOM split
            /// between pieces included.
            #[test]
            fn pieces_agree_with_the_whole(
                tokens in proptest::collection::vec(token(), 0..80),
                step in 1usize..17,
                max in 8usize..64,
            ) {
                let data = tokens.concat();
                let whole = in_pieces(&data, data.len().max(1), max);
                prop_assert_eq!(&whole, &in_pieces(&data, step, max));
                for e in &whole.0 {
                    // "message", the type an event without an `event` field gets,
                    // is not read from the stream and not counted.
                    let event = if e.event == "message" { 0 } else { e.event.len() };
                    prop_assert!(e.data.len() + event <= max + 1, "{:?} max={}", e, max);
                }
            }
        }
    }
}
