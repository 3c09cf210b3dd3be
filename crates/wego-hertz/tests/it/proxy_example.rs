//! The `reverse-proxy` example's arguments and proxy, in front of wego's
//! test application.

use http::StatusCode;
use wego_hertz::{Client, Server};

use crate::proxy::within;
use crate::support::{start, start_app};

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/reverse-proxy.rs"]
mod example;

fn args(list: &[&str]) -> Result<example::Args, String> {
    example::Args::parse(list.iter().map(|s| (*s).to_owned()))
}

#[test]
fn reverse_proxy_example_parses_its_arguments() {
    let a = args(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "http://127.0.0.1:9/",
        "--timeout",
        "2.5",
        "--strip-prefix",
        "/api",
        "--preserve-host",
    ])
    .unwrap();
    assert_eq!(a.listen, "127.0.0.1:0");
    assert_eq!(a.timeout, Some(std::time::Duration::from_millis(2500)));
    assert!(a.preserve_host);
    assert!(
        args(&["--listen", "127.0.0.1:0"])
            .unwrap_err()
            .contains("--upstream is required")
    );
    assert!(
        args(&["--upstream", "http://h/"])
            .unwrap_err()
            .contains("--listen is required")
    );
    assert!(
        args(&["--bogus", "x"])
            .unwrap_err()
            .starts_with("usage: reverse-proxy")
    );
    assert!(args(&["--timeout", "-1"]).is_err());
    // A bad upstream is the proxy builder's configuration error.
    let bad = args(&["--listen", "127.0.0.1:0", "--upstream", "nope"]).unwrap();
    assert!(bad.proxy().unwrap_err().is_config());
}

wego_test_support::each_backend!(reverse_proxy_example_forwards, |_backend| async move {
    let (_up, upstream, _task) = start_app(Server::builder()).await;
    let a = args(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &format!("http://{upstream}"),
        "--strip-prefix",
        "/app",
    ])
    .unwrap();
    let (_p, proxy, _task) = start(Server::builder(), a.proxy().unwrap()).await;
    let client = Client::builder().build().unwrap();
    let resp = within(client.get(format!("http://{proxy}/app/")))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        &resp.into_body().collect_limited(100).await.unwrap()[..],
        b"hello"
    );
    let resp = within(client.get(format!("http://{proxy}/app/missing")))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
});
