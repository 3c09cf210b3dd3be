//! Drives one HTTP server with `--concurrency` request loops for
//! `--duration` seconds, using wego-hertz's client or hyper-util's legacy
//! client, both on one wego runtime (tokio's work-stealing scheduler, so
//! hyper's `TokioExecutor` runs on it too), and prints one line:
//!
//! ```text
//! client=wego proto=h1 concurrency=100 requests=123456 errors=0 seconds=10.00 rps=12345.6 cpu_us_per_req=12.34
//! ```
//!
//! `cpu_us_per_req` is the process's user+system CPU time (getrusage)
//! over the timed window divided by the requests completed in it: the
//! client's own cost, apart from the server's. Each request is
//! `GET URL` with its body read to the end.
//!
//! Usage: `http-client-load --client wego|hyper [--http2] [--concurrency 100]
//! [--duration 10] [--threads 1] --url http://127.0.0.1:PORT/plaintext`

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Uri, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wego_hertz::{Body, Client};
use wego_netpoll::rt::{self, Flavor, Runtime};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wego,
    Hyper,
}

struct Options {
    client: Kind,
    http2: bool,
    concurrency: usize,
    duration: Duration,
    threads: NonZeroUsize,
    url: Uri,
}

fn parse() -> Result<Options, BoxError> {
    let mut client = None;
    let mut http2 = false;
    let mut concurrency = 100;
    let mut duration = Duration::from_secs(10);
    let mut threads = NonZeroUsize::MIN;
    let mut url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--http2" {
            http2 = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--client" => {
                client = Some(match value.as_str() {
                    "wego" => Kind::Wego,
                    "hyper" => Kind::Hyper,
                    other => return Err(format!("unknown client {other}").into()),
                })
            }
            "--concurrency" => concurrency = value.parse()?,
            "--duration" => duration = Duration::from_secs_f64(value.parse()?),
            "--threads" => threads = value.parse()?,
            "--url" => url = Some(value.parse::<Uri>()?),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    Ok(Options {
        client: client.ok_or("--client wego|hyper is required")?,
        http2,
        concurrency,
        duration,
        threads,
        url: url.ok_or("--url is required")?,
    })
}

/// One request with either client; true when it completed with a 2xx and
/// its whole body.
#[derive(Clone)]
enum Sender {
    Wego(Client),
    Hyper(HyperClient<HttpConnector, Empty<Bytes>>),
}

impl Sender {
    fn new(kind: Kind, http2: bool, concurrency: usize) -> Result<Self, BoxError> {
        Ok(match kind {
            Kind::Wego => {
                let mut b = Client::builder().with_max_idle_per_host(concurrency);
                if http2 {
                    b = b.with_http2_prior_knowledge();
                }
                Self::Wego(b.build()?)
            }
            Kind::Hyper => {
                let mut b = HyperClient::builder(TokioExecutor::new());
                b.pool_max_idle_per_host(concurrency);
                if http2 {
                    b.http2_only(true);
                }
                Self::Hyper(b.build_http())
            }
        })
    }

    async fn send(&self, uri: &Uri, http2: bool) -> bool {
        match self {
            Self::Wego(c) => {
                let mut req = Request::new(Body::empty());
                *req.uri_mut() = uri.clone();
                if http2 {
                    *req.version_mut() = Version::HTTP_2;
                }
                match c.request(req).await {
                    Ok(resp) if resp.status().is_success() => {
                        resp.into_body().collect().await.is_ok()
                    }
                    _ => false,
                }
            }
            Self::Hyper(c) => {
                let mut req = Request::new(Empty::new());
                *req.uri_mut() = uri.clone();
                match c.request(req).await {
                    Ok(resp) if resp.status().is_success() => {
                        resp.into_body().collect().await.is_ok()
                    }
                    _ => false,
                }
            }
        }
    }
}

/// The process's user+system CPU time.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

async fn run(o: Options) -> Result<String, BoxError> {
    let sender = Sender::new(o.client, o.http2, o.concurrency)?;
    // Warm up: one request per loop, so that connections exist before the
    // timed window.
    for _ in 0..o.concurrency.min(16) {
        if !sender.send(&o.url, o.http2).await {
            return Err("the warm-up request failed: is the server up?".into());
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(o.concurrency);
    for _ in 0..o.concurrency {
        let (sender, stop, done, errors, url) = (
            sender.clone(),
            stop.clone(),
            done.clone(),
            errors.clone(),
            o.url.clone(),
        );
        tasks.push(rt::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if sender.send(&url, o.http2).await {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    rt::sleep(o.duration).await;
    stop.store(true, Ordering::Relaxed);
    let requests = done.load(Ordering::Relaxed);
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = cpu_time() - cpu0;
    for t in tasks {
        let _ = t.await;
    }
    let cpu_us = if requests == 0 {
        f64::NAN
    } else {
        cpu.as_secs_f64() * 1e6 / requests as f64
    };
    Ok(format!(
        "client={} proto={} concurrency={} requests={requests} errors={} seconds={seconds:.2} rps={:.1} cpu_us_per_req={cpu_us:.2}",
        match o.client {
            Kind::Wego => "wego",
            Kind::Hyper => "hyper",
        },
        if o.http2 { "h2" } else { "h1" },
        o.concurrency,
        errors.load(Ordering::Relaxed),
        requests as f64 / seconds,
    ))
}

fn main() -> Result<(), BoxError> {
    let o = parse()?;
    let runtime = Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .worker_threads(o.threads)
        .build()?;
    let line = runtime.block_on(run(o))?;
    println!("{line}");
    Ok(())
}
