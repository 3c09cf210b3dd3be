//! netpoll echo: a TCP echo server on wego-netpoll, with graceful shutdown.
//!
//! Shows the network layer alone: `Listener` accepting `Conn`s, one task per
//! connection spawned through the runtime facade, `LinkBuffer` reading and
//! writing without copies, and `Shutdown` draining connections on Ctrl-C.
//!
//! ```sh
//! cargo run --release --features signal --example netpoll-echo -- --port 8888
//! cargo run --release --features signal,polling --example netpoll-echo -- --port 8888 --backend polling
//! printf 'hello\n' | nc -q1 127.0.0.1 8888   # or: curl telnet://127.0.0.1:8888
//! ```
#![allow(clippy::print_stdout)] // an example talks to its user

use std::time::Duration;

use wego_netpoll::{Address, Conn, LinkBuffer, Listener, Shutdown, Watcher, rt};

/// The value after `flag` on the command line.
fn arg(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Echoes one connection until the peer closes or draining begins.
pub(crate) async fn echo(mut conn: Conn, watcher: Watcher) {
    let mut buf = LinkBuffer::new();
    loop {
        let read = tokio::select! {
            r = buf.read_from(&mut conn) => r,
            () = watcher.draining() => return,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if buf.write_to(&mut conn).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = arg("--port").map_or(Ok(8888), |p| p.parse())?;
    let addr: Address = format!("127.0.0.1:{port}").parse()?;
    // `--backend tokio|polling` (default tokio; polling needs the feature).
    let backend: rt::Backend =
        arg("--backend").map_or(Ok(rt::Backend::default()), |b| b.parse())?;
    let runtime = rt::Runtime::builder().backend(backend).build()?;
    runtime.block_on(async move {
        let listener = Listener::bind(&addr).await?;
        println!("netpoll echo listening on {}", listener.local_addr());
        println!(
            "try: printf 'hello\\n' | nc -q1 127.0.0.1 {}",
            addr.as_tcp().map_or(0, |a| a.port())
        );
        let shutdown = Shutdown::new();
        let accept_watcher = shutdown.watcher();
        let accepting = {
            let shutdown = shutdown.clone();
            async move {
                loop {
                    tokio::select! {
                        conn = listener.accept() => match conn {
                            Ok(conn) => { rt::spawn(echo(conn, shutdown.watcher())); }
                            Err(e) => eprintln!("accept: {e}"),
                        },
                        () = accept_watcher.draining() => return,
                    }
                }
            }
        };
        tokio::select! {
            () = accepting => {}
            () = wego_netpoll::signal::terminated() => {}
        }
        let report = shutdown.shutdown(Duration::from_secs(5)).await;
        println!("shut down (forced: {})", report.forced);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
