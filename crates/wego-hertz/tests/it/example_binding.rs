//! The `binding` example's routes, served over loopback and checked with
//! hyper's client: each extractor's success, and each documented rejection.

use http::{Method, Request, StatusCode};
use wego_hertz::{Body, Server};

use crate::client::{Full, HyperConn, get, hyper_connect, request};
use crate::support::start;

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/binding.rs"]
mod example;

fn with_type(method: Method, path: &str, content_type: &str, body: &'static str) -> Request<Body> {
    let mut req = request(method, path, body);
    req.headers_mut()
        .insert("content-type", content_type.parse().unwrap());
    req
}

async fn post_json(c: &mut HyperConn, body: &'static str) -> Full {
    c.fetch(with_type(Method::POST, "/users", "application/json", body))
        .await
}

/// The wire names of the failing fields in a 400 validation answer.
fn failing_fields(r: &Full) -> Vec<String> {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error"], "validation failed");
    v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect()
}

wego_test_support::each_backend!(binding_example_routes, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), example::app()).await;
    let mut c = hyper_connect(&addr).await;

    // JSON: a valid user is created and returned under its wire names.
    let r = post_json(
        &mut c,
        r#"{"userName":"gopher","email":"g@example.com","age":30}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["userName"], "gopher");
    assert_eq!(v["age"], 30);
    // The README's failing request: every field fails, listed by wire name.
    let r = post_json(&mut c, r#"{"userName":"x","email":"nope","age":7}"#).await;
    assert_eq!(failing_fields(&r), ["age", "email", "userName"]);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["fields"][0]["reason"], "must be 13 or older");
    // Other rejections keep their own status.
    let r = c
        .fetch(with_type(Method::POST, "/users", "text/plain", "{}"))
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        post_json(&mut c, "{not json").await.status,
        StatusCode::BAD_REQUEST
    );
    let r = post_json(&mut c, r#"{"userName":"gopher"}"#).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Query, with a default and a range.
    let r = c.fetch(get("/users?q=go")).await;
    assert_eq!(r.text(), "page of 20 matching \"go\"\n");
    let r = c.fetch(get("/users?size=5")).await;
    assert_eq!(r.text(), "page of 5 matching \"\"\n");
    assert_eq!(
        failing_fields(&c.fetch(get("/users?size=0")).await),
        ["size"]
    );

    // Path parameters are typed.
    assert_eq!(c.fetch(get("/users/7")).await.text(), "user #7\n");
    let r = c.fetch(get("/users/seven")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Forms.
    let form = "application/x-www-form-urlencoded";
    let r = c
        .fetch(with_type(
            Method::POST,
            "/login",
            form,
            "user=bob&password=hunter22",
        ))
        .await;
    assert_eq!(r.text(), "hello bob\n");
    let r = c
        .fetch(with_type(
            Method::POST,
            "/login",
            form,
            "user=bob&password=short",
        ))
        .await;
    assert_eq!(failing_fields(&r), ["password"]);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["fields"][0]["reason"], "at least 8 characters");
});
