//! HTTP/1.1 codec micro-benchmarks: request-head parsing (against bare
//! httparse as the floor), chunked decoding, response-head encoding.
//!
//! Run: `cargo bench -p wego-benches --bench http1_parse`.

#![allow(clippy::unwrap_used)] // fixed, valid inputs: a failed unwrap is a broken bench

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wego_hertz::codec::{
    ChunkedDecoder, DateCache, Decoded, HeadLimits, ResponseContext, encode_chunk,
    encode_last_chunk, encode_response_head, parse_request_head,
};

const WRK_GET: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const BROWSER_GET: &[u8] = b"GET /api/v1/users/12345?fields=name,email&sort=desc HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Connection: keep-alive\r\n\
Cookie: session=abcdef0123456789; theme=dark; lang=en\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Cache-Control: max-age=0\r\n\
X-Request-Id: 5f2b8c1e-4a3d-4e6f-9b7a-1c2d3e4f5a6b\r\n\r\n";

fn heads(c: &mut Criterion) {
    let limits = HeadLimits::default();
    let mut group = c.benchmark_group("http1_request_head");
    for (name, raw) in [("wrk_get", WRK_GET), ("browser_get", BROWSER_GET)] {
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_function(format!("wego/{name}"), |b| {
            b.iter(|| {
                let mut buf = BytesMut::from(black_box(raw));
                black_box(parse_request_head(&mut buf, &limits).unwrap().unwrap())
            })
        });
        // The floor: httparse alone, no http types built.
        group.bench_function(format!("httparse/{name}"), |b| {
            b.iter(|| {
                let buf = BytesMut::from(black_box(raw));
                let mut headers = [httparse::EMPTY_HEADER; 100];
                let mut req = httparse::Request::new(&mut headers);
                black_box(req.parse(&buf).unwrap());
                black_box(buf)
            })
        });
    }
    group.finish();
}

fn chunked(c: &mut Criterion) {
    let mut wire = BytesMut::new();
    let chunk = vec![b'x'; 1024];
    for _ in 0..64 {
        encode_chunk(&chunk, &mut wire);
    }
    encode_last_chunk(None, &mut wire);
    let wire = wire.freeze();
    let mut group = c.benchmark_group("http1_chunked");
    group.throughput(Throughput::Bytes(64 * 1024));
    group.bench_function("decode_64x1KiB", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&wire[..]);
            let mut d = ChunkedDecoder::new(1024);
            let mut n = 0;
            loop {
                match d.decode(&mut buf).unwrap() {
                    Some(Decoded::Data(x)) => n += x.len(),
                    Some(Decoded::End) => break,
                    _ => {}
                }
            }
            black_box(n)
        })
    });
    group.bench_function("encode_64x1KiB", |b| {
        let mut out = BytesMut::with_capacity(70 * 1024);
        b.iter(|| {
            out.clear();
            for _ in 0..64 {
                encode_chunk(black_box(&chunk), &mut out);
            }
            encode_last_chunk(None, &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

fn response(c: &mut Criterion) {
    let mut date = DateCache::default();
    let now = std::time::SystemTime::now();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let mut out = BytesMut::with_capacity(512);
    c.bench_function("http1_response_head/plaintext", |b| {
        b.iter(|| {
            out.clear();
            let d = date.get(now).to_vec();
            let mut ctx = ResponseContext::new(&d);
            ctx.server = Some(b"wego");
            black_box(encode_response_head(
                http::StatusCode::OK,
                black_box(&headers),
                Some(13),
                &ctx,
                &mut out,
            ))
        })
    });
}

criterion_group!(benches, heads, chunked, response);
criterion_main!(benches);
