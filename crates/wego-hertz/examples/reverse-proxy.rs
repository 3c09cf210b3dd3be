//! A reverse proxy in front of one upstream, with wego-hertz's
//! `ReverseProxy`.
//!
//! Every request is forwarded to the upstream URL with its path joined to
//! the URL's path; bodies stream both ways and WebSocket upgrades pass
//! through. An unreachable upstream answers 502, a slow one 504
//! (`--timeout`). SIGTERM or ctrl-c stops accepting and lets requests in
//! flight finish.
//!
//! ```text
//! cargo run -p wego-hertz --example reverse-proxy -- \
//!     --listen 127.0.0.1:8080 --upstream http://127.0.0.1:9000/
//! ```
//!
//! Options: `--strip-prefix /api` (removed from request paths before
//! joining), `--timeout SECS` (wait for the upstream's response head),
//! `--preserve-host` (send the client's `Host`), `--threads N`,
//! `--backend tokio|polling`.

use std::num::NonZeroUsize;
use std::time::Duration;

use wego_hertz::Server;
use wego_hertz::proxy::ReverseProxy;
use wego_netpoll::rt::{self, Backend};
use wego_netpoll::{Address, Listener};

/// The command line.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) listen: String,
    pub(crate) upstream: String,
    pub(crate) strip_prefix: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) preserve_host: bool,
    pub(crate) threads: usize,
    pub(crate) backend: Backend,
}

const USAGE: &str = "usage: reverse-proxy --listen ADDR --upstream URL \
                     [--strip-prefix PATH] [--timeout SECS] [--preserve-host] \
                     [--threads N] [--backend tokio|polling]";

impl Args {
    /// Parses the arguments after the program name.
    pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut listen = None;
        let mut upstream = None;
        let mut out = Self {
            listen: String::new(),
            upstream: String::new(),
            strip_prefix: None,
            timeout: None,
            preserve_host: false,
            threads: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            backend: Backend::default(),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--preserve-host" {
                out.preserve_host = true;
                continue;
            }
            let value = args.next();
            match (arg.as_str(), value) {
                ("--listen", Some(v)) => listen = Some(v),
                ("--upstream", Some(v)) => upstream = Some(v),
                ("--strip-prefix", Some(v)) => out.strip_prefix = Some(v),
                ("--timeout", Some(v)) => {
                    let secs: f64 = v.parse().map_err(|e| format!("--timeout {v}: {e}"))?;
                    out.timeout = Some(
                        Duration::try_from_secs_f64(secs)
                            .map_err(|e| format!("--timeout {v}: {e}"))?,
                    );
                }
                ("--threads", Some(v)) => {
                    out.threads = v.parse().map_err(|e| format!("--threads {v}: {e}"))?;
                }
                ("--backend", Some(v)) => {
                    out.backend = v.parse().map_err(|e| format!("--backend {v}: {e}"))?;
                }
                _ => return Err(format!("{USAGE}; got {arg}")),
            }
        }
        out.listen = listen.ok_or_else(|| format!("{USAGE}; --listen is required"))?;
        out.upstream = upstream.ok_or_else(|| format!("{USAGE}; --upstream is required"))?;
        Ok(out)
    }

    /// The proxy these arguments describe.
    pub(crate) fn proxy(&self) -> Result<ReverseProxy, wego_hertz::Error> {
        let mut builder = ReverseProxy::builder()
            .with_upstream(self.upstream.clone())
            .with_preserve_host(self.preserve_host);
        if let Some(prefix) = &self.strip_prefix {
            builder = builder.with_strip_prefix(prefix.clone());
        }
        if let Some(timeout) = self.timeout {
            builder = builder.with_timeout(timeout);
        }
        builder.build()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(std::env::args().skip(1))?;
    let proxy = args.proxy()?;
    let addr: Address = args.listen.parse()?;
    let runtime = rt::Runtime::builder()
        .backend(args.backend)
        .worker_threads(NonZeroUsize::new(args.threads).ok_or("--threads must be at least 1")?)
        .build()?;
    let upstream = args.upstream.clone();
    runtime.block_on(async move {
        let server = Server::builder()
            .on_run(move |addr| eprintln!("reverse-proxy on http://{addr} -> {upstream}"))
            .build()?;
        let stopper = server.clone();
        rt::spawn(async move {
            wego_netpoll::signal::terminated().await;
            let report = stopper.shutdown(Duration::from_secs(10)).await;
            eprintln!("reverse-proxy: stopped ({report:?})");
        });
        let listener = Listener::bind(&addr).await?;
        server.serve(listener, proxy).await?;
        Ok(())
    })
}
