//! `http-hello`'s `/ws` echo (with Python's `websockets` as the client)
//! and `--static DIR` (with curl).

use std::process::Command;

use wego_hertz::Server;
use wego_netpoll::rt;

use crate::example_hello::hello;
use crate::support::start;

/// Runs `cmd` off the runtime; its stdout, after asserting success.
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

wego_test_support::each_backend!(
    http_hello_echoes_websocket_messages,
    |_backend| async move {
        let Some(python) = wego_test_support::peer::python_with(
            "http_hello_echoes_websocket_messages",
            &["websockets.sync.client"],
        ) else {
            return;
        };
        let (_server, addr, _task) = start(Server::builder(), hello::app()).await;
        let script = r#"
import sys
from websockets.sync.client import connect
with connect(sys.argv[1]) as ws:
    ws.send("hi")
    a = ws.recv()
    ws.send(b"\x01" * 70000)
    b = ws.recv()
    print(a, len(b))
"#;
        let mut cmd = Command::new(python);
        cmd.args(["-c", script, &format!("ws://{addr}/ws")]);
        assert_eq!(run(cmd).await, "hi 70000\n");
    }
);

wego_test_support::each_backend!(http_hello_serves_a_static_directory, |backend| async move {
    let Some(curl) =
        wego_test_support::peer::program("http_hello_serves_a_static_directory", "curl")
    else {
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "wego-hello-static-{}-{backend}",
        std::process::id()
    ));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("hello.txt"), "static hello\n").unwrap();
    std::fs::write(dir.join("sub/index.html"), "<p>index</p>").unwrap();
    let (_server, addr, _task) = start(
        Server::builder(),
        hello::with_static(hello::app(), dir.clone()),
    )
    .await;
    let w = ["-s", "-w", "|%{http_code}"];
    let mut cmd = Command::new(&curl);
    cmd.args(w).arg(format!("http://{addr}/static/hello.txt"));
    assert_eq!(run(cmd).await, "static hello\n|200");
    let mut cmd = Command::new(&curl);
    cmd.args(w).arg(format!("http://{addr}/static/sub/"));
    assert_eq!(run(cmd).await, "<p>index</p>|200");
    let mut cmd = Command::new(&curl);
    cmd.args(w)
        .args(["--path-as-is"])
        .arg(format!("http://{addr}/static/../Cargo.toml"));
    assert!(run(cmd).await.ends_with("|404"));
    // Without --static there is no /static route.
    let (_server, addr, _task) = start(Server::builder(), hello::app()).await;
    let mut cmd = Command::new(&curl);
    cmd.args(w).arg(format!("http://{addr}/static/hello.txt"));
    assert!(run(cmd).await.ends_with("|404"));
    std::fs::remove_dir_all(&dir).unwrap();
});
