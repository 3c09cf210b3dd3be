//! A real etcd for the tests: started on free loopback ports with a temp
//! data dir, killed (SIGKILL) and restarted on demand, removed at the end.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wego_netpoll::rt::Backend;

pub(crate) struct EtcdServer {
    bin: PathBuf,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl EtcdServer {
    /// Starts etcd, or returns `None` (skip) when it is not installed or
    /// the backend is not tokio (etcd-client runs on tonic, which needs a
    /// tokio runtime).
    pub(crate) async fn start(test: &str, backend: Backend) -> Option<Self> {
        if backend != Backend::Tokio {
            eprintln!("SKIPPED {test} on {backend}: etcd-client needs the tokio backend");
            return None;
        }
        let bin = wego_test_support::peer::program(test, "etcd")?;
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

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    async fn spawn(&mut self) {
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.with_extension("log")).unwrap();
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
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = async {
                let mut c = etcd_client::Client::connect([self.url()], None)
                    .await
                    .ok()?;
                c.status().await.ok()
            };
            if wego_netpoll::rt::timeout(Duration::from_secs(2), ready)
                .await
                .ok()
                .flatten()
                .is_some()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not start; see {}",
                self.dir.with_extension("log").display()
            );
            wego_netpoll::rt::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILLs etcd.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts etcd again on the same ports; `wipe` loses its data, as a
    /// replaced etcd would.
    pub(crate) async fn restart(&mut self, wipe: bool) {
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
