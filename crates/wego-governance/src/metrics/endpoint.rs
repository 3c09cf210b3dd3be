//! A minimal HTTP/1.0 responder for `GET /metrics` on a netpoll listener.
//!
//! Governance must not depend on wego-hertz, and a scrape endpoint needs
//! only this: read one request head (bounded in size and time), answer
//! (bounded in time), close. Anything but `GET /metrics` gets 404; a
//! malformed or oversized head gets 400.

use std::future::Future;
use std::time::Duration;

use wego_netpoll::Listener;
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};

use super::Metrics;

/// The largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to take the whole response: Prometheus's
/// default `scrape_timeout`. A client that reads no more is dropped with
/// its copy of the body.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause after a failed accept before the next one, as hertz's
/// server takes: the error (too many open files, say) is usually gone
/// once some connections have closed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Serves `metrics` on `listener`, each connection in its own task, until
/// the future is dropped (abort its task to stop it).
///
/// A failed accept (`EMFILE` under load, say) is logged with `tracing` at
/// debug level and retried after a short pause, as the listener stays
/// usable. A client has 5 s to send its request head and 10 s (Prometheus's
/// default scrape timeout) to take the response; past that its connection
/// is closed.
pub async fn serve(listener: Listener, metrics: Metrics) {
    accept_loop(|| listener.accept(), metrics, WRITE_TIMEOUT).await;
}

/// Serves each connection `accept` gives in its own task, for ever.
async fn accept_loop<A, F, E>(mut accept: A, metrics: Metrics, write_timeout: Duration)
where
    A: FnMut() -> F,
    F: Future<Output = Result<wego_netpoll::Conn, E>>,
    E: std::fmt::Display,
{
    loop {
        match accept().await {
            Ok(conn) => {
                let metrics = metrics.clone();
                wego_netpoll::rt::spawn(async move {
                    let _ = handle(conn, &metrics, write_timeout).await;
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "metrics endpoint: accept failed; retrying");
                wego_netpoll::rt::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

async fn handle(
    mut conn: wego_netpoll::Conn,
    metrics: &Metrics,
    write_timeout: Duration,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let head = wego_netpoll::rt::timeout(READ_TIMEOUT, async {
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(end) = find_head_end(&buf) {
                return Some(end);
            }
            if buf.len() > MAX_HEAD {
                return None;
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let (status, body) = match head {
        Ok(Some(end)) => route(&buf[..end], metrics),
        Ok(None) | Err(_) => ("400 Bad Request", String::from("bad request\n")),
    };
    let ctype = if status.starts_with("200") {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let resp = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        conn.write_all(resp.as_bytes()).await?;
        conn.flush().await?;
        conn.shutdown().await
    };
    wego_netpoll::rt::timeout(write_timeout, write)
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client did not take the response in time",
            )
        })?
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn route(head: &[u8], metrics: &Metrics) -> (&'static str, String) {
    let Some(line) = head.split(|&b| b == b'\r').next() else {
        return ("400 Bad Request", "bad request\n".into());
    };
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return ("400 Bad Request", "bad request\n".into());
    };
    let path = target.split(|&b| b == b'?').next().unwrap_or(target);
    match (method, path) {
        (b"GET", b"/metrics") => ("200 OK", metrics.render()),
        _ => ("404 Not Found", "not found\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use wego_netpoll::io::AsyncReadExt as _;

    use super::*;

    wego_test_support::each_backend!(
        an_accept_error_does_not_end_the_endpoint,
        |_backend| async move {
            let listener = Arc::new(wego_test_support::loopback().await);
            let addr = listener.local_addr().clone();
            // The first accept fails, as one would on EMFILE.
            let failed = Arc::new(AtomicBool::new(false));
            let accept = move || {
                let (listener, failed) = (listener.clone(), failed.clone());
                async move {
                    if !failed.swap(true, Ordering::SeqCst) {
                        return Err(std::io::Error::other("too many open files"));
                    }
                    listener.accept().await.map_err(std::io::Error::from)
                }
            };
            let server =
                wego_netpoll::rt::spawn(accept_loop(accept, Metrics::new(), WRITE_TIMEOUT));
            let mut conn = wego_netpoll::Dialer::new()
                .dial(&addr)
                .await
                .expect("the endpoint still listens");
            conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
                .await
                .unwrap();
            let mut resp = Vec::new();
            wego_netpoll::rt::timeout(Duration::from_secs(20), conn.read_to_end(&mut resp))
                .await
                .expect("the endpoint answers after an accept error")
                .unwrap();
            assert!(resp.starts_with(b"HTTP/1.0 200 OK\r\n"));
            server.abort();
        }
    );

    wego_test_support::each_backend!(
        a_client_that_does_not_read_is_dropped,
        |_backend| async move {
            // A body of 16 MiB, more than the socket buffers on both ends hold.
            let m = Metrics::new().with_max_label_len(usize::MAX);
            let labels = m.start_call("echo", &"m".repeat(1 << 20));
            m.end_call(&labels.0, &labels.1, Duration::from_millis(1), None);
            assert!(m.render().len() > 16 << 20);
            let listener = wego_test_support::loopback().await;
            let addr = listener.local_addr().as_tcp().unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            // A client that asks and never reads; it keeps its socket open
            // until the test is done.
            let client = std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
                rx.recv().unwrap_or(());
                drop(c);
            });
            let conn = listener.accept().await.unwrap();
            let write_timeout = Duration::from_millis(200);
            let served =
                wego_netpoll::rt::timeout(Duration::from_secs(20), handle(conn, &m, write_timeout))
                    .await;
            tx.send(()).unwrap();
            client.join().unwrap();
            let err = served
                .expect("the write to a client that does not read ends")
                .unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        }
    );

    #[test]
    fn routes_only_get_metrics() {
        let m = Metrics::new();
        assert_eq!(route(b"GET /metrics HTTP/1.1\r\n\r\n", &m).0, "200 OK");
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.1\r\n\r\n", &m).0, "200 OK");
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n", &m).0,
            "404 Not Found"
        );
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n", &m).0, "404 Not Found");
        assert_eq!(route(b"garbage", &m).0, "400 Bad Request");
        assert_eq!(find_head_end(b"GET / HTTP/1.0\r\n\r\nrest"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\r\n"), None);
    }
}
