//! Thrift codec micro-benchmarks: a 1 KiB echo request through wego-kitex's
//! envelope and struct codecs (binary and compact; decoding includes the
//! structural pre-check and the checked input), and TTHeader framing, by
//! itself and as each built-in frame codec stack (`stack/*`: one dynamic
//! call per frame, as servers and clients make it).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed benchmark

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wego_kitex::thrift::{self, MessageHeader, MessageType, Protocol};
use wego_kitex::transport::{FrameCodec, Framing};
use wego_kitex::ttheader::{self, Header, HeaderFormat};

use wego_idl_gen::echo as generated;

use generated::echo_types::echo::{EchoServerEchoArgs, Request};

fn args() -> EchoServerEchoArgs {
    EchoServerEchoArgs {
        req: Request {
            action: "echo".into(),
            msg: "x".repeat(1024).into(),
        },
    }
}

fn encode(proto: Protocol, a: &EchoServerEchoArgs, out: &mut BytesMut) {
    let h = MessageHeader {
        name: "Echo".into(),
        kind: MessageType::Call,
        seq_id: 1,
    };
    thrift::encode_message(proto, &h, a, out).unwrap();
}

fn bench(c: &mut Criterion) {
    let a = args();
    let mut g = c.benchmark_group("thrift_codec");
    g.throughput(Throughput::Elements(1));
    for (name, proto) in [("binary", Protocol::Binary), ("compact", Protocol::Compact)] {
        g.bench_function(format!("{name}/encode_1k"), |b| {
            let mut out = BytesMut::with_capacity(2048);
            b.iter(|| {
                out.clear();
                encode(proto, black_box(&a), &mut out);
            })
        });
        let mut out = BytesMut::new();
        encode(proto, &a, &mut out);
        let wire: Bytes = out.freeze();
        g.bench_function(format!("{name}/decode_1k"), |b| {
            b.iter(|| {
                let mut buf = black_box(wire.clone());
                let (h, _) = thrift::decode_header(proto, &mut buf).unwrap();
                let body: EchoServerEchoArgs = thrift::decode_body(proto, &mut buf).unwrap();
                black_box((h, body))
            })
        });
    }
    let mut h = Header::new(HeaderFormat::TtHeader, 0, 7);
    h.int_info.push((9, "Echo".into()));
    h.str_info.push(("RPCPersist-trace".into(), "abc".into()));
    let mut frame = BytesMut::new();
    let start = ttheader::encode(&h, &mut frame).unwrap();
    encode(Protocol::Binary, &a, &mut frame);
    ttheader::finish(&mut frame, start).unwrap();
    g.bench_function("ttheader/decode_frame_1k", |b| {
        b.iter(|| {
            let mut buf = black_box(frame.clone());
            black_box(ttheader::decode(&mut buf, 16 << 20).unwrap().unwrap())
        })
    });
    for (name, framing) in [
        ("ttheader", Framing::TtHeader),
        ("ttheader_framed", Framing::TtHeaderFramed),
        ("framed", Framing::Framed),
    ] {
        let codec = framing.codec(Protocol::Binary);
        let header = codec.header_format().map(|_| h.clone());
        let mut body = BytesMut::new();
        encode(Protocol::Binary, &a, &mut body);
        let mut frame = BytesMut::new();
        codec
            .encode(header.as_ref(), &mut frame, &mut |d| {
                d.extend_from_slice(&body);
                Ok(())
            })
            .unwrap();
        g.bench_function(format!("stack/{name}/decode_frame_1k"), |b| {
            b.iter(|| {
                let mut buf = black_box(frame.clone());
                black_box(codec.decode(&mut buf, 16 << 20).unwrap().unwrap())
            })
        });
        g.bench_function(format!("stack/{name}/encode_frame_1k"), |b| {
            let mut out = BytesMut::with_capacity(2048);
            b.iter(|| {
                out.clear();
                codec
                    .encode(header.as_ref(), &mut out, &mut |d| {
                        d.extend_from_slice(black_box(&body));
                        Ok(())
                    })
                    .unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
