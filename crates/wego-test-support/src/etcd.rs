//! A real etcd for tests: started on free loopback ports with a temp data
//! dir, killed (SIGKILL) and restarted on demand, removed at the end.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wego_netpoll::rt::Backend;

/// A running etcd (or one that was killed and can be restarted).
#[derive(Debug)]
pub struct EtcdServer {
    bin: PathBuf,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

/// Asks etcd's `/health` endpoint over plain HTTP/1.1.
async fn healthy(port: u16) -> bool {
    use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
    let addr = wego_netpoll::Address::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    let Ok(mut conn) = wego_netpoll::Dialer::new().dial(&addr).await else {
        return false;
    };
    let req = b"GET /health HTTP/1.1\r\nHost: etcd\r\nConnection: close\r\n\r\n";
    if conn.write_all(req).await.is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let _ = conn.read_to_end(&mut reply).await;
    String::from_utf8_lossy(&reply).contains("\"health\":\"true\"")
}

impl EtcdServer {
    /// Starts etcd, or returns `None` (skip) when it is not installed or
    /// the backend is not tokio (etcd-client runs on tonic, which needs a
    /// tokio runtime).
    ///
    /// # Panics
    ///
    /// When etcd is missing under `WEGO_REQUIRE_PEERS=1`, or does not
    /// become healthy within 30 s.
    pub async fn start(test: &str, backend: Backend) -> Option<Self> {
        if backend != Backend::Tokio {
            eprintln!("SKIPPED {test} on {backend}: etcd-client needs the tokio backend");
            return None;
        }
        let bin = crate::peer::program(test, "etcd")?;
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wego-etcd-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = EtcdServer {
            bin,
            dir,
            client_port: free_port(),
            peer_port: free_port(),
            child: None,
        };
        s.spawn().await;
        Some(s)
    }

    /// The client URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    async fn spawn(&mut self) {
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.with_extension("log"))
            .unwrap_or_else(|e| panic!("cannot create the etcd log file: {e}"));
        let child = Command::new(&self.bin)
            .args(["--name", "wego"])
            .arg("--data-dir")
            .arg(&self.dir)
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("wego={peer}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if wego_netpoll::rt::timeout(Duration::from_secs(2), healthy(self.client_port))
                .await
                .unwrap_or(false)
            {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "etcd exited with {status}; see {}",
                    self.dir.with_extension("log").display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not start; see {}",
                self.dir.with_extension("log").display()
            );
            // Paces the health checks; the loop waits for etcd's answer.
            wego_netpoll::rt::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILLs etcd.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts etcd again on the same ports; `wipe` loses its data, as a
    /// replaced etcd would.
    ///
    /// # Panics
    ///
    /// As [`EtcdServer::start`].
    pub async fn restart(&mut self, wipe: bool) {
        self.kill();
        if wipe {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        self.spawn().await;
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("log"));
    }
}
