//! WebSocket echo round trips through wego-hertz's server and client, with
//! and without permessage-deflate (RFC 7692): what compression costs per
//! message, on a JSON-like 1 KiB text message and on 64 KiB of it.
//!
//! Each iteration sends one message and waits for its echo on one
//! loopback connection (tokio backend, two workers, both ends in one
//! process). `plain` is the uncompressed baseline; `deflate` negotiates
//! permessage-deflate with context takeover; `deflate-reset` with no
//! context takeover on either side.
#![allow(missing_docs, clippy::unwrap_used, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wego_hertz::client::Client;
use wego_hertz::ws::{Connector, Message, PerMessageDeflate, WebSocket, WebSocketUpgrade};
use wego_hertz::{Router, Server};
use wego_netpoll::{Address, Listener, rt};

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if msg.is_data() && socket.send(msg).await.is_err() {
            break;
        }
    }
}

fn app() -> Router {
    let reset = || PerMessageDeflate::default().with_no_context_takeover(true);
    Router::new()
        .get("/plain", |ws: WebSocketUpgrade| async move {
            ws.with_max_message_size(1 << 20).on_upgrade(echo)
        })
        .get("/deflate", |ws: WebSocketUpgrade| async move {
            ws.with_max_message_size(1 << 20)
                .with_deflate(PerMessageDeflate::default())
                .on_upgrade(echo)
        })
        .get("/deflate-reset", move |ws: WebSocketUpgrade| async move {
            ws.with_max_message_size(1 << 20)
                .with_deflate(reset())
                .on_upgrade(echo)
        })
}

/// A JSON-like text of `len` bytes: repetitive keys, varying numbers.
fn payload(len: usize) -> String {
    let mut s = String::with_capacity(len + 64);
    let mut i = 0u64;
    while s.len() < len {
        s.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user-{}\",\"score\":{},\"tags\":[\"a\",\"b\"]}},",
            i % 97,
            i * 7919 % 10007
        ));
        i += 1;
    }
    s.truncate(len);
    s
}

fn bench(c: &mut Criterion) {
    let runtime = rt::Runtime::builder()
        .worker_threads(std::num::NonZeroUsize::new(2).unwrap())
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let listener = Listener::bind(&Address::loopback()).await.unwrap();
        let addr = listener.local_addr().clone();
        let server = Server::builder().build().unwrap();
        rt::spawn(async move { server.serve(listener, app()).await.unwrap() });
        addr
    });
    let client = Client::builder().build().unwrap();
    let mut group = c.benchmark_group("ws_echo");
    for size in [1024, 64 * 1024] {
        let text = payload(size);
        group.throughput(Throughput::Bytes(size as u64));
        for path in ["plain", "deflate", "deflate-reset"] {
            let mut connector =
                Connector::new(format!("ws://{addr}/{path}")).with_max_message_size(1 << 20);
            if path == "deflate" {
                connector = connector.with_deflate(PerMessageDeflate::default());
            } else if path == "deflate-reset" {
                connector = connector
                    .with_deflate(PerMessageDeflate::default().with_no_context_takeover(true));
            }
            let mut socket = runtime.block_on(connector.connect(&client)).unwrap();
            assert_eq!(socket.is_compressed(), path != "plain");
            group.bench_function(BenchmarkId::new(path, size), |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            socket.send(Message::text(text.clone())).await.unwrap();
                            let back = socket.recv().await.unwrap().unwrap();
                            assert!(back.is_data());
                        }
                        start.elapsed()
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
