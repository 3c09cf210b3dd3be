//! An API gateway: HTTP in front of a Thrift service, mapped through the
//! IDL's hz-style `api.*` annotations (kitex's HTTP generic call), with no
//! generated code. Without `--backend-addr` it starts the IDL's
//! `ItemService` in-process, so it runs alone:
//!
//! ```sh
//! cargo run --example gateway                       # http on 127.0.0.1:8888
//! curl -i -X POST localhost:8888/items -H 'content-type: application/json' \
//!      -d '{"name": "pen", "labels": ["office"], "color": "BLUE"}'
//! curl -i 'localhost:8888/items/1?verbose=true&field=1,2' -H 'x-trace-id: t-1'
//! curl -i -X POST localhost:8888/search -d 'q=pen&tag=office'   # an urlencoded form
//! curl -i -X PUT localhost:8888/files/a.txt -H 'content-type: text/plain' --data-binary 'hi'
//! curl -i localhost:8888/download/a.txt
//! curl -i localhost:8888/items/abc        # 400 naming the field `id`
//! curl -i localhost:8888/items/9          # 404 from the NotFound exception
//! cargo run --example gateway -- --port 8080 --backend-addr 127.0.0.1:8888 \
//!     --idl my.thrift --service MyService
//! ```
//!
//! Flags: `--port N` (default 8888), `--backend-addr HOST:PORT` (default:
//! in-process), `--idl FILE` (default: `idl/gateway.thrift`, built in),
//! `--service NAME` (default: the IDL's last service), `--backend
//! tokio|polling`. The routes are printed at start-up; docs/generic.md
//! has the mapping rules.
#![allow(clippy::print_stdout)] // the CLI tells its user where to point curl

use wego_examples::gateway::{self, GatewayConfig};
use wego_kitex::BoxError;
use wego_kitex::generic::Idl;
use wego_netpoll::{Address, rt};

struct Args {
    port: u16,
    backend_addr: Option<Address>,
    idl: Option<String>,
    service: Option<String>,
    backend: rt::Backend,
}

fn parse_args() -> Result<Option<Args>, BoxError> {
    let mut args = Args {
        port: 8888,
        backend_addr: None,
        idl: None,
        service: None,
        backend: rt::Backend::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => args.port = value()?.parse()?,
            "--backend-addr" => args.backend_addr = Some(value()?.parse()?),
            "--idl" => args.idl = Some(value()?),
            "--service" => args.service = Some(value()?),
            "--backend" => args.backend = value()?.parse()?,
            "-h" | "--help" => {
                println!(
                    "gateway [--port N] [--backend-addr HOST:PORT] [--idl FILE] [--service NAME] [--backend tokio|polling]"
                );
                return Ok(None);
            }
            other => return Err(format!("unknown flag {other} (try --help)").into()),
        }
    }
    Ok(Some(args))
}

fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let Some(args) = parse_args()? else {
        return Ok(());
    };
    // The IDL is read before the runtime starts: no blocking file reads
    // on an executor thread.
    let idl = match &args.idl {
        Some(path) => Idl::parse_file(path)?,
        None => Idl::parse_str("gateway.thrift", gateway::DEFAULT_IDL)?,
    };
    let desc = match &args.service {
        Some(name) => idl.service(name)?,
        None => idl.default_service()?,
    };
    let cfg = GatewayConfig {
        http_addr: format!("127.0.0.1:{}", args.port).parse()?,
        backend_addr: args.backend_addr,
        ..GatewayConfig::default()
    };
    let runtime = rt::Runtime::builder().backend(args.backend).build()?;
    runtime.block_on(async move {
        let gw = gateway::start(&cfg, desc).await?;
        println!("wego gateway on http://{}/", gw.http_addr);
        let local = if cfg.backend_addr.is_some() {
            ""
        } else {
            " (in-process)"
        };
        println!("  thrift backend {}{local}", gw.backend_addr);
        let mapper = gw.client().mapper()?;
        let mut routes: Vec<_> = mapper.routes().collect();
        routes.sort_by_key(|r| (r.1, r.0.as_str()));
        for (verb, path, method) in routes {
            println!("  {:<7} {path:<22} -> {method}", verb.as_str());
        }
        println!("Ctrl-C stops it.");
        wego_netpoll::signal::terminated().await;
        gw.shutdown().await;
        Ok::<_, BoxError>(())
    })
}
