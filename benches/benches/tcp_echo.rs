//! TCP echo through wego-netpoll's facade (Listener, Dialer, Conn, rt::spawn)
//! against the same program on raw tokio: the facade's overhead.
//!
//! Each iteration is one 1 KiB round trip on each of `conns` connections.
//! `wego-netpoll` runs on the work-stealing flavour, the same scheduler as
//! raw tokio, so the pair measures the facade alone; `wego-per-core` runs the
//! default thread-per-core flavour with `spawn_connection`;
//! `wego-polling` runs wego's own event loops (the polling backend) with
//! reads when the task polls, `wego-polling-eager` with eager reads (the
//! loop reads into the connection's buffer before the task runs).
#![allow(missing_docs, clippy::unwrap_used, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MSG: usize = 1024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn echo_loop<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn drive<S>(conns: &mut [S], iters: u64) -> Duration
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let msg = [7u8; MSG];
    let start = Instant::now();
    for _ in 0..iters {
        for c in conns.iter_mut() {
            c.write_all(&msg).await.unwrap();
        }
        let mut back = [0u8; MSG];
        for c in conns.iter_mut() {
            c.read_exact(&mut back).await.unwrap();
        }
    }
    start.elapsed()
}

fn wego(
    backend: wego_netpoll::rt::Backend,
    flavor: wego_netpoll::rt::Flavor,
    eager: bool,
    conns: usize,
    iters: u64,
) -> Duration {
    use wego_netpoll::{Address, Dialer, Listener, rt};
    let runtime = rt::Runtime::builder()
        .backend(backend)
        .flavor(flavor)
        .eager_reads(eager)
        .worker_threads(std::num::NonZeroUsize::new(2).unwrap())
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = Listener::bind(&Address::loopback()).await.unwrap();
        let addr = listener.local_addr().clone();
        rt::spawn(async move {
            while let Ok(conn) = listener.accept().await {
                rt::spawn_connection(conn, echo_loop);
            }
        });
        let mut cs = Vec::new();
        for _ in 0..conns {
            cs.push(Dialer::new().dial(&addr).await.unwrap());
        }
        drive(&mut cs, iters).await
    })
}

fn raw_tokio(conns: usize, iters: u64) -> Duration {
    runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                s.set_nodelay(true).unwrap();
                tokio::spawn(echo_loop(s));
            }
        });
        let mut cs = Vec::new();
        for _ in 0..conns {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            cs.push(s);
        }
        drive(&mut cs, iters).await
    })
}

fn bench(c: &mut Criterion) {
    use wego_netpoll::rt::{Backend, Flavor};
    let mut group = c.benchmark_group("tcp_echo_1k");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for conns in [1usize, 16] {
        group.throughput(Throughput::Bytes((MSG * conns) as u64));
        group.bench_function(BenchmarkId::new("wego-netpoll", conns), |b| {
            b.iter_custom(|iters| wego(Backend::Tokio, Flavor::WorkStealing, false, conns, iters))
        });
        group.bench_function(BenchmarkId::new("wego-per-core", conns), |b| {
            b.iter_custom(|iters| wego(Backend::Tokio, Flavor::PerCore, false, conns, iters))
        });
        group.bench_function(BenchmarkId::new("wego-polling", conns), |b| {
            b.iter_custom(|iters| wego(Backend::Polling, Flavor::PerCore, false, conns, iters))
        });
        group.bench_function(BenchmarkId::new("wego-polling-eager", conns), |b| {
            b.iter_custom(|iters| wego(Backend::Polling, Flavor::PerCore, true, conns, iters))
        });
        group.bench_function(BenchmarkId::new("raw-tokio", conns), |b| {
            b.iter_custom(|iters| raw_tokio(conns, iters))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
