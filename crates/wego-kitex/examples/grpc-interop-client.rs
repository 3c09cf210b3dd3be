//! grpc-interop-client: runs the gRPC interop client cases against a
//! `TestService` server (ours or any other implementation's).
//!
//! ```text
//! cargo run -p wego-kitex --example grpc-interop-client -- --port 10000 [--host 127.0.0.1] [--test_case large_unary]
//! ```
//!
//! Without `--test_case` every case runs; the exit status is non-zero if any
//! fails. `--no_compression_probe` skips the client_compressed_unary feature
//! probe for servers that cannot see whether a request was compressed.

#![allow(clippy::print_stdout)] // an example prints its report

use std::error::Error;

use wego_kitex::grpc::Channel;
use wego_netpoll::{Address, rt};

use wego_idl_gen::grpc_testing as pb;
#[path = "interop/cases.rs"]
mod cases;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name || a.starts_with(&format!("{name}=")))
        .and_then(|i| match args[i].split_once('=') {
            Some((_, v)) => Some(v.to_owned()),
            None => args.get(i + 1).cloned(),
        })
}

fn main() -> Result<(), Box<dyn Error>> {
    let port = arg("--port").unwrap_or_else(|| "10000".into());
    let host = arg("--host").unwrap_or_else(|| "127.0.0.1".into());
    let addr: Address = format!("{host}:{port}").parse()?;
    let only = arg("--test_case");
    let probe = !std::env::args().any(|a| a == "--no_compression_probe");
    let failed = rt::block_on(async move {
        let ch = Channel::connect(&addr).await?;
        let mut failed = 0;
        for &case in cases::CASES {
            if only.as_deref().is_some_and(|o| o != case && o != "all") {
                continue;
            }
            match cases::run_with(case, &ch, probe).await {
                Ok(()) => println!("PASS {case}"),
                Err(e) => {
                    failed += 1;
                    println!("FAIL {case}: {e}");
                }
            }
        }
        Ok::<_, Box<dyn Error>>(failed)
    })??;
    if failed > 0 {
        return Err(format!("{failed} interop case(s) failed").into());
    }
    Ok(())
}
