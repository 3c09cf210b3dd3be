//! Thrift echo calls through generated code over loopback, one runtime
//! thread, for instruction counting under callgrind: what a payload
//! protocol costs against the built-in ones, and whether Binary and
//! Compact pay anything for the seam.
//!
//! ```sh
//! cargo build --release -p wego-codec-seams --example echo-count
//! valgrind --tool=callgrind target/release/examples/echo-count binary 2000
//! valgrind --tool=callgrind target/release/examples/echo-count binary 0     # setup only
//! ```
//!
//! Modes: `binary`, `compact` (Framed), `tjson` (Framed, `TJson` on both
//! ends; the server has it registered in every mode, as a server serving
//! TJSON beside Binary would). Instructions per call are
//! (total(N) − total(0)) / N.
#![allow(clippy::print_stdout)] // prints the checksum so the work is not optimised away

use wego_codec_seams::TJson;
use wego_idl_gen::echo::echo_service::{EchoServerClient, EchoServerHandler, EchoServerServer};
use wego_idl_gen::echo::echo_types::echo::{Request, Response};
use wego_kitex::BoxError;
use wego_kitex::client::{Client, Mode};
use wego_kitex::server::Server;
use wego_kitex::thrift::Protocol;
use wego_kitex::transport::Framing;
use wego_netpoll::rt;

struct Echo;

impl EchoServerHandler for Echo {
    async fn echo(&self, req: Request) -> Result<Response, BoxError> {
        Ok(Response {
            action: req.action,
            msg: req.msg,
        })
    }

    async fn notify(&self, _: Request) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("binary", String::as_str).to_owned();
    let calls: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let runtime = rt::Runtime::builder()
        .worker_threads(std::num::NonZeroUsize::MIN)
        .build()?;
    runtime.block_on(async move {
        let server = Server::builder()
            .add_service(EchoServerServer::new(Echo))
            .with_payload_protocol(TJson::new())
            .build()?;
        let listener = wego_netpoll::Listener::bind(&"127.0.0.1:0".parse()?).await?;
        let addr = listener.local_addr().clone();
        let s = server.clone();
        rt::spawn(async move { s.serve(listener).await });
        let builder = Client::builder(addr)
            .with_framing(Framing::Framed)
            .with_mode(Mode::Pooled {
                max_idle: 1,
                idle_timeout: std::time::Duration::from_secs(60),
            });
        let builder = match mode.as_str() {
            "compact" => builder.with_protocol(Protocol::Compact),
            "tjson" => builder.with_payload_protocol(TJson::new()),
            _ => builder,
        };
        let client = EchoServerClient::new(builder.build()?);
        let msg: pilota::FastStr = "x".repeat(1024).into();
        let mut total = 0;
        for _ in 0..calls {
            let r = client
                .echo(Request {
                    action: "echo".into(),
                    msg: msg.clone(),
                })
                .await?;
            total += r.msg.len();
        }
        println!("{mode} {calls} {total}");
        Ok::<_, BoxError>(())
    })?;
    Ok(())
}
