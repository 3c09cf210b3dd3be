//! Outside HTTP/2 clients: curl (prior knowledge and `Upgrade: h2c`),
//! h2load, Python's httpx, and hyper's HTTP/2 client.

use std::process::Command;

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use wego_hertz::Server;
use wego_netpoll::rt;

use crate::support::{connect, start_app};

/// Runs `cmd` off the runtime and returns its stdout; fails the test with
/// its stderr when it fails.
async fn run(mut cmd: Command) -> String {
    let out = rt::spawn_blocking(move || wego_test_support::peer::output(&mut cmd))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

wego_test_support::each_backend!(curl_speaks_http2_both_ways, |_backend| async move {
    let Some(curl) = wego_test_support::peer::program("curl_speaks_http2_both_ways", "curl") else {
        return;
    };
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let base = format!("http://{addr}");
    let w = ["-w", "|%{http_version}|%{http_code}\\n"];
    // Prior knowledge: GET, POST with a body, a streamed response. One
    // invocation each: curl 7.88 fails to reuse a prior-knowledge
    // connection with "Error in the HTTP2 framing layer" before sending
    // anything on it (curl/curl#10634, fixed in curl 8.0).
    let mut lines = Vec::new();
    for args in [
        vec![format!("{base}/")],
        vec![
            "--data-binary".to_owned(),
            "x".repeat(100_000),
            format!("{base}/collect"),
        ],
        vec![format!("{base}/stream")],
    ] {
        let mut cmd = Command::new(&curl);
        cmd.args(["-sS", "--http2-prior-knowledge"])
            .args(w)
            .args(args);
        lines.push(run(cmd).await);
    }
    assert_eq!(
        lines,
        ["hello|2|200\n", "100000|2|200\n", "one two three|2|200\n"]
    );
    // `--http2` over cleartext tries `Upgrade: h2c`.
    let mut cmd = Command::new(&curl);
    cmd.args(["-sS", "--http2"]).args(w).arg(format!("{base}/"));
    assert_eq!(run(cmd).await, "hello|2|200\n");
});

wego_test_support::each_backend!(h2load_gets_no_failures, |_backend| async move {
    let Some(h2load) = wego_test_support::peer::program("h2load_gets_no_failures", "h2load") else {
        return;
    };
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut cmd = Command::new(h2load);
    cmd.args(["-n", "20000", "-c", "10", "-m", "10"])
        .arg(format!("http://{addr}/"));
    let out = run(cmd).await;
    assert!(
        out.contains(
            "20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored"
        ),
        "{out}"
    );
    assert!(out.contains("status codes: 20000 2xx"), "{out}");
});

wego_test_support::each_backend!(httpx_speaks_http2, |_backend| async move {
    let Some(python) = wego_test_support::peer::python_with("httpx_speaks_http2", &["httpx", "h2"])
    else {
        return;
    };
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let script = r#"
import sys, httpx
with httpx.Client(http1=False, http2=True) as c:
    r = c.get(sys.argv[1] + "/")
    p = c.post(sys.argv[1] + "/collect", content=b"y" * 50000)
    print(r.http_version, r.status_code, r.text, p.status_code, p.text)
"#;
    let mut cmd = Command::new(python);
    cmd.args(["-c", script, &format!("http://{addr}")]);
    assert_eq!(run(cmd).await, "HTTP/2 200 hello 200 50000\n");
});

/// Spawns hyper's tasks on the backend's runtime.
#[derive(Clone, Copy)]
struct Spawn;

impl<F> hyper::rt::Executor<F> for Spawn
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        rt::spawn(fut);
    }
}

wego_test_support::each_backend!(hyper_http2_client_is_served, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let io = TokioIo::new(connect(&addr).await);
    let (mut send, conn) = hyper::client::conn::http2::handshake(Spawn, io)
        .await
        .unwrap();
    rt::spawn(conn);
    for _ in 0..3 {
        let req = Request::post(format!("http://{addr}/echo"))
            .body(Full::new(Bytes::from_static(b"ping")))
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        assert_eq!(
            (resp.status(), resp.version()),
            (StatusCode::OK, Version::HTTP_2)
        );
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, Bytes::from_static(b"ping"));
    }
});
