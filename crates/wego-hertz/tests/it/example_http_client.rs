//! The `http-client` example's `fetch`, against wego's server.

use http::StatusCode;
use wego_hertz::{Client, Server};

use crate::support::start_app;

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/http-client.rs"]
mod example;

wego_test_support::each_backend!(http_client_example_fetches, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let client = Client::builder().build().unwrap();
    let mut out = Vec::new();
    let head = example::fetch(&client, &format!("http://{addr}/"), &mut out)
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(out, b"hello");
});
