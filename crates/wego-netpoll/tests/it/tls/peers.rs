//! Outside clients: `openssl s_client` and `curl` against wego's acceptor.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::rt::Runtime;
use wego_netpoll::tls::{TlsAcceptor, TlsInfo};
use wego_netpoll::{Address, Listener};
use wego_test_support::peer;

use super::Ca;

/// Starts a TLS server on a fresh runtime that answers each connection
/// with `respond` and reports what each handshake settled.
fn start(
    acceptor: TlsAcceptor,
    respond: fn(Vec<u8>) -> Option<Vec<u8>>,
) -> (Runtime, Address, mpsc::Receiver<Result<TlsInfo, String>>) {
    let rt = Runtime::builder().build().unwrap();
    let listener = rt.block_on(Listener::bind(&Address::loopback())).unwrap();
    let addr = listener.local_addr().clone();
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        while let Ok(conn) = listener.accept().await {
            let mut tls = match acceptor.accept(conn).await {
                Ok(tls) => tls,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    continue;
                }
            };
            let _ = tx.send(Ok(tls.info().clone()));
            // Reads until `respond` has an answer, writes it and closes.
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
                if let Some(answer) = respond(got.clone()) {
                    let _ = tls.write_all(&answer).await;
                    break;
                }
            }
            let _ = tls.shutdown().await;
        }
    });
    (rt, addr, rx)
}

fn write_temp(tag: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("wego-tls-{tag}-{}.pem", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn openssl_s_client_verifies_the_server_and_talks_to_it() {
    let test = "openssl_s_client_verifies_the_server_and_talks_to_it";
    let Some(openssl) = peer::program(test, "openssl") else {
        return;
    };
    let ca = Ca::new("wego test ca");
    let acceptor = TlsAcceptor::builder()
        .with_identity(ca.leaf(&["localhost"]))
        .with_alpn_protocols(["h2", "http/1.1"])
        .build()
        .unwrap();
    let (rt, addr, handshakes) = start(acceptor, |got| {
        got.ends_with(b"\n")
            .then(|| [b"pong: ".as_slice(), &got].concat())
    });
    let ca_file = write_temp("s-client-ca", &ca.pem());
    let mut child = Command::new(openssl)
        .args(["s_client", "-connect", &addr.to_string()])
        .args(["-servername", "localhost", "-verify_hostname", "localhost"])
        .arg("-CAfile")
        .arg(&ca_file)
        .args(["-verify_return_error", "-alpn", "h2", "-ign_eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"ping\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(ca_file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("pong: ping"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
    assert!(stdout.contains("ALPN protocol: h2"), "{stdout}");
    let info = handshakes.recv().unwrap().unwrap();
    assert_eq!(info.server_name(), Some("localhost"));
    assert_eq!(info.alpn_protocol(), Some(&b"h2"[..]));
    drop(rt);
}

#[test]
fn curl_fetches_from_an_http_responder_over_tls() {
    let test = "curl_fetches_from_an_http_responder_over_tls";
    let Some(curl) = peer::program(test, "curl") else {
        return;
    };
    let ca = Ca::new("wego test ca");
    let acceptor = TlsAcceptor::builder()
        .with_identity(ca.leaf(&["localhost"]))
        .with_alpn_protocols(["http/1.1"])
        .build()
        .unwrap();
    // HTTP/1.0: one request, one response, then close.
    let (rt, addr, handshakes) = start(acceptor, |got| {
        got.windows(4).any(|w| w == b"\r\n\r\n").then(|| {
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, curl!\n"
                .to_vec()
        })
    });
    let port = addr.as_tcp().unwrap().port();
    let ca_file = write_temp("curl-ca", &ca.pem());
    let out = peer::output(
        Command::new(curl)
            .args(["--silent", "--show-error", "--max-time", "60"])
            .arg("--cacert")
            .arg(&ca_file)
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .arg(format!("https://localhost:{port}/")),
    );
    let _ = std::fs::remove_file(ca_file);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello, curl!\n");
    let info = handshakes.recv().unwrap().unwrap();
    assert_eq!(info.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(info.server_name(), Some("localhost"));
    drop(rt);
}
