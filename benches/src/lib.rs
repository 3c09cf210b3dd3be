//! Workloads shared by wego's criterion benches and the instruction-count
//! harnesses in `src/bin/` (run those under `valgrind --tool=callgrind` for
//! numbers that do not depend on machine load), and the `bench-chart` tool's
//! parsers and SVG renderer ([`chart`]). See docs/benchmarks.md.

pub mod chart;

pub mod framing {
    //! A length-prefixed framing workload: frames with a big-endian `u32`
    //! length, arriving in socket-sized reads that split frames anywhere.

    use bytes::{Buf, Bytes, BytesMut};
    use wego_netpoll::LinkBuffer;

    /// Builds `count` frames of `size` payload bytes, each with a `u32` length.
    pub fn frames(count: usize, size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(count * (size + 4));
        let len = u32::try_from(size).unwrap_or(u32::MAX).to_be_bytes();
        for i in 0..count {
            out.extend_from_slice(&len);
            out.extend(std::iter::repeat_n(i as u8, size));
        }
        out
    }

    /// Splits a stream into reads of `read` bytes, as a socket delivers them.
    pub fn reads(stream: &[u8], read: usize) -> Vec<Bytes> {
        stream.chunks(read).map(Bytes::copy_from_slice).collect()
    }

    /// Decodes every frame with a [`LinkBuffer`]; returns the payload bytes seen.
    pub fn decode_linkbuffer(reads: &[Bytes]) -> usize {
        let mut buf = LinkBuffer::new();
        let mut total = 0;
        for r in reads {
            buf.append(r.clone());
            buf.flush();
            while let Ok(len) = buf.peek_u32() {
                let len = len as usize;
                if buf.len() < 4 + len || buf.skip(4).is_err() {
                    break;
                }
                total += buf.slice(len).map_or(0, |b| b.len());
            }
            buf.release();
        }
        total
    }

    /// Decodes every frame with one growing [`BytesMut`]; returns the payload bytes seen.
    pub fn decode_bytesmut(reads: &[Bytes]) -> usize {
        let mut buf = BytesMut::new();
        let mut total = 0;
        for r in reads {
            buf.extend_from_slice(r);
            while buf.len() >= 4 {
                let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if buf.len() < 4 + len {
                    break;
                }
                buf.advance(4);
                total += buf.split_to(len).freeze().len();
            }
        }
        total
    }
}
