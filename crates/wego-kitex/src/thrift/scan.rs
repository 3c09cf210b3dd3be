//! Where an unframed (Buffered) message ends, found by a scan that resumes.
//!
//! Nothing but the message itself says where it ends, so the scan walks
//! its envelope and argument struct. A message arrives over many reads;
//! walking it again from byte 0 after each one would cost O(B) per read,
//! O(B²) for the message, and a peer trickling a 16 MiB message could keep
//! a worker busy for as long as it likes. The scan therefore keeps, in a
//! [`DecodeState`] the connection holds between reads, the containers open
//! at the last value boundary it reached and how long the buffer must be
//! before it can go on: each byte is walked once, and a read that does not
//! bring the bytes the scan waits for costs nothing.
//!
//! The state describes the front of the buffer, so it is valid while the
//! buffer only grows at its end; the scan clears it when it finds the end
//! of a message (the driver then splits the message off) or fails.
//!
//! Every length is checked against the bytes present and the limit, and
//! nesting is bounded by [`MAX_DEPTH`], as in the walker (`walk.rs`).

use std::any::Any;
use std::fmt;

use super::Protocol;
use super::walk::{
    Cursor, MAX_DEPTH, Stop, Walk, collection_header, compact_to_ttype, map_header, ttype,
};

/// Where a decode of a connection's buffer that needed more bytes left off,
/// so that the next decode of the same buffer, grown at its end, resumes
/// there instead of starting over ([`MessageCodec::message_len_resume`],
/// [`FrameCodec::decode_resume`]).
///
/// A driver keeps one per connection, starting from `DecodeState::default()`,
/// and passes it to every decode of that connection's buffer. Binary and
/// Compact keep their scan position in it; a codec written outside
/// wego-kitex keeps its own progress in it with
/// [`codec_state`](Self::codec_state), or ignores it.
///
/// [`MessageCodec::message_len_resume`]: super::MessageCodec::message_len_resume
/// [`FrameCodec::decode_resume`]: crate::transport::FrameCodec::decode_resume
#[derive(Debug, Clone, Default)]
pub struct DecodeState {
    pub(crate) scan: Scan,
    /// A codec's own progress ([`DecodeState::codec_state`]); `None` until
    /// one asks.
    codec: Option<Box<dyn CodecState>>,
}

impl DecodeState {
    /// The progress a codec written outside wego-kitex keeps here between
    /// decodes of the connection's buffer, as Binary and Compact keep
    /// theirs: `T::default()` the first time it is asked for (and when a
    /// `T` was not what was kept).
    ///
    /// It describes the front of the buffer, which only grows at its end
    /// between the decodes it is passed to: the codec sets it back to
    /// `T::default()` when it returns a message's length (the driver then
    /// splits the message off) or an error.
    ///
    /// ```
    /// use wego_kitex::thrift::DecodeState;
    ///
    /// /// How far a scan for a newline got.
    /// #[derive(Debug, Clone, Default)]
    /// struct Scanned(usize);
    ///
    /// fn line_len(buf: &[u8], state: &mut DecodeState) -> Option<usize> {
    ///     let scanned = state.codec_state::<Scanned>();
    ///     match buf[scanned.0..].iter().position(|&b| b == b'\n') {
    ///         Some(i) => {
    ///             let len = scanned.0 + i + 1;
    ///             *scanned = Scanned::default();
    ///             Some(len)
    ///         }
    ///         None => {
    ///             scanned.0 = buf.len();
    ///             None
    ///         }
    ///     }
    /// }
    ///
    /// let mut state = DecodeState::default();
    /// assert_eq!(line_len(b"hel", &mut state), None);
    /// assert_eq!(line_len(b"hello\nwo", &mut state), Some(6));
    /// ```
    pub fn codec_state<T>(&mut self) -> &mut T
    where
        T: Default + Clone + fmt::Debug + Send + Sync + 'static,
    {
        let kept = self.codec.as_deref().is_some_and(|c| c.as_any().is::<T>());
        if !kept {
            self.codec = Some(Box::new(T::default()));
        }
        self.codec
            .as_deref_mut()
            .and_then(|c| c.as_any_mut().downcast_mut::<T>())
            .expect("invariant: a T is kept")
    }
}

/// What [`DecodeState::codec_state`] keeps: any cloneable value, behind a
/// box so that the state stays cloneable.
trait CodecState: fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn clone_box(&self) -> Box<dyn CodecState>;
}

impl<T: Clone + fmt::Debug + Send + Sync + 'static> CodecState for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn clone_box(&self) -> Box<dyn CodecState> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn CodecState> {
    fn clone(&self) -> Self {
        (**self).clone_box()
    }
}

/// The scan's progress through the message at the front of the buffer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scan {
    /// Bytes before this are walked; `open` says what encloses the next.
    pos: usize,
    /// The containers open at `pos`, innermost last; empty until the
    /// envelope is walked (the argument struct is then the first).
    open: Vec<Open>,
    /// The buffer length the scan waits for before it can go on.
    wanted: usize,
    /// Bytes the cursor moved over, in every scan, steps cut short
    /// included (tests read it).
    #[cfg(test)]
    pub(crate) walked: usize,
}

/// A container the scan is inside of.
#[derive(Debug, Clone, Copy)]
enum Open {
    Struct,
    List {
        elem: u8,
        left: usize,
    },
    Map {
        key: u8,
        val: u8,
        left: usize,
        at_value: bool,
    },
}

impl Scan {
    fn reset(&mut self) {
        // The container stack keeps its allocation for the next message.
        self.open.clear();
        self.pos = 0;
        self.wanted = 0;
    }
}

/// Returns the length of the complete message (envelope and argument
/// struct) at the start of `buf`, resuming the scan `st` left off (a fresh
/// state walks from byte 0).
pub(crate) fn message_len(buf: &[u8], proto: Protocol, limit: usize, st: &mut Scan) -> Walk<usize> {
    if buf.len() < st.wanted {
        return Err(Stop::NeedMore);
    }
    if st.pos > buf.len() {
        // Not this buffer's state: start over.
        st.reset();
    }
    let mut cur = Cursor::at(buf, st.pos, limit);
    match walk(&mut cur, proto, st) {
        Ok(()) => {
            let n = st.pos;
            st.reset();
            Ok(n)
        }
        Err(Stop::NeedMore) => {
            st.wanted = cur.wanted();
            Err(Stop::NeedMore)
        }
        Err(e) => {
            st.reset();
            Err(e)
        }
    }
}

/// Walks from `st.pos` to the end of the message, committing each step to
/// `st` only once it is whole: a step cut short leaves `st` at the value
/// boundary before it.
fn walk(cur: &mut Cursor<'_>, proto: Protocol, st: &mut Scan) -> Walk<()> {
    if st.pos == 0 && st.open.is_empty() {
        let r = envelope(cur, proto);
        #[cfg(test)]
        {
            st.walked += cur.pos();
        }
        if let Err(e) = r {
            cur.rewind(0);
            return Err(e);
        }
        st.pos = cur.pos();
        st.open.push(Open::Struct);
    }
    while let Some(top) = st.open.last().copied() {
        let step = step(cur, proto, top, st.open.len());
        match step {
            Ok((top, push)) => {
                #[cfg(test)]
                {
                    st.walked += cur.pos() - st.pos;
                }
                st.pos = cur.pos();
                match top {
                    Some(t) => {
                        if let Some(last) = st.open.last_mut() {
                            *last = t;
                        }
                    }
                    None => {
                        st.open.pop();
                    }
                }
                if let Some(p) = push {
                    st.open.push(p);
                }
            }
            Err(e) => {
                #[cfg(test)]
                {
                    st.walked += cur.pos() - st.pos;
                }
                cur.rewind(st.pos);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The message envelope: binary strict or not, or compact.
fn envelope(cur: &mut Cursor<'_>, proto: Protocol) -> Walk<()> {
    match proto {
        Protocol::Binary | Protocol::BinaryBase64 => {
            let first = cur.i32_be()?;
            if first < 0 {
                // Strict: version word, name, seq id.
                cur.binary(proto)?;
                cur.take(4)?;
            } else {
                // Non-strict: name length already read, name, type, seq id.
                let n = usize::try_from(first).map_err(|_| Stop::Invalid("negative length"))?;
                cur.take(n)?;
                cur.take(1 + 4)?;
            }
        }
        Protocol::Compact => {
            cur.take(2)?;
            cur.varint(5)?;
            cur.binary(proto)?;
        }
    }
    Ok(())
}

/// One step inside `top` (at nesting `depth`): the container as it is
/// after the step (`None`: it ended) and a container the step opened.
fn step(
    cur: &mut Cursor<'_>,
    proto: Protocol,
    top: Open,
    depth: usize,
) -> Walk<(Option<Open>, Option<Open>)> {
    match top {
        Open::Struct => {
            let h = cur.u8()?;
            let ty = match proto {
                Protocol::Binary | Protocol::BinaryBase64 => {
                    if h == ttype::STOP {
                        return Ok((None, None));
                    }
                    cur.i16_be()?;
                    h
                }
                Protocol::Compact => {
                    if h == 0 {
                        return Ok((None, None));
                    }
                    if h >> 4 == 0 {
                        // Long form: the field id follows as a zigzag varint i16.
                        cur.varint(3)?;
                    }
                    match h & 0x0f {
                        // Booleans live in the field header itself.
                        1 | 2 => return Ok((Some(top), None)),
                        t => compact_to_ttype(t)?,
                    }
                }
            };
            Ok((Some(top), value(cur, proto, ty, depth)?))
        }
        Open::List { left: 0, .. } | Open::Map { left: 0, .. } => Ok((None, None)),
        Open::List { elem, left } => {
            // Fixed-size elements: every whole one buffered, in one step.
            if let Some(size) = fixed_size(proto, elem) {
                // They are values at this depth, bounded as `value` bounds
                // each one.
                if depth >= MAX_DEPTH as usize {
                    return Err(Stop::Invalid("nesting too deep"));
                }
                let whole = (cur.remaining() / size).clamp(1, left);
                cur.take(whole * size)?;
                return Ok((
                    Some(Open::List {
                        elem,
                        left: left - whole,
                    }),
                    None,
                ));
            }
            let push = value(cur, proto, elem, depth)?;
            Ok((
                Some(Open::List {
                    elem,
                    left: left - 1,
                }),
                push,
            ))
        }
        Open::Map {
            key,
            val,
            left,
            at_value,
        } => {
            let push = value(cur, proto, if at_value { val } else { key }, depth)?;
            let next = Open::Map {
                key,
                val,
                left: if at_value { left - 1 } else { left },
                at_value: !at_value,
            };
            Ok((Some(next), push))
        }
    }
}

/// The encoded size of an element of type `ty`, when every one has the
/// same.
fn fixed_size(proto: Protocol, ty: u8) -> Option<usize> {
    match (proto, ty) {
        (_, ttype::BOOL | ttype::I8) => Some(1),
        (_, ttype::DOUBLE) => Some(8),
        (_, ttype::UUID) => Some(16),
        (Protocol::Compact, _) => None,
        (_, ttype::I16) => Some(2),
        (_, ttype::I32) => Some(4),
        (_, ttype::I64) => Some(8),
        _ => None,
    }
}

/// One value of type `ty` at nesting `depth`: a scalar or string is walked
/// over; a container's header is read and the container returned, to be
/// walked by the steps that follow.
fn value(cur: &mut Cursor<'_>, proto: Protocol, ty: u8, depth: usize) -> Walk<Option<Open>> {
    if depth >= MAX_DEPTH as usize {
        return Err(Stop::Invalid("nesting too deep"));
    }
    match (proto, ty) {
        (_, ttype::BOOL | ttype::I8) => cur.take(1).map(drop)?,
        (_, ttype::DOUBLE) => cur.take(8).map(drop)?,
        (_, ttype::UUID) => cur.take(16).map(drop)?,
        (Protocol::Compact, ttype::I16) => cur.varint(3).map(drop)?,
        (Protocol::Compact, ttype::I32) => cur.varint(5).map(drop)?,
        (Protocol::Compact, ttype::I64) => cur.varint(10).map(drop)?,
        (_, ttype::I16) => cur.take(2).map(drop)?,
        (_, ttype::I32) => cur.take(4).map(drop)?,
        (_, ttype::I64) => cur.take(8).map(drop)?,
        (_, ttype::STRING) => cur.binary(proto).map(drop)?,
        (_, ttype::STRUCT) => return Ok(Some(Open::Struct)),
        (_, ttype::LIST | ttype::SET) => {
            let (elem, left) = collection_header(cur, proto)?;
            cur.reserve(left)?;
            return Ok(Some(Open::List { elem, left }));
        }
        (_, ttype::MAP) => {
            let (key, val, left) = map_header(cur, proto)?;
            cur.reserve(left.saturating_mul(2))?;
            return Ok(Some(Open::Map {
                key,
                val,
                left,
                at_value: false,
            }));
        }
        _ => return Err(Stop::Invalid("unknown field type")),
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::walk::skip;

    /// A strict binary call `m` whose argument struct is `body`.
    fn call(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0x80, 1, 0, 1, 0, 0, 0, 1, b'm', 0, 0, 0, 1];
        m.extend_from_slice(body);
        m
    }

    /// Scans `msg` fed `chunk` bytes at a time, as reads bring it; returns
    /// the length found, once the whole message is in, and the bytes
    /// walked.
    fn trickle(msg: &[u8], proto: Protocol, chunk: usize) -> (usize, usize) {
        let mut st = Scan::default();
        for end in (chunk..msg.len()).step_by(chunk) {
            assert_eq!(
                message_len(&msg[..end], proto, 1 << 30, &mut st),
                Err(Stop::NeedMore),
                "complete at {end} of {}",
                msg.len()
            );
        }
        let n = message_len(msg, proto, 1 << 30, &mut st).unwrap();
        (n, st.walked)
    }

    #[test]
    fn a_trickled_message_is_walked_once() {
        // { 1: list<string> of 100 000 one-byte strings, 2: list<bool> of
        // 1 Mi }, then a byte of the next message.
        let strings = 100_000u32;
        let mut body = vec![15, 0, 1, 11];
        body.extend_from_slice(&strings.to_be_bytes());
        for _ in 0..strings {
            body.extend_from_slice(&[0, 0, 0, 1, b's']);
        }
        let bools = 1u32 << 20;
        body.extend_from_slice(&[15, 0, 2, 2]);
        body.extend_from_slice(&bools.to_be_bytes());
        body.resize(body.len() + bools as usize, 1);
        body.push(0);
        let mut msg = call(&body);
        let len = msg.len();
        msg.push(0x80);
        let (n, walked) = trickle(&msg, Protocol::Binary, 1000);
        assert_eq!(n, len);
        // Each byte once, plus the start of a value cut by a read: a scan
        // from byte 0 after every read would walk the message's bytes
        // about len / 2000 times (some 800 MB here).
        assert!(
            walked < 2 * len,
            "walked {walked} bytes of a {len}-byte message"
        );
    }

    #[test]
    fn finds_the_same_end_as_the_walker_at_every_cut() {
        // { 1: map<i32, list<struct { 1: string }>>, 2: i64 } in binary.
        let mut b = vec![13, 0, 1, 8, 15, 0, 0, 0, 2];
        for k in 0..2u8 {
            b.extend_from_slice(&[0, 0, 0, k, 12, 0, 0, 0, 2]);
            for _ in 0..2 {
                b.extend_from_slice(&[11, 0, 1, 0, 0, 0, 3, b'a', b'b', b'c', 0]);
            }
        }
        b.extend_from_slice(&[10, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9, 0]);
        let mut cur = Cursor::new(&b, 1 << 20);
        skip(&mut cur, Protocol::Binary, ttype::STRUCT, MAX_DEPTH).unwrap();
        assert_eq!(cur.pos(), b.len());
        let msg = call(&b);
        for chunk in 1..=msg.len() {
            assert_eq!(
                trickle(&msg, Protocol::Binary, chunk).0,
                msg.len(),
                "{chunk}"
            );
        }
    }

    #[test]
    fn compact_bools_and_long_field_ids() {
        // Compact call "m": field 1 bool true (short form), field 300 i32
        // (long form), a list<i64> of 2, STOP.
        let msg = [
            0x82, 0x21, 0x01, 0x01, b'm', 0x11, 0x05, 0xd8, 0x04, 0x0e, 0x19, 0x26, 0x02, 0x04,
            0x00,
        ];
        for chunk in 1..=msg.len() {
            assert_eq!(
                trickle(&msg, Protocol::Compact, chunk).0,
                msg.len(),
                "{chunk}"
            );
        }
    }

    #[test]
    fn a_codecs_own_state_is_kept_cloned_and_replaced_by_another_type() {
        #[derive(Debug, Clone, Default, PartialEq)]
        struct Seen(usize);
        let mut st = DecodeState::default();
        assert_eq!(*st.codec_state::<Seen>(), Seen(0));
        st.codec_state::<Seen>().0 = 5;
        let copy = st.clone();
        st.codec_state::<Seen>().0 = 6;
        assert_eq!(*copy.clone().codec_state::<Seen>(), Seen(5));
        assert_eq!(*st.codec_state::<Seen>(), Seen(6));
        // Another type of state starts from its default.
        assert_eq!(*st.codec_state::<u32>(), 0);
        assert_eq!(*st.codec_state::<Seen>(), Seen(0));
    }

    #[test]
    fn nesting_is_bounded_as_in_the_walker_for_fixed_size_elements_too() {
        // Field 1: `lists` lists nested one in another, the innermost a
        // list<i32> of one element, then STOP.
        let nested = |lists: usize| {
            let mut b = vec![15, 0, 1];
            for _ in 1..lists {
                b.extend_from_slice(&[15, 0, 0, 0, 1]);
            }
            b.extend_from_slice(&[8, 0, 0, 0, 1, 0, 0, 0, 7, 0]);
            b
        };
        for lists in [62, 63, 64] {
            let body = nested(lists);
            let mut cur = Cursor::new(&body, 1 << 20);
            let walker = skip(&mut cur, Protocol::Binary, ttype::STRUCT, MAX_DEPTH)
                .map(|()| call(&body).len());
            let mut st = Scan::default();
            let scan = message_len(&call(&body), Protocol::Binary, 1 << 20, &mut st);
            assert_eq!(scan, walker, "{lists} nested lists");
        }
    }

    #[test]
    fn limits_and_malformed_input_are_errors_and_clear_the_state() {
        let mut st = Scan::default();
        // A list claiming 2^31-1 elements is too large for a 1 MiB limit.
        let msg = call(&[15, 0, 1, 8, 0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(
            message_len(&msg, Protocol::Binary, 1 << 20, &mut st),
            Err(Stop::TooLarge)
        );
        assert_eq!((st.pos, st.open.len()), (0, 0));
        // 100 nested lists of lists, each with one element.
        let mut body = vec![15, 0, 1];
        for _ in 0..100 {
            body.extend_from_slice(&[15, 0, 0, 0, 1]);
        }
        assert_eq!(
            message_len(&call(&body), Protocol::Binary, 1 << 20, &mut st),
            Err(Stop::Invalid("nesting too deep"))
        );
        let msg = call(&[0x55, 0, 1, 0]);
        assert!(matches!(
            message_len(&msg, Protocol::Binary, 1 << 20, &mut st),
            Err(Stop::Invalid(_))
        ));
    }
}
