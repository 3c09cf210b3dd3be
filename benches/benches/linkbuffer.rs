//! LinkBuffer against a plain `BytesMut` on a length-prefixed framing
//! workload: bytes arrive in socket-sized reads that split frames at
//! arbitrary points, and a decoder takes each frame's payload as `Bytes`.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wego_benches::framing::{decode_bytesmut, decode_linkbuffer, frames, reads};

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
