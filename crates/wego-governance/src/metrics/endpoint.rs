//! A minimal HTTP/1.0 responder for `GET /metrics` on a netpoll listener.
//!
//! Governance must not depend on wego-hertz, and a scrape endpoint needs
//! only this: read one request head (bounded in size and time), answer,
//! close. Anything but `GET /metrics` gets 404; a malformed or oversized
//! head gets 400.

use std::time::Duration;

use wego_netpoll::Listener;
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};

use super::Metrics;

/// The largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `metrics` on `listener` until accepting fails; each connection
/// runs in its own task.
///
/// # Errors
///
/// Returns the accept error that stopped the loop.
pub async fn serve(listener: Listener, metrics: Metrics) -> wego_netpoll::Result<()> {
    loop {
        let conn = listener.accept().await?;
        let metrics = metrics.clone();
        wego_netpoll::rt::spawn(async move {
            let _ = handle(conn, &metrics).await;
        });
    }
}

async fn handle(mut conn: wego_netpoll::Conn, metrics: &Metrics) -> std::io::Result<()> {
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
    conn.write_all(resp.as_bytes()).await?;
    conn.flush().await?;
    conn.shutdown().await
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
    use super::*;

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
