//! LinkBuffer against a plain `BytesMut` on a length-prefixed framing
//! workload: bytes arrive in socket-sized reads that split frames at
//! arbitrary points, and a decoder takes each frame's payload as `Bytes`.
#![allow(missing_docs, clippy::unwrap_used)]

use bytes::{Buf, Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wego_netpoll::LinkBuffer;

/// Builds `count` frames of `size` payload bytes, each with a u32 length.
fn frames(count: usize, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * (size + 4));
    for i in 0..count {
        out.extend_from_slice(&(size as u32).to_be_bytes());
        out.extend(std::iter::repeat_n(i as u8, size));
    }
    out
}

/// Splits the stream into "reads" of `read` bytes, as a socket would.
fn reads(stream: &[u8], read: usize) -> Vec<Bytes> {
    stream.chunks(read).map(Bytes::copy_from_slice).collect()
}

fn decode_linkbuffer(reads: &[Bytes]) -> usize {
    let mut buf = LinkBuffer::new();
    let mut total = 0;
    for r in reads {
        buf.append(r.clone());
        buf.flush();
        while let Ok(len) = buf.peek_u32() {
            let len = len as usize;
            if buf.len() < 4 + len {
                break;
            }
            buf.skip(4).unwrap();
            total += buf.slice(len).unwrap().len();
        }
        buf.release();
    }
    total
}

fn decode_bytesmut(reads: &[Bytes]) -> usize {
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

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("length_prefixed_decode");
    for &(size, read) in &[
        (64usize, 8192usize),
        (1024, 8192),
        (16 * 1024, 8192),
        (1024, 1500),
    ] {
        let stream = frames(4096.min(8 * 1024 * 1024 / (size + 4)), size);
        let chunks = reads(&stream, read);
        let expected = decode_bytesmut(&chunks);
        assert_eq!(decode_linkbuffer(&chunks), expected);
        group.throughput(Throughput::Bytes(stream.len() as u64));
        let id = format!("payload{size}_read{read}");
        group.bench_with_input(BenchmarkId::new("LinkBuffer", &id), &chunks, |b, c| {
            b.iter(|| decode_linkbuffer(c))
        });
        group.bench_with_input(BenchmarkId::new("BytesMut", &id), &chunks, |b, c| {
            b.iter(|| decode_bytesmut(c))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
