//! grpc-bench: a gRPC echo load generator and servers, tonic and wego, for
//! benches/grpc-load.sh.
//!
//! ```text
//! grpc-bench server --impl wego|wego-tokio|wego-polling|tonic|kitex-pb --port 0 \
//!                   [--threads 1] [--eager-reads on|off] \
//!                   [--tls-cert FILE --tls-key FILE]     # prints "listening <addr>"
//! grpc-bench load   --impl wego|tonic|kitex-pb --addr A --mode unary|bidi \
//!                   --concurrency 100 --duration 10 --size 1024 [--conns 1] \
//!                   [--tls-ca FILE]
//! ```
//!
//! Servers: `wego` is wego's gRPC server on a tokio multi-thread runtime
//! of its own, as tonic's; `wego-tokio` and `wego-polling` run it on
//! wego's runtime (per-core) on netpoll's tokio or polling backend, the
//! comparison of the two backends (`--eager-reads` sets the polling
//! backend's reads).
//!
//! TLS: with `--tls-cert/--tls-key` (PEM chain and key) the gRPC servers
//! serve TLS only, offering ALPN `h2` (wego through netpoll's
//! `TlsAcceptor`, tonic through its `tls-ring` feature); with `--tls-ca`
//! the clients connect over TLS, trusting that CA and verifying the server
//! as `localhost`.
//!
//! `load` prints one line: impl, mode, concurrency, requests, QPS, p50, p99,
//! p999 in microseconds. Unary: `concurrency` outstanding calls, spread over
//! `conns` connections. Bidi: `concurrency` streams, each ping-ponging one
//! message at a time; QPS is messages per second.

#![allow(clippy::print_stdout)] // a benchmark tool prints its results
#![allow(clippy::disallowed_methods)] // tonic runs on tokio directly; this peer owns its runtime

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use wego_grpc_peers::{TonicEcho, WegoEcho, tonic_echo, wego_echo};
use wego_netpoll::tls::{Identity, RootCerts, TlsAcceptor, TlsConnector};
use wego_netpoll::{Address, Listener};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// `--tls-cert` and `--tls-key`, both or neither.
fn tls_files() -> Result<Option<(String, String)>, Box<dyn Error>> {
    match (arg("--tls-cert", ""), arg("--tls-key", "")) {
        (c, k) if c.is_empty() && k.is_empty() => Ok(None),
        (c, k) if c.is_empty() || k.is_empty() => {
            Err("--tls-cert and --tls-key go together".into())
        }
        (c, k) => Ok(Some((c, k))),
    }
}

async fn serve(imp: &str, port: u16) -> Result<(), Box<dyn Error>> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let tls = tls_files()?;
    if tls.is_some() && imp == "kitex-pb" {
        return Err("--tls-cert: the gRPC servers only".into());
    }
    match imp {
        "tonic" => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            println!("listening {}", listener.local_addr()?);
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            let mut builder = tonic::transport::Server::builder();
            if let Some((cert, key)) = tls {
                let id =
                    tonic::transport::Identity::from_pem(std::fs::read(cert)?, std::fs::read(key)?);
                builder =
                    builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(id))?;
            }
            builder
                .add_service(tonic_echo::echo_server_server::EchoServerServer::new(
                    TonicEcho,
                ))
                .serve_with_incoming(incoming)
                .await?;
        }
        "kitex-pb" => {
            let listener = Listener::bind(&Address::Tcp(addr)).await?;
            println!("listening {}", listener.local_addr());
            let handler =
                wego_kitex::protobuf::ProtobufHandler::new(wego_echo::echo_server_router(WegoEcho));
            let server = wego_kitex::server::Server::builder()
                .with_payload_handler(handler.into_arc())
                .build()
                .map_err(|e| e.to_string())?;
            server.serve(listener).await;
        }
        _ => {
            let listener = Listener::bind(&Address::Tcp(addr)).await?;
            println!("listening {}", listener.local_addr());
            let router = wego_echo::echo_server_router(WegoEcho);
            let server = wego_kitex::grpc::GrpcServer::default();
            match tls {
                Some((cert, key)) => {
                    let acceptor = TlsAcceptor::builder()
                        .with_identity(Identity::from_pem_files(cert, key)?)
                        .with_alpn_protocols(["h2"])
                        .build()?;
                    server
                        .serve_incoming(acceptor.incoming(listener), router)
                        .await;
                }
                None => server.serve(listener, router).await,
            }
        }
    }
    Ok(())
}

/// One worker's loop: records latencies until the deadline.
type Lat = Vec<u32>;

async fn unary_worker_wego(
    c: wego_echo::EchoServerClient,
    msg: Arc<String>,
    until: Instant,
) -> Lat {
    let mut lat = Vec::new();
    while Instant::now() < until {
        let t0 = Instant::now();
        let r = c
            .echo(wego_kitex::grpc::Request::new(wego_echo::Request {
                action: "echo".into(),
                msg: (*msg).clone(),
            }))
            .await;
        if r.is_ok() {
            lat.push(t0.elapsed().as_micros() as u32);
        }
    }
    lat
}

async fn unary_worker_tonic(
    mut c: tonic_echo::echo_server_client::EchoServerClient<tonic::transport::Channel>,
    msg: Arc<String>,
    until: Instant,
) -> Lat {
    let mut lat = Vec::new();
    while Instant::now() < until {
        let t0 = Instant::now();
        let r = c
            .echo(tonic_echo::Request {
                action: "echo".into(),
                msg: (*msg).clone(),
            })
            .await;
        if r.is_ok() {
            lat.push(t0.elapsed().as_micros() as u32);
        }
    }
    lat
}

async fn bidi_worker_wego(c: wego_echo::EchoServerClient, msg: Arc<String>, until: Instant) -> Lat {
    let mut lat = Vec::new();
    let (tx, rx) = tokio::sync::mpsc::channel::<wego_echo::Request>(1);
    let out =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let Ok(resp) = c
        .echo_bidi_stream(wego_kitex::grpc::Request::new(out))
        .await
    else {
        return lat;
    };
    let mut s = resp.into_inner();
    while Instant::now() < until {
        let t0 = Instant::now();
        if tx
            .send(wego_echo::Request {
                action: "echo".into(),
                msg: (*msg).clone(),
            })
            .await
            .is_err()
        {
            break;
        }
        match s.message().await {
            Ok(Some(_)) => lat.push(t0.elapsed().as_micros() as u32),
            _ => break,
        }
    }
    lat
}

async fn bidi_worker_tonic(
    mut c: tonic_echo::echo_server_client::EchoServerClient<tonic::transport::Channel>,
    msg: Arc<String>,
    until: Instant,
) -> Lat {
    let mut lat = Vec::new();
    let (tx, rx) = tokio::sync::mpsc::channel::<tonic_echo::Request>(1);
    let out =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let Ok(resp) = c.echo_bidi_stream(out).await else {
        return lat;
    };
    let mut s = resp.into_inner();
    while Instant::now() < until {
        let t0 = Instant::now();
        if tx
            .send(tonic_echo::Request {
                action: "echo".into(),
                msg: (*msg).clone(),
            })
            .await
            .is_err()
        {
            break;
        }
        match s.next().await {
            Some(Ok(_)) => lat.push(t0.elapsed().as_micros() as u32),
            _ => break,
        }
    }
    lat
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn load(imp: &str) -> Result<(), Box<dyn Error>> {
    let addr: SocketAddr = arg("--addr", "127.0.0.1:8888").parse()?;
    let mode = arg("--mode", "unary");
    let conc: usize = arg("--concurrency", "100").parse()?;
    let conns: usize = arg("--conns", "1").parse::<usize>()?.max(1);
    let secs: u64 = arg("--duration", "10").parse()?;
    let size: usize = arg("--size", "1024").parse()?;
    let msg = Arc::new("x".repeat(size));
    let tls_ca = match arg("--tls-ca", "").as_str() {
        "" => None,
        path => Some(std::fs::read(path)?),
    };
    if tls_ca.is_some() && imp == "kitex-pb" {
        return Err("--tls-ca: the gRPC clients only".into());
    }
    // Warm up connections first, then measure for `secs`.
    let mut handles = Vec::new();
    let until;
    if imp == "kitex-pb" {
        // One connection per worker: the Kitex Protobuf client is ping-pong.
        let mut clients = Vec::new();
        for _ in 0..conc {
            let c = wego_kitex::protobuf::ProtobufClient::builder(Address::Tcp(addr))
                .connect()
                .await?;
            clients.push(Arc::new(c));
        }
        until = Instant::now() + Duration::from_secs(secs);
        for c in clients {
            let m = msg.clone();
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < until {
                    let t0 = Instant::now();
                    let r: Result<wego_echo::Response, _> = c
                        .call(
                            "Echo",
                            &wego_echo::Request {
                                action: "echo".into(),
                                msg: (*m).clone(),
                            },
                        )
                        .await;
                    if r.is_ok() {
                        lat.push(t0.elapsed().as_micros() as u32);
                    }
                }
                lat
            }));
        }
    } else if imp == "tonic" {
        let mut clients = Vec::new();
        for _ in 0..conns {
            let ch = match &tls_ca {
                None => tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?,
                Some(pem) => tonic::transport::Endpoint::from_shared(format!("https://{addr}"))?
                    .tls_config(
                        tonic::transport::ClientTlsConfig::new()
                            .ca_certificate(tonic::transport::Certificate::from_pem(pem))
                            .domain_name("localhost"),
                    )?,
            }
            .tcp_nodelay(true)
            .connect()
            .await?;
            clients.push(tonic_echo::echo_server_client::EchoServerClient::new(ch));
        }
        until = Instant::now() + Duration::from_secs(secs);
        for i in 0..conc {
            let c = clients[i % conns].clone();
            let m = msg.clone();
            handles.push(match mode.as_str() {
                "bidi" => tokio::spawn(bidi_worker_tonic(c, m, until)),
                _ => tokio::spawn(unary_worker_tonic(c, m, until)),
            });
        }
    } else {
        let mut clients = Vec::new();
        for _ in 0..conns {
            let mut builder = wego_kitex::grpc::Channel::builder();
            if let Some(pem) = &tls_ca {
                builder = builder.with_connector(
                    TlsConnector::builder()
                        .with_roots(RootCerts::from_pem(pem)?)
                        .with_server_name("localhost")
                        .with_alpn_protocols(["h2"])
                        .build()?,
                );
            }
            let ch = builder.connect(&Address::Tcp(addr)).await?;
            clients.push(wego_echo::EchoServerClient::new(ch));
        }
        until = Instant::now() + Duration::from_secs(secs);
        for i in 0..conc {
            let c = clients[i % conns].clone();
            let m = msg.clone();
            handles.push(match mode.as_str() {
                "bidi" => tokio::spawn(bidi_worker_wego(c, m, until)),
                _ => tokio::spawn(unary_worker_wego(c, m, until)),
            });
        }
    }
    let start = until - Duration::from_secs(secs);
    let mut all: Vec<u32> = Vec::new();
    for h in handles {
        all.extend(h.await?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    println!(
        "client={imp} mode={mode} concurrency={conc} conns={conns} requests={} qps={:.0} p50_us={} p99_us={} p999_us={}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(&all, 0.50),
        pct(&all, 0.99),
        pct(&all, 0.999)
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let cmd = std::env::args().nth(1).unwrap_or_default();
    let imp = arg("--impl", "wego");
    let threads: usize = arg("--threads", "1").parse()?;
    // wego-tokio and wego-polling: the wego server on wego's own runtime
    // (per-core) on that backend; the others run on tokio's multi-thread
    // runtime.
    if let (true, Some(backend)) = (cmd == "server", imp.strip_prefix("wego-")) {
        let mut rt = wego_netpoll::rt::Runtime::builder()
            .backend(backend.parse()?)
            .worker_threads(std::num::NonZeroUsize::new(threads.max(1)).ok_or("--threads")?);
        match arg("--eager-reads", "").as_str() {
            "" => {}
            on => rt = rt.eager_reads(on == "on"),
        }
        let rt = rt.build()?;
        return rt.block_on(async move { serve("wego", arg("--port", "0").parse()?).await });
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cmd.as_str() {
            "server" => serve(&imp, arg("--port", "0").parse()?).await,
            "load" => load(&imp).await,
            _ => Err("usage: grpc-bench server|load --impl wego|tonic ...".into()),
        }
    })
}
