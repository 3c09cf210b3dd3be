//! thrift-bench: Thrift echo servers and load generators, wego-kitex and
//! volo-thrift, for benches/thrift-load.sh.
//!
//! ```text
//! thrift-bench server --impl wego|wego-polling|volo|floor --port 0 [--threads 1] [--flavor per-core|work-stealing]
//!                                                                   # prints "listening <addr>"
//! thrift-bench load   --impl wego|volo|raw --addr A --concurrency 100 \
//!                     --duration 10 --size 1024 [--threads 1] [--framing ttheader|ttheader-framed|framed]
//! ```
//!
//! `load` prints one line: impl, concurrency, requests, QPS, p50, p99, p999
//! (microseconds). `wego` and `volo` use each framework's pooled client with
//! `concurrency` callers; `raw` is the lean generator: `concurrency`
//! connections, each replaying one pre-encoded echo request in the framing
//! asked for and reading the reply frame, so almost all CPU goes to the
//! server. `--framing` applies to every client: `ttheader` (plain TTHeader),
//! `ttheader-framed` (TTHeader around Framed, volo's default) or `framed`.
//!
//! The `floor` server is no Thrift server: on the same tokio runtime as
//! volo's, it reads each length-prefixed frame and writes it back as it
//! came, with no decoding, no handler and no encoding. Its CPU per call is
//! what the read, the write and the runtime cost alone: the least any
//! server on tokio pays for a call, against which the Thrift servers'
//! figures are read.

#![allow(clippy::print_stdout)] // a benchmark tool prints its results
#![allow(clippy::disallowed_methods)] // volo runs on tokio directly; this peer owns its runtime

use std::error::Error;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wego_kitex::client::{Client, Mode};
use wego_kitex::transport::Framing;
use wego_netpoll::{Address, Listener};
use wego_thrift_peers::{VoloEcho, free_port, volo_echo, wego_echo, wego_server};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn main() -> Res<()> {
    let role = std::env::args().nth(1).unwrap_or_default();
    let imp = arg("--impl", "wego");
    let threads: usize = arg("--threads", "1").parse()?;
    // The server's scheduler. `--flavor per-core`: one single-threaded
    // scheduler (wego's per-core runtime; tokio's current-thread runtime
    // for volo, with one thread); `work-stealing`: tokio's multi-thread
    // scheduler for both; unset: each framework's default (wego per-core,
    // volo multi-thread). Load generators keep their defaults.
    let flavor = if role == "server" {
        arg("--flavor", "")
    } else {
        String::new()
    };
    if !matches!(flavor.as_str(), "" | "per-core" | "work-stealing") {
        return Err(format!("unknown flavor {flavor}").into());
    }
    // wego-polling: wego on its polling backend rather than tokio.
    if imp == "wego" || imp == "wego-polling" {
        let backend = if imp == "wego" {
            wego_netpoll::rt::Backend::Tokio
        } else {
            wego_netpoll::rt::Backend::Polling
        };
        let f = if flavor == "work-stealing" {
            wego_netpoll::rt::Flavor::WorkStealing
        } else {
            wego_netpoll::rt::Flavor::PerCore
        };
        let rt = wego_netpoll::rt::Runtime::builder()
            .backend(backend)
            .worker_threads(NonZeroUsize::new(threads).ok_or("--threads must be positive")?)
            .flavor(f)
            .build()?;
        return rt.block_on(run(role, "wego".to_owned()));
    }
    let rt = if flavor == "per-core" && threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(run(role, imp))
}

async fn run(role: String, imp: String) -> Res<()> {
    match role.as_str() {
        "server" => serve(&imp, arg("--port", "0").parse()?).await,
        "load" => load(&imp).await,
        _ => Err("usage: thrift-bench server|load ...".into()),
    }
}

async fn serve(imp: &str, port: u16) -> Res<()> {
    match imp {
        "wego" => {
            let listener =
                Listener::bind(&Address::Tcp(format!("127.0.0.1:{port}").parse()?)).await?;
            println!("listening {}", listener.local_addr());
            wego_server().build()?.serve(listener).await;
        }
        "volo" => {
            let port = if port == 0 { free_port()? } else { port };
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
            println!("listening {addr}");
            volo_echo::volo_gen::echo::EchoServerServer::new(VoloEcho)
                .run(volo::net::Address::from(addr))
                .await
                .map_err(|e| e.to_string())?;
        }
        "floor" => {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            println!("listening {}", listener.local_addr()?);
            loop {
                let (conn, _) = listener.accept().await?;
                tokio::spawn(echo_frames(conn));
            }
        }
        other => return Err(format!("unknown impl {other}").into()),
    }
    Ok(())
}

/// The `floor` server's connection: every length-prefixed frame read is
/// written back unchanged. Ends at end of stream or on any error.
async fn echo_frames(mut conn: tokio::net::TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(8192);
    loop {
        while buf.len() >= 4 {
            let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize + 4;
            if n > 16 << 20 {
                return; // not a benchmark frame
            }
            if buf.len() < n {
                break;
            }
            let frame = buf.split_to(n);
            if conn.write_all(&frame).await.is_err() {
                return;
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(8192);
        }
        match conn.read_buf(&mut buf).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}

fn payload(size: usize) -> String {
    "x".repeat(size)
}

async fn load(imp: &str) -> Res<()> {
    let addr: SocketAddr = arg("--addr", "127.0.0.1:8888").parse()?;
    let conc: usize = arg("--concurrency", "100").parse()?;
    let secs: u64 = arg("--duration", "10").parse()?;
    let size: usize = arg("--size", "1024").parse()?;
    let framing = match arg("--framing", "ttheader").as_str() {
        "ttheader" => Framing::TtHeader,
        "ttheader-framed" => Framing::TtHeaderFramed,
        "framed" => Framing::Framed,
        other => return Err(format!("unknown framing {other}").into()),
    };
    let msg = payload(size);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    match imp {
        "wego" => {
            let inner = Client::builder(Address::Tcp(addr))
                .with_framing(framing)
                .with_mode(Mode::Pooled {
                    max_idle: conc.max(1),
                    idle_timeout: Duration::from_secs(60),
                })
                .build()?;
            let client = wego_echo::echo_service::EchoServerClient::new(inner);
            for _ in 0..conc {
                let (client, msg) = (client.clone(), msg.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let req = wego_echo::echo_types::echo::Request {
                            action: "echo".into(),
                            msg: msg.clone().into(),
                        };
                        let r = client.echo(req).await;
                        if r.is_ok() {
                            lat.push(t.elapsed().as_micros() as u32);
                        }
                    }
                    lat
                }));
            }
        }
        "volo" => {
            macro_rules! drive {
                ($client:expr) => {{
                    let client = $client;
                    for _ in 0..conc {
                        let (client, msg) = (client.clone(), msg.clone());
                        tasks.push(tokio::spawn(async move {
                            let mut lat = Vec::new();
                            while Instant::now() < deadline {
                                let t = Instant::now();
                                let req = volo_echo::volo_gen::echo::Request {
                                    action: "echo".into(),
                                    msg: msg.clone().into(),
                                };
                                if client.echo(req).await.is_ok() {
                                    lat.push(t.elapsed().as_micros() as u32);
                                }
                            }
                            lat
                        }));
                    }
                }};
            }
            let builder =
                volo_echo::volo_gen::echo::EchoServerClientBuilder::new("echo").address(addr);
            use volo_thrift::codec::default::{
                DefaultMakeCodec, thrift::MakeThriftCodec, ttheader::MakeTTHeaderCodec,
            };
            match framing {
                Framing::Framed => drive!(builder.make_codec(DefaultMakeCodec::framed()).build()),
                Framing::TtHeaderFramed => drive!(
                    builder
                        .make_codec(DefaultMakeCodec::ttheader_framed())
                        .build()
                ),
                _ => drive!(
                    builder
                        .make_codec(DefaultMakeCodec::new(MakeTTHeaderCodec::new(
                            MakeThriftCodec::new()
                        )))
                        .build()
                ),
            }
        }
        "raw" => {
            let frame = Arc::new(raw_request(&msg, framing)?);
            for _ in 0..conc {
                let frame = frame.clone();
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await else {
                        return lat;
                    };
                    let _ = conn.set_nodelay(true);
                    let mut buf = BytesMut::with_capacity(4096);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        if conn.write_all(&frame).await.is_err() {
                            break;
                        }
                        // Read exactly one length-prefixed reply frame.
                        loop {
                            if buf.len() >= 4 {
                                let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]])
                                    as usize
                                    + 4;
                                if buf.len() >= n {
                                    let _ = buf.split_to(n);
                                    break;
                                }
                            }
                            match conn.read_buf(&mut buf).await {
                                Ok(n) if n > 0 => {}
                                _ => return lat,
                            }
                        }
                        lat.push(t.elapsed().as_micros() as u32);
                    }
                    lat
                }));
            }
        }
        other => return Err(format!("unknown impl {other}").into()),
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64().max(secs as f64);
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "impl={imp} concurrency={conc} requests={} qps={:.0} p50_us={} p99_us={} p999_us={}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(0.999)
    );
    Ok(())
}

/// One echo call, pre-encoded with wego-kitex's codecs in `framing`.
fn raw_request(msg: &str, framing: Framing) -> Res<Vec<u8>> {
    use wego_kitex::thrift::{MessageCodec, MessageHeader, MessageType, Protocol, encode_body};
    use wego_kitex::transport::FrameCodec;
    use wego_kitex::ttheader::{Header, HeaderFormat};
    let args = wego_echo::echo_types::echo::EchoServerEchoArgs {
        req: wego_echo::echo_types::echo::Request {
            action: "echo".into(),
            msg: msg.to_owned().into(),
        },
    };
    let codec = framing.codec(Protocol::Binary);
    let header = codec
        .header_format()
        .map(|f: HeaderFormat| Header::new(f, 0, 1));
    let env = MessageHeader {
        name: "Echo".into(),
        kind: MessageType::Call,
        seq_id: 1,
    };
    let mut out = BytesMut::new();
    codec.encode(header.as_ref(), &mut out, &mut |out| {
        Protocol::Binary.encode_begin(&env, true, out);
        encode_body(Protocol::Binary, &args, out)?;
        Ok(())
    })?;
    Ok(out.to_vec())
}
