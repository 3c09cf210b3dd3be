//! rel-load: the load tool behind `benches/reliability.sh` (figures in
//! `docs/reliability.md`).
//!
//! One current-thread tokio runtime drives every simulated client, so ten
//! thousand connections cost a task and a small buffer each. Requests are
//! encoded once per protocol:
//!
//! - `http`: `GET /plaintext HTTP/1.1`, keep-alive;
//! - `thrift` / `thrift-framed`: `EchoServer.Echo` in the Binary protocol,
//!   in a TTHeader or a Framed frame, one call in flight per connection;
//! - `grpc`: unary `/echo.EchoServer/Echo` over the `h2` crate's client,
//!   one HTTP/2 connection per simulated client.
//!
//! ```text
//! rel-load conns    --proto P --addr A --pid PID [--conns 10000] [--probes 200]
//! rel-load slow     --proto P --addr A [--slow 1000] [--normal 50] [--baseline-secs 15]
//!                   [--loaded-secs 40] [--byte-ms 1000] [--deadline-secs D]
//! rel-load shutdown --proto P --addrs A,B --stop-pid PID [--rate 5000] [--secs 20] [--stop-at 6]
//! rel-load soak     --proto P --addr A --pid PID [--rate 2000] [--secs 600] [--conns 50]
//! ```
//!
//! Each run prints `key=value` lines; `machine` lines give the load average
//! and the share of CPU time the hypervisor stole (`/proc/stat`) over the run.
//! The `shutdown` figure's Thrift and gRPC clients are wego-kitex's own,
//! behind wego-governance's retry and round-robin load balancing over the
//! two instances; its HTTP client retries a GET only when the connection
//! closed before any byte of the response arrived.

// A command-line tool prints its results, and a load generator runs on its
// own plain tokio runtime, outside wego's.
#![allow(clippy::print_stdout, clippy::disallowed_methods)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};
use tower_layer::Layer;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const HTTP_REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n";
const GRPC_PATH: &str = "/echo.EchoServer/Echo";
const THRIFT_METHOD: &str = "Echo";

// ---------------------------------------------------------------------------
// Command line

/// `--name value` pairs after the subcommand.
struct Args {
    map: HashMap<String, String>,
}

impl Args {
    fn parse(raw: &[String]) -> Res<Args> {
        let mut map = HashMap::new();
        let mut it = raw.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --flag, got {flag}"))?;
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            map.insert(name.to_owned(), value.clone());
        }
        Ok(Args { map })
    }

    fn str(&self, name: &str) -> Res<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Res<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.map.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| format!("--{name} {v}: {e}").into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http,
    Thrift,
    ThriftFramed,
    Grpc,
}

impl std::str::FromStr for Proto {
    type Err = BoxError;
    fn from_str(s: &str) -> Res<Proto> {
        Ok(match s {
            "http" => Proto::Http,
            "thrift" => Proto::Thrift,
            "thrift-framed" => Proto::ThriftFramed,
            "grpc" => Proto::Grpc,
            other => return Err(format!("unknown protocol {other}").into()),
        })
    }
}

fn main() -> Res<()> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = raw
        .split_first()
        .ok_or("usage: rel-load conns|slow|shutdown|soak --proto P ...")?;
    let args = Args::parse(rest)?;
    let proto: Proto = args.str("proto")?.parse()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let machine = Machine::start();
    let result = rt.block_on(async {
        match cmd.as_str() {
            "conns" => conns(proto, &args).await,
            "slow" => slow(proto, &args).await,
            "shutdown" => shutdown(proto, &args).await,
            "soak" => soak(proto, &args).await,
            other => Err(format!("unknown command {other}").into()),
        }
    });
    machine.report();
    result
}

// ---------------------------------------------------------------------------
// Machine state and /proc

/// The CPU counters at the start of a run, to report steal over it.
struct Machine {
    cpu: Vec<u64>,
}

impl Machine {
    fn start() -> Machine {
        let m = Machine { cpu: cpu_line() };
        println!("machine start loadavg={}", loadavg());
        m
    }

    fn report(&self) {
        let now = cpu_line();
        let d: Vec<u64> = now
            .iter()
            .zip(&self.cpu)
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        let total: u64 = d.iter().sum();
        // user nice system idle iowait irq softirq steal
        let pct = |i: usize| {
            if total == 0 {
                0.0
            } else {
                d.get(i).copied().unwrap_or(0) as f64 * 100.0 / total as f64
            }
        };
        println!(
            "machine end loadavg={} steal_pct={:.1} idle_pct={:.1} busy_pct={:.1}",
            loadavg(),
            pct(7),
            pct(3),
            100.0 - pct(3) - pct(4) - pct(7)
        );
    }
}

fn cpu_line() -> Vec<u64> {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`) or `smaps_rollup`.
fn proc_kb(pid: u32, file: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn rss_kb(pid: u32) -> u64 {
    proc_kb(pid, "status", "VmRSS").unwrap_or(0)
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

// ---------------------------------------------------------------------------
// Latency samples

#[derive(Default)]
struct Hist {
    micros: Vec<u32>,
}

impl Hist {
    fn record(&mut self, d: Duration) {
        self.micros
            .push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
    }

    fn merge(&mut self, other: Hist) {
        self.micros.extend(other.micros);
    }

    /// `p50_us=.. p99_us=.. max_us=..` (sorted in place).
    fn summary(&mut self, prefix: &str) -> String {
        self.micros.sort_unstable();
        format!(
            "{prefix}n={} {prefix}p50_us={} {prefix}p99_us={} {prefix}max_us={}",
            self.micros.len(),
            self.quantile(0.5),
            self.quantile(0.99),
            self.micros.last().copied().unwrap_or(0)
        )
    }

    /// The `q` quantile (sorts the samples; sorting sorted ones is linear).
    fn quantile(&mut self, q: f64) -> u32 {
        self.micros.sort_unstable();
        if self.micros.is_empty() {
            return 0;
        }
        let i = ((self.micros.len() as f64 * q).ceil() as usize).clamp(1, self.micros.len());
        self.micros[i - 1]
    }
}

// ---------------------------------------------------------------------------
// Raw clients: pre-encoded requests, one call in flight per connection

/// Why a call failed.
#[derive(Debug)]
enum CallError {
    /// The connection was refused, or closed (EOF, reset, failed write)
    /// before any byte of the response arrived.
    NotAnswered(String),
    /// Anything else: a cut or malformed response, an error status.
    Failed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotAnswered(e) => write!(f, "not answered: {e}"),
            CallError::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// The requests of one protocol, encoded once.
struct Wire {
    proto: Proto,
    thrift_frame: Bytes,
    grpc_body: Bytes,
    grpc_uri: http::Uri,
}

/// The `Echo` call's Binary-protocol argument struct:
/// `{1: Request {1: action, 2: msg}}`.
fn thrift_args(msg: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u8(12); // struct
    b.put_i16(1);
    for (id, s) in [(1i16, "echo"), (2, msg)] {
        b.put_u8(11); // string
        b.put_i16(id);
        b.put_u32(u32::try_from(s.len()).unwrap_or(u32::MAX));
        b.put_slice(s.as_bytes());
    }
    b.put_u8(0); // end of Request
    b.put_u8(0); // end of args
    b.freeze()
}

fn thrift_frame(framed: bool, msg: &str) -> Res<Bytes> {
    use wego_kitex::thrift::{MessageHeader, MessageType, Protocol, encode_header};
    let mut out = BytesMut::new();
    let start = if framed {
        wego_kitex::transport::framed::begin(&mut out)
    } else {
        let h =
            wego_kitex::ttheader::Header::new(wego_kitex::ttheader::HeaderFormat::TtHeader, 0, 1);
        wego_kitex::ttheader::encode(&h, &mut out)?
    };
    encode_header(
        Protocol::Binary,
        &MessageHeader {
            name: THRIFT_METHOD.into(),
            kind: MessageType::Call,
            seq_id: 1,
        },
        true,
        &mut out,
    );
    out.put_slice(&thrift_args(msg));
    if framed {
        wego_kitex::transport::framed::finish(&mut out, start)?;
    } else {
        wego_kitex::ttheader::finish(&mut out, start)?;
    }
    Ok(out.freeze())
}

/// The protobuf `echo.Request {action: "echo", msg}`.
fn grpc_message(msg: &str) -> Bytes {
    let mut b = BytesMut::new();
    for (tag, s) in [(0x0a_u8, "echo"), (0x12, msg)] {
        b.put_u8(tag);
        b.put_u8(u8::try_from(s.len()).unwrap_or(u8::MAX)); // short strings only
        b.put_slice(s.as_bytes());
    }
    b.freeze()
}

impl Wire {
    fn new(proto: Proto, addr: SocketAddr) -> Res<Arc<Wire>> {
        let msg = "hello, reliability";
        let message = grpc_message(msg);
        let mut grpc_body = BytesMut::new();
        grpc_body.put_u8(0);
        grpc_body.put_u32(u32::try_from(message.len())?);
        grpc_body.put_slice(&message);
        Ok(Arc::new(Wire {
            proto,
            thrift_frame: thrift_frame(proto == Proto::ThriftFramed, msg)?,
            grpc_body: grpc_body.freeze(),
            grpc_uri: format!("http://{addr}{GRPC_PATH}").parse()?,
        }))
    }
}

/// One client connection.
enum RawConn {
    Stream { io: TcpStream, buf: BytesMut },
    H2(h2::client::SendRequest<Bytes>),
}

impl RawConn {
    async fn connect(wire: &Wire, addr: SocketAddr) -> Result<RawConn, CallError> {
        let io = TcpStream::connect(addr)
            .await
            .map_err(|e| CallError::NotAnswered(format!("connect: {e}")))?;
        let _ = io.set_nodelay(true);
        match wire.proto {
            Proto::Grpc => {
                let (send, conn) = h2::client::handshake(io)
                    .await
                    .map_err(|e| CallError::NotAnswered(format!("h2 handshake: {e}")))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(RawConn::H2(send))
            }
            _ => Ok(RawConn::Stream {
                io,
                buf: BytesMut::with_capacity(256),
            }),
        }
    }

    /// One request and its whole response. `Ok(false)`: the server asked to
    /// close the connection (HTTP `Connection: close`).
    async fn call(&mut self, wire: &Wire) -> Result<bool, CallError> {
        match self {
            RawConn::Stream { io, buf } => match wire.proto {
                Proto::Http => http_call(io, buf).await,
                _ => thrift_call(io, buf, wire).await,
            },
            RawConn::H2(send) => grpc_call(send, wire).await.map(|()| true),
        }
    }
}

fn io_not_answered(e: std::io::Error) -> CallError {
    CallError::NotAnswered(e.to_string())
}

/// Reads more bytes; an EOF or error before any response byte is
/// [`CallError::NotAnswered`].
async fn read_more(io: &mut TcpStream, buf: &mut BytesMut, any: bool) -> Result<(), CallError> {
    match io.read_buf(buf).await {
        Ok(0) if !any => Err(CallError::NotAnswered("closed before the response".into())),
        Ok(0) => Err(CallError::Failed("closed inside the response".into())),
        Ok(_) => Ok(()),
        Err(e) if !any => Err(io_not_answered(e)),
        Err(e) => Err(CallError::Failed(format!("read inside the response: {e}"))),
    }
}

async fn http_call(io: &mut TcpStream, buf: &mut BytesMut) -> Result<bool, CallError> {
    io.write_all(HTTP_REQUEST).await.map_err(io_not_answered)?;
    let mut any = !buf.is_empty();
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(buf) {
                Ok(httparse::Status::Complete(head)) => {
                    let code = resp.code.unwrap_or(0);
                    let mut len = 0usize;
                    let mut keep = true;
                    for h in resp.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            len = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .ok_or_else(|| CallError::Failed("bad content-length".into()))?;
                        } else if h.name.eq_ignore_ascii_case("connection")
                            && h.value.eq_ignore_ascii_case(b"close")
                        {
                            keep = false;
                        }
                    }
                    if buf.len() >= head + len {
                        buf.advance(head + len);
                        if code != 200 {
                            return Err(CallError::Failed(format!("status {code}")));
                        }
                        return Ok(keep);
                    }
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(CallError::Failed(format!("bad response: {e}"))),
            }
        }
        read_more(io, buf, any).await?;
        any = true;
    }
}

async fn thrift_call(
    io: &mut TcpStream,
    buf: &mut BytesMut,
    wire: &Wire,
) -> Result<bool, CallError> {
    io.write_all(&wire.thrift_frame)
        .await
        .map_err(io_not_answered)?;
    let mut any = !buf.is_empty();
    loop {
        if buf.len() >= 4 {
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() >= 4 + len {
                let frame = buf.split_to(4 + len).freeze();
                let payload = if wire.proto == Proto::ThriftFramed {
                    frame.slice(4..)
                } else {
                    wego_kitex::ttheader::decode_frame(frame)
                        .map_err(|e| CallError::Failed(format!("bad ttheader reply: {e}")))?
                        .1
                };
                // Strict Binary envelope: 0x80 0x01, 0, message type (2 = reply).
                return match payload.get(..4) {
                    Some([0x80, 0x01, _, 2]) => Ok(true),
                    _ => Err(CallError::Failed("not a reply (exception?)".into())),
                };
            }
        }
        read_more(io, buf, any).await?;
        any = true;
    }
}

async fn grpc_call(
    send: &mut h2::client::SendRequest<Bytes>,
    wire: &Wire,
) -> Result<(), CallError> {
    let req = http::Request::builder()
        .method(http::Method::POST)
        .uri(wire.grpc_uri.clone())
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .map_err(|e| CallError::Failed(e.to_string()))?;
    let mut ready = send
        .clone()
        .ready()
        .await
        .map_err(|e| CallError::NotAnswered(format!("h2 not ready: {e}")))?;
    let (resp, mut body) = ready
        .send_request(req, false)
        .map_err(|e| CallError::NotAnswered(format!("h2 send: {e}")))?;
    body.send_data(wire.grpc_body.clone(), true)
        .map_err(|e| CallError::NotAnswered(format!("h2 data: {e}")))?;
    let resp = resp.await.map_err(|e| {
        if e.is_go_away() || e.reason() == Some(h2::Reason::REFUSED_STREAM) {
            CallError::NotAnswered(format!("h2: {e}"))
        } else {
            CallError::Failed(format!("h2 response: {e}"))
        }
    })?;
    if resp.status() != http::StatusCode::OK {
        return Err(CallError::Failed(format!("status {}", resp.status())));
    }
    let mut recv = resp.into_body();
    let mut got = 0usize;
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.map_err(|e| CallError::Failed(format!("h2 data: {e}")))?;
        got += chunk.len();
        let _ = recv.flow_control().release_capacity(chunk.len());
    }
    let trailers = recv
        .trailers()
        .await
        .map_err(|e| CallError::Failed(format!("h2 trailers: {e}")))?;
    let status = trailers
        .as_ref()
        .and_then(|t| t.get("grpc-status"))
        .map(|v| v.as_bytes().to_vec());
    match status.as_deref() {
        Some(b"0") if got > 5 => Ok(()),
        other => Err(CallError::Failed(format!(
            "grpc-status {:?}, {got} body bytes",
            other.map(String::from_utf8_lossy)
        ))),
    }
}

// ---------------------------------------------------------------------------
// conns: 10,000 idle keep-alive connections

async fn conns(proto: Proto, args: &Args) -> Res<()> {
    let addr: SocketAddr = args.str("addr")?.parse()?;
    let pid: u32 = args.num("pid", 0)?;
    let n: usize = args.num("conns", 10_000)?;
    let probes: usize = args.num("probes", 200)?;
    let parallel: usize = args.num("connect-parallel", 200)?;
    let wire = Wire::new(proto, addr)?;

    let rss0 = rss_kb(pid);
    let fds0 = fd_count(pid);
    let anon0 = proc_kb(pid, "smaps_rollup", "Anonymous").unwrap_or(0);
    println!("conns before rss_kb={rss0} anon_kb={anon0} fds={fds0}");

    // Open: connect and one request each, `parallel` handshakes at a time
    // (the listener's backlog is 1024).
    let gate = Arc::new(Semaphore::new(parallel));
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let gate = gate.clone();
        let wire = wire.clone();
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let mut c = RawConn::connect(&wire, addr).await?;
            c.call(&wire).await?;
            drop(permit);
            Ok::<_, CallError>(c)
        }));
    }
    let mut open = Vec::with_capacity(n);
    let mut errors: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        match t.await {
            Ok(Ok(c)) => open.push(c),
            Ok(Err(e)) => *errors.entry(e.to_string()).or_default() += 1,
            Err(e) => *errors.entry(e.to_string()).or_default() += 1,
        }
    }
    println!(
        "conns opened ok={} failed={} secs={:.1} errors={errors:?}",
        open.len(),
        n - open.len(),
        t0.elapsed().as_secs_f64()
    );

    // Every open connection makes a second request, all at once.
    let wire2 = wire.clone();
    let mut tasks = Vec::with_capacity(open.len());
    for mut c in open {
        let wire = wire2.clone();
        tasks.push(tokio::spawn(async move {
            let r = c.call(&wire).await;
            (c, r)
        }));
    }
    let mut open = Vec::with_capacity(tasks.len());
    let mut second_failed = 0usize;
    for t in tasks {
        match t.await {
            Ok((c, Ok(_))) => open.push(c),
            Ok((_, Err(e))) => {
                second_failed += 1;
                *errors.entry(e.to_string()).or_default() += 1;
            }
            Err(_) => second_failed += 1,
        }
    }
    println!(
        "conns second_round ok={} failed={second_failed}",
        open.len()
    );

    // Let the server settle, then measure the idle connections.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss1 = rss_kb(pid);
    let fds1 = fd_count(pid);
    let anon1 = proc_kb(pid, "smaps_rollup", "Anonymous").unwrap_or(0);
    let per = (rss1.saturating_sub(rss0) * 1024) as f64 / open.len().max(1) as f64;
    println!(
        "conns idle open={} rss_kb={rss1} anon_kb={anon1} fds={fds1} rss_per_conn_bytes={per:.0} \
         anon_per_conn_bytes={:.0} tool_rss_kb={}",
        open.len(),
        (anon1.saturating_sub(anon0) * 1024) as f64 / open.len().max(1) as f64,
        rss_kb(std::process::id())
    );
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
        for l in s.lines().skip(1) {
            println!(
                "smaps_rollup {}",
                l.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }

    // New connections while the others sit idle: connect + one request.
    let mut hist = Hist::default();
    let mut probe_failed = 0usize;
    for _ in 0..probes {
        let t = Instant::now();
        let r = async {
            let mut c = RawConn::connect(&wire, addr).await?;
            c.call(&wire).await
        }
        .await;
        match r {
            Ok(_) => hist.record(t.elapsed()),
            Err(e) => {
                probe_failed += 1;
                *errors.entry(format!("probe: {e}")).or_default() += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let over_10ms = hist.micros.iter().filter(|&&u| u > 10_000).count();
    println!(
        "conns probe {} failed={probe_failed} over_10ms={over_10ms} errors={errors:?}",
        hist.summary("")
    );
    drop(open);
    Ok(())
}

// ---------------------------------------------------------------------------
// Closed-loop load (normal clients) and rate-limited load

/// Failed calls of the closed-loop clients.
#[derive(Default)]
struct Counts {
    failed: AtomicU64,
}

/// `conns` closed-loop clients until `stop`; returns their latencies.
async fn closed_loop(
    wire: Arc<Wire>,
    addr: SocketAddr,
    conns: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> Hist {
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let wire = wire.clone();
        let stop = stop.clone();
        let counts = counts.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = Hist::default();
            let mut conn: Option<RawConn> = None;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match RawConn::connect(&wire, addr).await {
                        Ok(c) => conn.insert(c),
                        Err(_) => {
                            counts.failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                match c.call(&wire).await {
                    Ok(keep) => {
                        hist.record(t.elapsed());
                        if !keep {
                            conn = None;
                        }
                    }
                    Err(_) => {
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                        conn = None;
                    }
                }
            }
            hist
        }));
    }
    let mut all = Hist::default();
    for t in tasks {
        if let Ok(h) = t.await {
            all.merge(h);
        }
    }
    all
}

/// Calls `call` `rate` times a second from `workers` workers until `stop`.
async fn paced<F, Fut>(rate: u64, workers: u64, stop: Arc<AtomicBool>, call: F)
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let period = Duration::from_secs_f64(workers as f64 / rate.max(1) as f64);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let stop = stop.clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            // Spread the workers' ticks over one period.
            tokio::time::sleep(period.mul_f64(w as f64 / workers as f64)).await;
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                call(w).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

// ---------------------------------------------------------------------------
// slow: trickling clients beside a closed-loop load

/// The bytes a slow client trickles: a request that never completes
/// within the run.
fn trickle_bytes(wire: &Wire) -> Bytes {
    let mut b = BytesMut::new();
    match wire.proto {
        Proto::Http => {
            b.put_slice(b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
            b.put_slice(&[b'a'; 8192]);
            b.put_slice(b"\r\n\r\n");
        }
        Proto::Thrift | Proto::ThriftFramed => {
            // One echo frame carrying a large message, byte by byte.
            let msg = "x".repeat(8192);
            if let Ok(f) = thrift_frame(wire.proto == Proto::ThriftFramed, &msg) {
                b.put_slice(&f);
            }
        }
        Proto::Grpc => {
            b.put_slice(wego_kitex::transport::HTTP2_PREFACE);
            // SETTINGS (empty), then HEADERS with a long padding field
            // (literal header, not indexed: 0x00, name, value).
            b.put_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
            let mut block = BytesMut::new();
            block.put_u8(0);
            block.put_u8(7);
            block.put_slice(b"x-trick");
            block.put_u8(0x7f); // length >= 127, HPACK integer continuation
            let mut rest = 4000 - 127;
            while rest >= 128 {
                block.put_u8((rest % 128) as u8 | 0x80);
                rest /= 128;
            }
            block.put_u8(rest as u8);
            block.put_slice(&[b'a'; 4000]);
            let len = block.len();
            b.put_slice(&[
                (len >> 16) as u8,
                (len >> 8) as u8,
                len as u8,
                1,
                4,
                0,
                0,
                0,
                1,
            ]);
            b.put_slice(&block);
        }
    }
    b.freeze()
}

/// How one trickling connection ended.
struct Trickle {
    /// From the first byte to the server's close (or the end of the run).
    age: Duration,
    closed_by_server: bool,
    bytes_sent: usize,
    got_response: bool,
}

async fn trickle_one(
    addr: SocketAddr,
    bytes: Bytes,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> Option<Trickle> {
    let io = TcpStream::connect(addr).await.ok()?;
    let (mut rd, mut wr) = io.into_split();
    let first = Instant::now();
    let mut sent = 0usize;
    let mut got_response = false;
    let mut rbuf = [0u8; 1024];
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if stop.load(Ordering::Relaxed) || sent >= bytes.len() {
                    return Some(Trickle { age: first.elapsed(), closed_by_server: false, bytes_sent: sent, got_response });
                }
                if wr.write_all(&bytes[sent..sent + 1]).await.is_err() {
                    return Some(Trickle { age: first.elapsed(), closed_by_server: true, bytes_sent: sent, got_response });
                }
                sent += 1;
            }
            r = rd.read(&mut rbuf) => match r {
                Ok(n) if n > 0 => got_response = true,
                _ => return Some(Trickle { age: first.elapsed(), closed_by_server: true, bytes_sent: sent, got_response }),
            },
        }
    }
}

async fn slow(proto: Proto, args: &Args) -> Res<()> {
    let addr: SocketAddr = args.str("addr")?.parse()?;
    let n_slow: usize = args.num("slow", 1000)?;
    let n_normal: usize = args.num("normal", 50)?;
    let baseline = Duration::from_secs(args.num("baseline-secs", 15)?);
    let loaded = Duration::from_secs(args.num("loaded-secs", 40)?);
    let every = Duration::from_millis(args.num("byte-ms", 1000)?);
    let deadline: f64 = args.num("deadline-secs", 0.0)?;
    let wire = Wire::new(proto, addr)?;

    // Unloaded: the normal clients alone.
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let run = tokio::spawn(closed_loop(
        wire.clone(),
        addr,
        n_normal,
        stop.clone(),
        counts.clone(),
    ));
    tokio::time::sleep(baseline).await;
    stop.store(true, Ordering::Relaxed);
    let mut base = run.await?;
    let base_failed = counts.failed.load(Ordering::Relaxed);
    let base_line = base.summary("");
    println!("slow baseline {base_line} failed={base_failed}");

    // Loaded: the same clients while `n_slow` connections trickle; each
    // slot reconnects when the server closes it, so `n_slow` trickle all
    // the time.
    let stop = Arc::new(AtomicBool::new(false));
    let bytes = trickle_bytes(&wire);
    let results = Arc::new(Mutex::new(Vec::<Trickle>::new()));
    let mut slots = Vec::new();
    for i in 0..n_slow {
        let (stop, bytes, results) = (stop.clone(), bytes.clone(), results.clone());
        slots.push(tokio::spawn(async move {
            // Stagger the first connections over one byte interval.
            tokio::time::sleep(every.mul_f64(i as f64 / n_slow as f64)).await;
            while !stop.load(Ordering::Relaxed) {
                match trickle_one(addr, bytes.clone(), every, stop.clone()).await {
                    Some(t) => results.lock().await.push(t),
                    None => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }));
    }
    // Let the trickle start before measuring.
    tokio::time::sleep(every * 2).await;
    let counts = Arc::new(Counts::default());
    let normal_stop = Arc::new(AtomicBool::new(false));
    let run = tokio::spawn(closed_loop(
        wire.clone(),
        addr,
        n_normal,
        normal_stop.clone(),
        counts.clone(),
    ));
    tokio::time::sleep(loaded).await;
    normal_stop.store(true, Ordering::Relaxed);
    let mut under = run.await?;
    stop.store(true, Ordering::Relaxed);
    for s in slots {
        let _ = s.await;
    }
    let loaded_failed = counts.failed.load(Ordering::Relaxed);
    let under_line = under.summary("");
    let ratio = under.quantile(0.99) as f64 / base.quantile(0.99).max(1) as f64;
    println!("slow loaded {under_line} failed={loaded_failed} p99_ratio={ratio:.2}");

    // Unloaded again, so that a change of machine state during the run
    // (another process taking CPU) shows as two baselines that differ.
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let run = tokio::spawn(closed_loop(
        wire.clone(),
        addr,
        n_normal,
        stop.clone(),
        counts.clone(),
    ));
    tokio::time::sleep(baseline).await;
    stop.store(true, Ordering::Relaxed);
    let mut after = run.await?;
    let after_line = after.summary("");
    let after_ratio = under.quantile(0.99) as f64 / after.quantile(0.99).max(1) as f64;
    println!(
        "slow baseline_after {after_line} failed={} p99_ratio_to_after={after_ratio:.2}",
        counts.failed.load(Ordering::Relaxed)
    );

    let results = results.lock().await;
    let mut closed = Hist::default();
    let mut open_ages = Hist::default();
    let mut responded = 0usize;
    let mut max_sent_open = 0usize;
    for t in results.iter() {
        if t.closed_by_server {
            closed.record(t.age);
        } else {
            open_ages.record(t.age);
            max_sent_open = max_sent_open.max(t.bytes_sent);
        }
        responded += usize::from(t.got_response);
    }
    let late = match deadline {
        d if d > 0.0 => closed
            .micros
            .iter()
            .filter(|&&u| f64::from(u) > (d + 1.0) * 1e6)
            .count(),
        _ => 0,
    };
    println!(
        "slow trickle connections={} closed_by_server={} still_open_at_end={} with_response={responded} \
         deadline_secs={deadline} closed_more_than_1s_late={late}",
        results.len(),
        closed.micros.len(),
        open_ages.micros.len(),
    );
    println!("slow closed_after_first_byte {}", closed.summary(""));
    println!(
        "slow open_at_end_age {} max_bytes_sent={max_sent_open}",
        open_ages.summary("")
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// shutdown: two instances, one stopped gracefully under load

/// A per-instance service that counts the attempts sent to it.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    attempts: Arc<AtomicU64>,
}

impl<S: Service<R>, R> Service<R> for Counted<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }
    fn call(&mut self, req: R) -> S::Future {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        self.inner.call(req)
    }
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    completed: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
}

type CallFut = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Stops the server `pid` with SIGTERM and reports when it exited.
async fn stop_server(pid: u32, at: Duration, start: Instant) {
    tokio::time::sleep(at).await;
    let sent = start.elapsed();
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    println!(
        "shutdown sigterm_at_secs={:.2} kill_ok={}",
        sent.as_secs_f64(),
        status.is_ok_and(|s| s.success())
    );
    let t = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}/status")).exists()
        && proc_state(pid) != Some('Z')
    {
        if t.elapsed() > Duration::from_secs(60) {
            println!("shutdown server_exit=not-within-60s");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "shutdown server_exited_after_secs={:.2}",
        t.elapsed().as_secs_f64()
    );
}

fn proc_state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit_once(')')?.1.trim_start().chars().next()
}

async fn shutdown(proto: Proto, args: &Args) -> Res<()> {
    let addrs: Vec<SocketAddr> = args
        .str("addrs")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let rate: u64 = args.num("rate", 5000)?;
    let secs: u64 = args.num("secs", 20)?;
    let workers: u64 = args.num("workers", 64)?;
    let stop_pid: u32 = args.num("stop-pid", 0)?;
    let stop_at = Duration::from_secs_f64(args.num("stop-at", 6.0)?);
    let tally = Arc::new(Tally::default());
    let errors = Arc::new(std::sync::Mutex::new(HashMap::<String, u64>::new()));
    let attempts = Arc::new(AtomicU64::new(0));

    let call: Arc<dyn Fn(u64) -> CallFut + Send + Sync> = match proto {
        Proto::Http => http_retrying(addrs.clone(), workers, tally.clone())?,
        Proto::Thrift | Proto::ThriftFramed => kitex_thrift(proto, &addrs, attempts.clone())?,
        Proto::Grpc => kitex_grpc(&addrs, attempts.clone())?,
    };
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = tokio::spawn(stop_server(stop_pid, stop_at, start));
    let load = {
        let (tally, errors) = (tally.clone(), errors.clone());
        let stop = stop.clone();
        tokio::spawn(paced(rate, workers, stop, move |w| {
            let (call, tally, errors) = (call.clone(), tally.clone(), errors.clone());
            async move {
                tally.sent.fetch_add(1, Ordering::Relaxed);
                match call(w).await {
                    Ok(()) => tally.completed.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        if let Ok(mut m) = errors.lock() {
                            *m.entry(e).or_default() += 1;
                        }
                        tally.failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }))
    };
    let mut last = 0;
    for s in 1..=secs {
        tokio::time::sleep_until((start + Duration::from_secs(s)).into()).await;
        let done = tally.completed.load(Ordering::Relaxed);
        println!("shutdown second={s} completed_per_sec={}", done - last);
        last = done;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = load.await;
    let _ = stopper.await;
    let retried = match proto {
        Proto::Http => tally.retried.load(Ordering::Relaxed),
        // Attempts beyond the first of each call went through the retry layer.
        _ => attempts
            .load(Ordering::Relaxed)
            .saturating_sub(tally.sent.load(Ordering::Relaxed)),
    };
    let errors = errors.lock().map(|m| format!("{m:?}")).unwrap_or_default();
    println!(
        "shutdown sent={} completed={} retried={retried} failed={} errors={errors}",
        tally.sent.load(Ordering::Relaxed),
        tally.completed.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    Ok(())
}

/// A worker's HTTP connection: the instance it goes to, and the connection
/// while open.
type HttpSlot = Mutex<(usize, Option<RawConn>)>;

/// HTTP: one keep-alive connection per worker, on the instances in turn; a
/// call whose connection closed (or was refused) before any response byte
/// is retried on a new connection, to the next instance, up to 3 times.
fn http_retrying(
    addrs: Vec<SocketAddr>,
    workers: u64,
    tally: Arc<Tally>,
) -> Res<Arc<dyn Fn(u64) -> CallFut + Send + Sync>> {
    let first = *addrs.first().ok_or("--addrs names no instance")?;
    let wire = Wire::new(Proto::Http, first)?;
    let conns: Arc<Vec<HttpSlot>> = Arc::new(
        (0..workers)
            .map(|w| Mutex::new((w as usize % addrs.len(), None)))
            .collect(),
    );
    let addrs = Arc::new(addrs);
    Ok(Arc::new(move |w| {
        let (wire, conns, addrs, tally) =
            (wire.clone(), conns.clone(), addrs.clone(), tally.clone());
        Box::pin(async move {
            let slot = &conns[w as usize];
            let mut slot = slot.lock().await;
            let mut last = String::new();
            for attempt in 0..3 {
                if attempt > 0 {
                    tally.retried.fetch_add(1, Ordering::Relaxed);
                    slot.0 = (slot.0 + 1) % addrs.len();
                }
                if slot.1.is_none() {
                    match RawConn::connect(&wire, addrs[slot.0]).await {
                        Ok(c) => slot.1 = Some(c),
                        Err(e) => {
                            last = e.to_string();
                            continue;
                        }
                    }
                }
                let Some(c) = slot.1.as_mut() else { continue };
                match c.call(&wire).await {
                    Ok(keep) => {
                        if !keep {
                            slot.1 = None;
                        }
                        return Ok(());
                    }
                    Err(CallError::NotAnswered(e)) => {
                        slot.1 = None;
                        last = e;
                    }
                    Err(CallError::Failed(e)) => {
                        slot.1 = None;
                        return Err(e);
                    }
                }
            }
            Err(format!("3 attempts not answered, last: {last}"))
        })
    }))
}

/// Thrift: wego-kitex's client (pooled, per instance) behind round-robin
/// load balancing with per-instance breakers and a budgeted retry, as the
/// quick start builds it.
fn kitex_thrift(
    proto: Proto,
    addrs: &[SocketAddr],
    attempts: Arc<AtomicU64>,
) -> Res<Arc<dyn Fn(u64) -> CallFut + Send + Sync>> {
    use wego_governance::breaker::{BreakerConfig, Breakers};
    use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
    use wego_governance::retry::{RetryBudget, RetryLayer};
    use wego_governance::{Instance, InstanceWatch};
    use wego_kitex::client::{Client, ClientRequest};
    use wego_kitex::transport::Framing;

    let instances = addrs
        .iter()
        .map(|a| Ok(Instance::new(a.to_string().parse()?)))
        .collect::<Res<Vec<_>>>()?;
    let template = Client::template()
        .with_callee("EchoServer")
        .with_framing(if proto == Proto::ThriftFramed {
            Framing::Framed
        } else {
            Framing::TtHeader
        })
        .with_rpc_timeout(Duration::from_secs(2))
        .build_template()?;
    let breakers = Breakers::new(
        BreakerConfig::default()
            .with_consecutive_failures(3)
            .with_cool_down(Duration::from_secs(2)),
    );
    let lb = LoadBalanceLayer::new(
        "EchoServer",
        InstanceWatch::fixed(instances),
        RoundRobin::new,
    )
    .with_breaker(breakers)
    .layer(move |inst: &Instance| Counted {
        inner: template.for_address(inst.address.clone()),
        attempts: attempts.clone(),
    });
    let budget = Arc::new(RetryBudget::new(0.2, 10, Duration::from_secs(10)));
    let stack = RetryLayer::new(3).with_budget(budget).layer(lb);
    let args = thrift_args("hello, reliability");
    Ok(Arc::new(move |_| {
        let mut svc = stack.clone();
        let req = ClientRequest::new(THRIFT_METHOD, args.clone())
            .with_callee("EchoServer")
            .with_idempotent(true);
        Box::pin(async move {
            std::future::poll_fn(|cx| svc.poll_ready(cx))
                .await
                .map_err(|e| e.to_string())?;
            let resp = svc.call(req).await.map_err(|e| e.to_string())?;
            // The result struct: field 0 (success), a struct.
            match resp.body.first() {
                Some(12) => Ok(()),
                _ => Err("reply without a success field".to_owned()),
            }
        })
    }))
}

/// gRPC: wego-kitex's channels (one per instance, dialled on first use)
/// behind round-robin load balancing with breakers and a budgeted retry.
fn kitex_grpc(
    addrs: &[SocketAddr],
    attempts: Arc<AtomicU64>,
) -> Res<Arc<dyn Fn(u64) -> CallFut + Send + Sync>> {
    use wego_governance::breaker::{BreakerConfig, Breakers};
    use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
    use wego_governance::retry::{RetryBudget, RetryLayer};
    use wego_governance::{Instance, InstanceWatch};
    use wego_kitex::grpc::{Channel, GovernedClient, GrpcCall, LazyChannel, Request};

    let instances = addrs
        .iter()
        .map(|a| Ok(Instance::new(a.to_string().parse()?)))
        .collect::<Res<Vec<_>>>()?;
    let builder = Channel::builder();
    let breakers = Breakers::new(
        BreakerConfig::default()
            .with_consecutive_failures(3)
            .with_cool_down(Duration::from_secs(2)),
    );
    let lb = LoadBalanceLayer::new(
        "echo.EchoServer",
        InstanceWatch::fixed(instances),
        RoundRobin::new,
    )
    .with_breaker(breakers)
    .layer(move |i: &Instance| Counted {
        inner: LazyChannel::new(builder.clone(), i.address.clone()),
        attempts: attempts.clone(),
    });
    let budget = Arc::new(RetryBudget::new(0.2, 10, Duration::from_secs(10)));
    let client =
        GovernedClient::new(RetryLayer::new(3).with_budget(budget).layer(lb)).with_idempotent(true);
    let message = grpc_message("hello, reliability");
    Ok(Arc::new(move |_| {
        let mut client = client.clone();
        let call = GrpcCall::new(GRPC_PATH, Request::new(message.clone())).with_idempotent(true);
        Box::pin(async move {
            client
                .call(call)
                .await
                .map(|_| ())
                .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
        })
    }))
}

// ---------------------------------------------------------------------------
// soak: a steady rate for minutes, RSS and fds sampled

async fn soak(proto: Proto, args: &Args) -> Res<()> {
    let addr: SocketAddr = args.str("addr")?.parse()?;
    let pid: u32 = args.num("pid", 0)?;
    let rate: u64 = args.num("rate", 2000)?;
    let secs: u64 = args.num("secs", 600)?;
    let workers: u64 = args.num("conns", 50)?;
    let sample = Duration::from_secs(args.num("sample-secs", 10)?);
    let wire = Wire::new(proto, addr)?;

    let fds_before = fd_count(pid);
    println!("soak before rss_kb={} fds={fds_before}", rss_kb(pid));
    let slots: Arc<Vec<Mutex<Option<RawConn>>>> =
        Arc::new((0..workers).map(|_| Mutex::new(None)).collect());
    let tally = Arc::new(Tally::default());
    let hist = Arc::new(std::sync::Mutex::new(Hist::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (slots, tally, hist, wire) = (slots.clone(), tally.clone(), hist.clone(), wire.clone());
        tokio::spawn(paced(rate, workers, stop.clone(), move |w| {
            let (slots, tally, hist, wire) =
                (slots.clone(), tally.clone(), hist.clone(), wire.clone());
            async move {
                let mut slot = slots[w as usize].lock().await;
                tally.sent.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if slot.is_none() {
                    match RawConn::connect(&wire, addr).await {
                        Ok(c) => *slot = Some(c),
                        Err(_) => {
                            tally.failed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
                let Some(c) = slot.as_mut() else { return };
                match c.call(&wire).await {
                    Ok(keep) => {
                        tally.completed.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut h) = hist.lock() {
                            h.record(t.elapsed());
                        }
                        if !keep {
                            *slot = None;
                        }
                    }
                    Err(_) => {
                        tally.failed.fetch_add(1, Ordering::Relaxed);
                        *slot = None;
                    }
                }
            }
        }))
    };
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut fds_during = 0;
    let mut k = 1u32;
    while start.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep_until((start + sample * k).into()).await;
        let rss = rss_kb(pid);
        let fds = fd_count(pid);
        fds_during = fds_during.max(fds);
        samples.push((sample * k, rss));
        println!(
            "soak sample t_secs={} rss_kb={rss} fds={fds} completed={} failed={}",
            (sample * k).as_secs(),
            tally.completed.load(Ordering::Relaxed),
            tally.failed.load(Ordering::Relaxed)
        );
        k += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = load.await;
    // Close every client connection, then wait for the server's count to
    // come back (up to 10 s).
    drop(slots);
    let t = Instant::now();
    let mut fds_after = fd_count(pid);
    while fds_after > fds_before && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        fds_after = fd_count(pid);
    }
    let at_1min = samples
        .iter()
        .find(|(t, _)| *t >= Duration::from_secs(60))
        .map_or(0, |s| s.1);
    let last = samples.last().map_or(0, |s| s.1);
    let drift = if at_1min > 0 {
        (last as f64 - at_1min as f64) * 100.0 / at_1min as f64
    } else {
        0.0
    };
    let mut h = hist
        .lock()
        .map(|mut h| std::mem::take(&mut *h))
        .unwrap_or_default();
    println!(
        "soak result sent={} completed={} failed={} rss_1min_kb={at_1min} rss_last_kb={last} \
         drift_pct={drift:.2} fds_before={fds_before} fds_during_max={fds_during} fds_after={fds_after} \
         after_secs={:.1} rss_after_kb={} {}",
        tally.sent.load(Ordering::Relaxed),
        tally.completed.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        t.elapsed().as_secs_f64(),
        rss_kb(pid),
        h.summary("")
    );
    Ok(())
}
