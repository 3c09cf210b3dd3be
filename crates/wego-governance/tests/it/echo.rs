//! A tiny protocol-agnostic echo service over wego-netpoll: one line in,
//! `<port> <line>` out, a connection per call; and its client as a
//! `tower::Service` for the load balancer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tower_service::Service;
use wego_governance::{Call, Instance};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::rt::JoinHandle;
use wego_netpoll::{Address, Dialer, Listener};

use crate::support::{BoxFut, TestError};

/// One echo instance; dropping or `kill`ing it closes every connection
/// abruptly.
/// The bit of `EchoServer::served` that marks a killed instance.
const KILLED: usize = 1 << (usize::BITS - 1);

pub(crate) struct EchoServer {
    pub(crate) addr: Address,
    served: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
}

impl EchoServer {
    pub(crate) async fn start(addr: Option<&Address>) -> Self {
        let listener = match addr {
            Some(a) => Listener::builder()
                .reuse_address(true)
                .bind(a)
                .await
                .unwrap(),
            None => wego_test_support::loopback().await,
        };
        let addr = listener.local_addr().clone();
        let served = Arc::new(AtomicUsize::new(0));
        let s = served.clone();
        let port = addr.as_tcp().unwrap().port();
        let task = wego_netpoll::rt::spawn(async move {
            // Connection tasks are aborted with the server (abrupt close).
            struct AbortAll(Vec<JoinHandle<()>>);
            impl Drop for AbortAll {
                fn drop(&mut self) {
                    self.0.iter().for_each(JoinHandle::abort);
                }
            }
            let mut conns = AbortAll(Vec::new());
            loop {
                let Ok(mut conn) = listener.accept().await else {
                    break;
                };
                let s = s.clone();
                conns.0.push(wego_netpoll::rt::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 256];
                    while !buf.contains(&b'\n') {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    // Counted and answered only while alive: once `kill`
                    // has set the bit, a call still running on another
                    // worker is dropped unanswered, so no call is counted
                    // after the kill.
                    if s.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                        (v & KILLED == 0).then_some(v + 1)
                    })
                    .is_err()
                    {
                        return;
                    }
                    let mut out = format!("{port} ").into_bytes();
                    out.extend_from_slice(&buf);
                    let _ = conn.write_all(&out).await;
                }));
                conns.0.retain(|h| !h.is_finished());
            }
        });
        EchoServer {
            addr,
            served,
            task: Some(task),
        }
    }

    /// Calls this instance served, up to its kill.
    pub(crate) fn served(&self) -> usize {
        self.served.load(Ordering::Acquire) & !KILLED
    }

    pub(crate) fn kill(&mut self) {
        self.served.fetch_or(KILLED, Ordering::AcqRel);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client of one echo instance.
#[derive(Clone)]
pub(crate) struct EchoClient {
    addr: Address,
}

pub(crate) fn make_client(i: &Instance) -> EchoClient {
    EchoClient {
        addr: i.address.clone(),
    }
}

impl Service<Call<u32>> for EchoClient {
    type Response = u16;
    type Error = TestError;
    type Future = BoxFut<u16>;
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TestError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Call<u32>) -> BoxFut<u16> {
        let addr = self.addr.clone();
        Box::pin(async move {
            let io = async {
                let mut conn = Dialer::new()
                    .with_connect_timeout(Duration::from_millis(500))
                    .dial(&addr)
                    .await
                    .map_err(|_| TestError::Transport)?;
                conn.write_all(format!("{}\n", req.body).as_bytes())
                    .await
                    .map_err(|_| TestError::Transport)?;
                let mut out = Vec::new();
                conn.read_to_end(&mut out)
                    .await
                    .map_err(|_| TestError::Transport)?;
                let text = String::from_utf8(out).map_err(|_| TestError::Transport)?;
                let (port, rest) = text.split_once(' ').ok_or(TestError::Transport)?;
                if rest.trim_end() != req.body.to_string() {
                    return Err(TestError::Business);
                }
                port.parse::<u16>().map_err(|_| TestError::Transport)
            };
            wego_netpoll::rt::timeout(Duration::from_secs(2), io)
                .await
                .map_err(|_| TestError::Transport)?
        })
    }
}
