//! curl as a real client: keep-alive reuse, upload, 100-continue.

use std::process::Command;

use wego_hertz::Server;
use wego_netpoll::rt;

use crate::support::start_app;

wego_test_support::each_backend!(curl_talks_to_the_server, |_backend| async move {
    let Some(curl) = wego_test_support::peer::program("curl_talks_to_the_server", "curl") else {
        return;
    };
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let base = format!("http://{addr}");
    let upload = std::env::temp_dir().join(format!("wego-hertz-curl-{}", std::process::id()));
    std::fs::write(&upload, "x".repeat(200_000)).unwrap();
    let data = format!("@{}", upload.display());
    let out = rt::spawn_blocking(move || {
        Command::new(curl)
            .args(["-sS", "--http1.1", "-w", "|%{num_connects}|%{http_code}\\n"])
            .arg(format!("{base}/"))
            .arg(format!("{base}/"))
            .args([
                "--next",
                "-sS",
                "--http1.1",
                "-w",
                "|%{num_connects}|%{http_code}\\n",
            ])
            .args(["-H", "Expect: 100-continue", "--data-binary", &data])
            .arg(format!("{base}/collect"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&upload);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        ["hello|1|200", "hello|0|200", "200000|0|200"],
        "{stdout}"
    );
});
