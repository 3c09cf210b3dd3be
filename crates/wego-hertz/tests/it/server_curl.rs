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
        wego_test_support::peer::output(
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
                .arg(format!("{base}/collect")),
        )
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

wego_test_support::each_backend!(
    curl_waiting_for_continue_gets_it_from_a_streaming_handler,
    |_backend| async move {
        let Some(curl) = wego_test_support::peer::program(
            "curl_waiting_for_continue_gets_it_from_a_streaming_handler",
            "curl",
        ) else {
            return;
        };
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let base = format!("http://{addr}");
        let big = std::env::temp_dir().join(format!("wego-hertz-curl-big-{}", std::process::id()));
        let over = usize::try_from(wego_hertz::server::DEFAULT_MAX_BODY_SIZE).unwrap() + 1;
        std::fs::write(&big, vec![b'x'; over]).unwrap();
        let big_arg = format!("@{}", big.display());
        let out = rt::spawn_blocking(move || {
            let w = ["-sS", "--http1.1", "-w", "|%{http_code}\\n"];
            wego_test_support::peer::output(
                Command::new(curl)
                    // curl waits up to a minute for 100 Continue here; the
                    // server must send it when `/echo`'s body is first polled
                    // (--max-time fails the test otherwise).
                    .args(w)
                    .args(["--max-time", "20", "--expect100-timeout", "60"])
                    .args(["-H", "Expect: 100-continue", "--data-binary", "hello"])
                    .arg(format!("{base}/echo"))
                    // An invalid Host value.
                    .arg("--next")
                    .args(w)
                    .args(["-H", "Host: a/b"])
                    .arg(format!("{base}/"))
                    // Past the default body cap: 413 before the body is sent.
                    .arg("--next")
                    .args(w)
                    .args(["--max-time", "20", "--expect100-timeout", "60"])
                    .args(["--data-binary", &big_arg])
                    .arg(format!("{base}/echo")),
            )
        })
        .await
        .unwrap();
        let _ = std::fs::remove_file(&big);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout.lines().collect::<Vec<_>>(),
            ["hello|200", "|400", "|413"],
            "{stdout}"
        );
    }
);
