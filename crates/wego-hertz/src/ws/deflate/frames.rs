//! permessage-deflate on the frame stream, sans IO: [`Inbound`] turns the
//! peer's compressed frames into plain ones, [`Outbound`] compresses the
//! data frames tungstenite writes.
//!
//! Both sides work on whole frames and leave every frame they do not
//! transform byte for byte as it was, so tungstenite still sees, and
//! fails the connection on, everything RFC 6455 forbids (a reserved bit
//! on a control frame or a continuation, an unmasked client frame, a
//! reserved opcode). Only a well-formed compressed message is rewritten.

use bytes::{BufMut, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::DeflateError;

/// The four bytes a sync flush ends with, taken off each compressed
/// message and put back before inflating it (RFC 7692 §7.2.1–2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most plain bytes one inflated frame carries; a wire frame that
/// inflates to more becomes several fragments.
const CHUNK: usize = 64 * 1024;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;

/// A frame head (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) fin: bool,
    pub(crate) rsv1: bool,
    /// RSV2 or RSV3 set.
    pub(crate) rsv_other: bool,
    pub(crate) opcode: u8,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) len: u64,
    /// Bytes of the head itself.
    pub(crate) head_len: usize,
}

impl Head {
    /// Parses the head at the start of `buf`; `None` until all of it is
    /// there.
    pub(crate) fn parse(buf: &[u8]) -> Option<Self> {
        let (&b0, rest) = buf.split_first()?;
        let (&b1, rest) = rest.split_first()?;
        let (len, mut at) = match b1 & 0x7f {
            126 => (
                u64::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
                4,
            ),
            127 => {
                let bytes: [u8; 8] = rest.get(..8)?.try_into().ok()?;
                (u64::from_be_bytes(bytes), 10)
            }
            n => (u64::from(n), 2),
        };
        let mask = if b1 & 0x80 != 0 {
            let key: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
            at += 4;
            Some(key)
        } else {
            None
        };
        Some(Self {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv_other: b0 & 0x30 != 0,
            opcode: b0 & 0x0f,
            mask,
            len,
            head_len: at,
        })
    }

    /// Writes a head for `len` payload bytes.
    pub(crate) fn write(
        fin: bool,
        rsv1: bool,
        opcode: u8,
        mask: Option<[u8; 4]>,
        len: usize,
        out: &mut BytesMut,
    ) {
        out.put_u8(u8::from(fin) << 7 | u8::from(rsv1) << 6 | (opcode & 0x0f));
        let m = if mask.is_some() { 0x80 } else { 0 };
        match len {
            0..=125 => out.put_u8(m | len as u8),
            126..=0xffff => {
                out.put_u8(m | 126);
                out.put_u16(len as u16);
            }
            _ => {
                out.put_u8(m | 127);
                out.put_u64(len as u64);
            }
        }
        if let Some(key) = mask {
            out.put_slice(&key);
        }
    }
}

/// XORs `data` with the masking key (RFC 6455 §5.3); applying it twice
/// restores the data.
pub(crate) fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// The largest payload a frame may carry, checked on its head.
fn frame_len(head: &Head, max_frame: usize) -> Result<usize, DeflateError> {
    usize::try_from(head.len)
        .ok()
        .filter(|&n| n <= max_frame)
        .ok_or(DeflateError::FrameTooBig)
}

/// The receiving side: inflates the peer's compressed messages.
pub(crate) struct Inbound {
    inflater: Decompress,
    /// Frames from the peer must be masked (this side is the server).
    server: bool,
    max_frame: usize,
    max_message: usize,
    /// A data message is in progress (its final frame has not come).
    in_message: bool,
    /// The message in progress is compressed.
    compressed: bool,
    /// The opcode of the compressed message in progress, until its first
    /// plain frame is written.
    opcode: Option<u8>,
    /// Plain bytes of the compressed message in progress.
    inflated: usize,
    /// Where a frame inflates to, one plain frame's worth; allocated with
    /// the first compressed frame and kept for the connection's life.
    scratch: Box<[u8]>,
}

impl Inbound {
    pub(crate) fn new(server: bool, max_frame: usize, max_message: usize) -> Self {
        Self {
            inflater: Decompress::new(false),
            server,
            max_frame,
            max_message,
            in_message: false,
            compressed: false,
            opcode: None,
            inflated: 0,
            scratch: Box::default(),
        }
    }

    /// Moves every whole frame at the front of `wire` to `plain`,
    /// inflating compressed ones; a partial frame stays in `wire`.
    ///
    /// # Errors
    ///
    /// [`DeflateError`]: a frame over the limit, a compressed message that
    /// inflates past the message limit, or data that is not DEFLATE.
    pub(crate) fn decode(
        &mut self,
        wire: &mut BytesMut,
        plain: &mut BytesMut,
    ) -> Result<(), DeflateError> {
        while let Some(head) = Head::parse(wire) {
            let len = frame_len(&head, self.max_frame)?;
            let total = head.head_len + len;
            if wire.len() < total {
                wire.reserve(total - wire.len());
                return Ok(());
            }
            let mut frame = wire.split_to(total);
            let masked_right = head.mask.is_some() == self.server;
            let is_data = matches!(head.opcode, OP_TEXT | OP_BINARY);
            let no_rsv = !head.rsv1 && !head.rsv_other;
            if is_data && head.rsv1 && !head.rsv_other && !self.in_message && masked_right {
                self.in_message = !head.fin;
                self.compressed = true;
                self.opcode = Some(head.opcode);
                self.inflated = 0;
                self.inflate(&head, frame.split_off(head.head_len), plain)?;
            } else if head.opcode == OP_CONTINUATION
                && no_rsv
                && self.in_message
                && self.compressed
                && masked_right
            {
                self.in_message = !head.fin;
                self.inflate(&head, frame.split_off(head.head_len), plain)?;
            } else {
                // Passed on as it is; tungstenite judges it.
                if is_data && no_rsv && !self.in_message {
                    self.in_message = !head.fin;
                    self.compressed = false;
                } else if head.opcode == OP_CONTINUATION && no_rsv && self.in_message {
                    self.in_message = !head.fin;
                }
                plain.extend_from_slice(&frame);
            }
        }
        Ok(())
    }

    /// Inflates one frame's payload into plain frames of at most
    /// [`CHUNK`] bytes; the last carries the frame's FIN.
    fn inflate(
        &mut self,
        head: &Head,
        mut payload: BytesMut,
        plain: &mut BytesMut,
    ) -> Result<(), DeflateError> {
        if let Some(key) = head.mask {
            apply_mask(&mut payload, key);
        }
        let chunk = CHUNK.min(self.max_frame.max(1));
        let mut out = std::mem::take(&mut self.scratch);
        if out.len() != chunk {
            out = vec![0; chunk].into_boxed_slice();
        }
        let mut filled = 0;
        let tail: &[u8] = if head.fin { &TAIL } else { &[] };
        let mut ended = false;
        for part in [&payload[..], tail] {
            let mut input = part;
            while !ended {
                let (before_in, before_out) = (self.inflater.total_in(), self.inflater.total_out());
                let status = self
                    .inflater
                    .decompress(input, &mut out[filled..], FlushDecompress::Sync)
                    .map_err(|_| DeflateError::Corrupt)?;
                let read = usize::try_from(self.inflater.total_in() - before_in)
                    .map_err(|_| DeflateError::Corrupt)?;
                let wrote = usize::try_from(self.inflater.total_out() - before_out)
                    .map_err(|_| DeflateError::Corrupt)?;
                input = &input[read..];
                filled += wrote;
                self.inflated += wrote;
                if self.inflated > self.max_message {
                    return Err(DeflateError::MessageTooBig);
                }
                if status == Status::StreamEnd {
                    // A final DEFLATE block ends the message's stream: what
                    // follows it is ignored, and the next message starts a
                    // fresh stream.
                    self.inflater.reset(false);
                    ended = true;
                }
                if filled == out.len() {
                    self.emit(false, &out, plain);
                    filled = 0;
                } else if input.is_empty() {
                    break;
                } else if read == 0 && wrote == 0 {
                    return Err(DeflateError::Corrupt);
                }
            }
        }
        if head.fin || filled > 0 {
            self.emit(head.fin, &out[..filled], plain);
        }
        self.scratch = out;
        Ok(())
    }

    /// Writes one plain frame of the compressed message in progress: the
    /// first carries the message's opcode, the rest are continuations;
    /// the server's are masked with a zero key (which changes nothing) as
    /// tungstenite asks of client frames.
    fn emit(&mut self, fin: bool, payload: &[u8], plain: &mut BytesMut) {
        let opcode = self.opcode.take().unwrap_or(OP_CONTINUATION);
        let mask = self.server.then_some([0; 4]);
        Head::write(fin, false, opcode, mask, payload.len(), plain);
        plain.extend_from_slice(payload);
    }
}

/// The sending side: compresses every data message tungstenite writes.
pub(crate) struct Outbound {
    deflater: Compress,
    /// Reset the compressor after each message (no context takeover).
    reset: bool,
    /// A data message is in progress.
    in_message: bool,
}

impl Outbound {
    pub(crate) fn new(level: u32, reset: bool) -> Self {
        Self {
            deflater: Compress::new(Compression::new(level), false),
            reset,
            in_message: false,
        }
    }

    /// Moves every whole frame at the front of `plain` to `wire`,
    /// compressing data frames; a partial frame stays in `plain`.
    ///
    /// # Errors
    ///
    /// [`DeflateError::Corrupt`] if the compressor fails, which it does
    /// only on a broken internal state.
    pub(crate) fn encode(
        &mut self,
        plain: &mut BytesMut,
        wire: &mut BytesMut,
    ) -> Result<(), DeflateError> {
        while let Some(head) = Head::parse(plain) {
            let Ok(len) = usize::try_from(head.len) else {
                return Err(DeflateError::FrameTooBig);
            };
            let total = head.head_len + len;
            if plain.len() < total {
                plain.reserve(total - plain.len());
                return Ok(());
            }
            let mut frame = plain.split_to(total);
            let first = matches!(head.opcode, OP_TEXT | OP_BINARY) && !self.in_message;
            let next = head.opcode == OP_CONTINUATION && self.in_message;
            if !(first || next) || head.rsv1 || head.rsv_other {
                wire.extend_from_slice(&frame);
                continue;
            }
            self.in_message = !head.fin;
            let mut payload = frame.split_off(head.head_len);
            if let Some(key) = head.mask {
                apply_mask(&mut payload, key);
            }
            let mut out = self.compress(&payload, head.fin)?;
            if let Some(key) = head.mask {
                apply_mask(&mut out, key);
            }
            Head::write(head.fin, first, head.opcode, head.mask, out.len(), wire);
            wire.extend_from_slice(&out);
        }
        Ok(())
    }

    /// Compresses one frame's payload with a sync flush; a message's last
    /// frame loses the flush's four-byte tail.
    fn compress(&mut self, payload: &[u8], fin: bool) -> Result<Vec<u8>, DeflateError> {
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        let mut input = payload;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            let before = self.deflater.total_in();
            self.deflater
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|_| DeflateError::Corrupt)?;
            let read = usize::try_from(self.deflater.total_in() - before)
                .map_err(|_| DeflateError::Corrupt)?;
            input = &input[read..];
            // The flush is complete once all input is in and the output
            // did not fill the space it had.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if fin {
            if out.ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
            }
            if self.reset {
                self.deflater.reset();
            }
        }
        Ok(out)
    }
}

/// The `ws_deflate` fuzz target's entry: `data` as the peer's frame
/// stream (cut at `split`, in both roles) must decode or fail with a
/// [`DeflateError`]; `data` as a message compressed and inflated again
/// must come back unchanged.
pub(crate) fn fuzz(data: &[u8], split: usize) {
    for server in [true, false] {
        let mut inbound = Inbound::new(server, 1 << 16, 1 << 20);
        let mut plain = BytesMut::new();
        let cut = split.min(data.len());
        let mut wire = BytesMut::from(&data[..cut]);
        if inbound.decode(&mut wire, &mut plain).is_ok() {
            wire.extend_from_slice(&data[cut..]);
            let _ = inbound.decode(&mut wire, &mut plain);
        }
    }
    let received = round_trip(data, split, [7, 1, 2, 9]);
    assert_eq!(
        received.as_deref(),
        Ok(data),
        "a compressed message inflates to itself"
    );
}

/// Sends `data` as a binary message cut into two fragments at `split`,
/// from a client (masked with `key`) through an [`Outbound`] and a
/// server's [`Inbound`]; returns what was sent and the payloads of the
/// plain frames that came out, joined.
pub(crate) fn round_trip(data: &[u8], split: usize, key: [u8; 4]) -> Result<Vec<u8>, DeflateError> {
    let cut = split.min(data.len());
    let mut plain = BytesMut::new();
    for (fin, opcode, part) in [
        (false, OP_BINARY, &data[..cut]),
        (true, OP_CONTINUATION, &data[cut..]),
    ] {
        let mut masked = part.to_vec();
        apply_mask(&mut masked, key);
        Head::write(fin, false, opcode, Some(key), masked.len(), &mut plain);
        plain.extend_from_slice(&masked);
    }
    let mut wire = BytesMut::new();
    let mut out = Outbound::new(6, false);
    out.encode(&mut plain, &mut wire)?;
    let mut inbound = Inbound::new(true, usize::MAX, usize::MAX);
    let mut decoded = BytesMut::new();
    inbound.decode(&mut wire, &mut decoded)?;
    let mut received = Vec::new();
    while let Some(head) = Head::parse(&decoded) {
        let len = usize::try_from(head.len).map_err(|_| DeflateError::FrameTooBig)?;
        let mut frame = decoded.split_to(head.head_len + len);
        let mut payload = frame.split_off(head.head_len);
        if let Some(k) = head.mask {
            apply_mask(&mut payload, k);
        }
        received.extend_from_slice(&payload);
    }
    Ok(received)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` as a client reading a server (or the reverse).
    fn decode(server: bool, wire: &[u8]) -> Result<Vec<u8>, DeflateError> {
        let mut inbound = Inbound::new(server, 1 << 20, 1 << 20);
        let mut wire = BytesMut::from(wire);
        let mut plain = BytesMut::new();
        inbound.decode(&mut wire, &mut plain)?;
        assert!(wire.is_empty(), "whole frames are consumed");
        Ok(plain.to_vec())
    }

    /// The (fin, opcode, payload) of each plain frame, unmasked.
    fn frames(mut plain: BytesMut) -> Vec<(bool, u8, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(head) = Head::parse(&plain) {
            let mut frame = plain.split_to(head.head_len + head.len as usize);
            let mut payload = frame.split_off(head.head_len);
            if let Some(key) = head.mask {
                apply_mask(&mut payload, key);
            }
            assert!(!head.rsv1, "plain frames carry no rsv1");
            out.push((head.fin, head.opcode, payload.to_vec()));
        }
        assert!(plain.is_empty());
        out
    }

    #[test]
    fn inflates_the_rfc_7692_examples() {
        // §7.2.3.1: one compressed frame.
        let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(decode(false, &hello).unwrap(), b"\x81\x05Hello");
        // §7.2.3.2: the same message in two fragments.
        let split = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        let got = frames(BytesMut::from(&decode(false, &split).unwrap()[..]));
        let joined: Vec<u8> = got.iter().flat_map(|f| f.2.clone()).collect();
        assert_eq!(joined, b"Hello");
        assert_eq!(got.first().map(|f| f.1), Some(OP_TEXT));
        assert!(
            got.last().unwrap().0
                && got[..got.len() - 1]
                    .iter()
                    .all(|f| !f.0 && f.1 == 0 || f.1 == OP_TEXT)
        );
        // §7.2.3.3: a stored (uncompressed) DEFLATE block.
        let stored = [
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(decode(false, &stored).unwrap(), b"\x81\x05Hello");
        // §7.2.3.2: the second message refers back to the first
        // (context takeover).
        let mut two = hello.to_vec();
        two.extend_from_slice(&[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
        assert_eq!(decode(false, &two).unwrap(), b"\x81\x05Hello\x81\x05Hello");
    }

    #[test]
    fn a_server_unmasks_and_hands_tungstenite_masked_frames() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut payload = vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        apply_mask(&mut payload, key);
        let mut wire = vec![0xc1, 0x87];
        wire.extend_from_slice(&key);
        wire.extend_from_slice(&payload);
        let plain = decode(true, &wire).unwrap();
        // Masked with a zero key: the payload reads as it is.
        assert_eq!(plain, b"\x81\x85\0\0\0\0Hello");
    }

    #[test]
    fn passes_on_what_it_does_not_rewrite() {
        for wire in [
            // An uncompressed message.
            &b"\x81\x02hi"[..],
            // A ping between fragments of an uncompressed message.
            b"\x01\x01a\x89\x00\x80\x01b",
            // rsv1 on a control frame, on a continuation, and rsv2.
            b"\xc9\x00",
            b"\x01\x01a\xc0\x01b",
            b"\xa1\x01a",
            // A reserved opcode.
            b"\x83\x00",
        ] {
            assert_eq!(decode(false, wire).unwrap(), wire, "{wire:?}");
        }
        // A server passes on an unmasked compressed frame for tungstenite
        // to refuse.
        let unmasked = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(decode(true, &unmasked).unwrap(), unmasked);
    }

    #[test]
    fn refuses_bad_data_and_oversized_frames_and_messages() {
        // Not DEFLATE (a reserved block type).
        assert_eq!(
            decode(false, b"\xc1\x02\xff\xff"),
            Err(DeflateError::Corrupt)
        );
        let mut inbound = Inbound::new(false, 4, 1 << 20);
        let mut plain = BytesMut::new();
        assert_eq!(
            inbound.decode(&mut BytesMut::from(&b"\x81\x05hello"[..]), &mut plain),
            Err(DeflateError::FrameTooBig)
        );
        // A 1 MiB run of zeros in a frame of about 1 KiB: refused once
        // the inflated size passes the limit.
        let bomb = compressed_message(&vec![0; 1 << 20]);
        assert!(bomb.len() < 2048, "{}", bomb.len());
        let mut inbound = Inbound::new(false, 1 << 20, 64 * 1024);
        assert_eq!(
            inbound.decode(&mut BytesMut::from(&bomb[..]), &mut BytesMut::new()),
            Err(DeflateError::MessageTooBig)
        );
    }

    /// A server's compressed frame for `data`.
    fn compressed_message(data: &[u8]) -> Vec<u8> {
        let mut plain = BytesMut::new();
        Head::write(true, false, OP_BINARY, None, data.len(), &mut plain);
        plain.extend_from_slice(data);
        let mut wire = BytesMut::new();
        Outbound::new(6, false)
            .encode(&mut plain, &mut wire)
            .unwrap();
        wire.to_vec()
    }

    #[test]
    fn splits_a_large_inflated_frame_into_fragments() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let wire = compressed_message(&data);
        let got = frames(BytesMut::from(&decode(false, &wire).unwrap()[..]));
        assert!(got.len() >= 4, "{} frames", got.len());
        assert_eq!(got[0].1, OP_BINARY);
        assert!(got[1..].iter().all(|f| f.1 == OP_CONTINUATION));
        assert!(got.iter().all(|f| f.2.len() <= CHUNK));
        assert!(got.last().unwrap().0);
        assert!(got[..got.len() - 1].iter().all(|f| !f.0));
        let joined: Vec<u8> = got.into_iter().flat_map(|f| f.2).collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn frames_cut_anywhere_decode_the_same() {
        let mut wire = compressed_message(b"a message, a message, a message");
        wire.extend_from_slice(b"\x89\x00");
        wire.extend_from_slice(&compressed_message(b"a message again"));
        let whole = decode(false, &wire).unwrap();
        let mut inbound = Inbound::new(false, 1 << 20, 1 << 20);
        let mut buf = BytesMut::new();
        let mut plain = BytesMut::new();
        for b in &wire {
            buf.extend_from_slice(&[*b]);
            inbound.decode(&mut buf, &mut plain).unwrap();
        }
        assert_eq!(plain.to_vec(), whole);
    }

    #[test]
    fn compresses_data_frames_and_leaves_control_frames() {
        let mut plain = BytesMut::new();
        Head::write(false, false, OP_TEXT, None, 5, &mut plain);
        plain.extend_from_slice(b"Hello");
        Head::write(true, false, 0x9, None, 0, &mut plain);
        Head::write(true, false, OP_CONTINUATION, None, 6, &mut plain);
        plain.extend_from_slice(b" world");
        let mut wire = BytesMut::new();
        let mut out = Outbound::new(1, false);
        out.encode(&mut plain, &mut wire).unwrap();
        let heads: Vec<Head> = {
            let mut w = wire.clone();
            let mut v = Vec::new();
            while let Some(h) = Head::parse(&w) {
                let _ = w.split_to(h.head_len + h.len as usize);
                v.push(h);
            }
            v
        };
        assert_eq!(heads.len(), 3);
        assert!(heads[0].rsv1 && heads[0].opcode == OP_TEXT && !heads[0].fin);
        assert!(!heads[1].rsv1 && heads[1].opcode == 0x9 && heads[1].len == 0);
        assert!(!heads[2].rsv1 && heads[2].opcode == OP_CONTINUATION && heads[2].fin);
        let got = frames(BytesMut::from(&decode(false, &wire).unwrap()[..]));
        let text: Vec<u8> = got
            .iter()
            .filter(|f| f.1 != 0x9)
            .flat_map(|f| f.2.clone())
            .collect();
        assert_eq!(text, b"Hello world");
    }

    #[test]
    fn a_client_remasks_and_round_trips() {
        for (data, split) in [
            (&b""[..], 0),
            (b"x", 1),
            (b"Hello Hello Hello Hello", 7),
            (&[0u8; 100_000][..], 50_000),
        ] {
            assert_eq!(round_trip(data, split, [1, 2, 3, 4]).unwrap(), data);
        }
    }

    #[test]
    fn without_context_takeover_each_message_stands_alone() {
        let send = |reset: bool| {
            let mut out = Outbound::new(6, reset);
            let mut wire = BytesMut::new();
            for _ in 0..2 {
                let mut plain = BytesMut::new();
                Head::write(true, false, OP_TEXT, None, 20, &mut plain);
                plain.extend_from_slice(b"abcdefghijklmnopqrst");
                out.encode(&mut plain, &mut wire).unwrap();
            }
            wire
        };
        let kept = send(false);
        let reset = send(true);
        assert!(
            kept.len() < reset.len(),
            "{} vs {}",
            kept.len(),
            reset.len()
        );
        // Each reset message inflates on a fresh inflater.
        let half = Head::parse(&reset)
            .map(|h| h.head_len + h.len as usize)
            .unwrap();
        assert_eq!(
            decode(false, &reset[half..]).unwrap(),
            b"\x81\x14abcdefghijklmnopqrst"
        );
    }
}
