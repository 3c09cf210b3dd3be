//! Generates every kind of project into one temporary Cargo workspace,
//! edits and updates two of them as a user would, and builds and tests
//! them all with one nested `cargo test`.
//!
//! The nested cargo uses the repository's `Cargo.lock` (so versions match
//! and `--offline` works) and the target dir this test was built in:
//! `cargo test` has released that dir's lock by the time tests run, and
//! the dependencies the outer build compiled with the same features are
//! reused instead of compiled again.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use wego_cli::{Deps, Kind, NewOptions, UpdateOptions, new_project, update_project};

fn new(ws: &Path, kind: Kind, idl: &Path, name: &str) {
    new_project(&NewOptions {
        kind,
        idl: idl.to_path_buf(),
        name: name.into(),
        out: ws.join(name),
        service: None,
        deps: Deps {
            wego_path: Some(crate::repo()),
            in_workspace: true,
        },
    })
    .unwrap();
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn replace(p: &Path, from: &str, to: &str) {
    let text = read(p);
    assert!(
        text.contains(from),
        "{} lacks {from:?}:\n{text}",
        p.display()
    );
    std::fs::write(p, text.replacen(from, to, 1)).unwrap();
}

/// The HTTP client the extra checks use, and their header.
const HTTP_CHECKS_HEAD: &str = r#"#![allow(clippy::unwrap_used)]
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Address, Dialer, rt};

async fn request(addr: &Address, head: &str, body: &str) -> (u16, String) {
    let mut conn = Dialer::new().dial(addr).await.unwrap();
    let req = format!("{head}\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text[9..12].parse().unwrap();
    (status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}
"#;

/// Binding, validation and handler checks of the `http-api` project.
const HTTP_CHECKS: &str = r##"
fn field(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"], "bad request", "{body}");
    v["field"].as_str().unwrap().to_owned()
}

#[test]
fn binds_validates_and_answers_400_naming_the_field() {
    rt::Runtime::builder().build().unwrap().block_on(async {
        let mut cfg = http_api::Config::embedded();
        cfg.addr = Address::loopback();
        let running = http_api::start(&cfg).await.unwrap();
        let a = &running.addr;
        let json = "POST /users HTTP/1.1\r\nContent-Type: application/json";

        let (s, b) = request(a, json, r#"{"name":"x","age":20}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "name"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":10}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "age"), "{b}");
        assert!(b.contains("age must be 18..149"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob"}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "age"), "{b}");
        assert!(b.contains("missing"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":"old"}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "age"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"address":{"city":""}}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "address.city"), "{b}");
        assert!(b.contains("city must not be empty"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"address":{"city":"x","zip":"12"}}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "address.zip"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"email":"nope"}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "email"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"role":3}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "role"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"tags":["a","b","c","d"]}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "tags"), "{b}");
        let (s, b) = request(a, json, "[1]").await;
        assert_eq!(s, 400, "{b}");
        // email(), phone(), sprintf() messages and references to other fields.
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"contact":"bob@example"}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "contact"), "{b}");
        assert!(b.contains(r#"\"bob@example\" is not an email address"#), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"phone":"12345"}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "phone"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"min_age":40}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "min_age"), "{b}");
        assert!(b.contains("min_age 40 exceeds age 30"), "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"contact":"b@x.io","confirm":"c@x.io"}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "confirm"), "{b}");
        assert!(b.contains("confirm must repeat contact"), "{b}");
        // A rule reading an absent optional field is not checked.
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"confirm":"c@x.io"}"#).await;
        assert_eq!(s, 501, "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"contact":"张三@example.cn","confirm":"张三@example.cn","phone":"+86 138 1234 5678","min_age":30}"#).await;
        assert_eq!(s, 501, "{b}");
        let (s, b) = request(a, json, r#"{"name":"bob","age":30,"phone":"(212) 555-0123"}"#).await;
        assert_eq!(s, 501, "{b}");
        // Valid: the stub answers 501.
        let (s, b) = request(a, json, r#"{"name":"bøb","age":30,"role":2,"address":{"city":"x","zip":"12345"}}"#).await;
        assert_eq!(s, 501, "{b}");
        assert!(b.contains("not implemented: UserService.CreateUser"), "{b}");

        // Path, query, header and cookie, into the edited handler.
        let (s, b) = request(a, "GET /users/0 HTTP/1.1", "").await;
        assert_eq!((s, field(&b).as_str()), (400, "id"), "{b}");
        let (s, b) = request(a, "GET /users/abc HTTP/1.1", "").await;
        assert_eq!((s, field(&b).as_str()), (400, "id"), "{b}");
        let (s, b) = request(a, "GET /users/7?page=x HTTP/1.1", "").await;
        assert_eq!((s, field(&b).as_str()), (400, "page"), "{b}");
        let (s, b) = request(a, "GET /users/7?fields=all&page=1&page=2 HTTP/1.1\r\nX-Token: t0k\r\nCookie: session=s1", "").await;
        assert_eq!(s, 200, "{b}");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["id"], 7, "{b}");
        assert_eq!(v["name"], "all/s1", "{b}");
        assert_eq!(v["age"], 2, "{b}");
        assert_eq!(v["token"], "t0k", "{b}");

        // Form fields.
        let form = "POST /search HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded";
        let (s, b) = request(a, form, "q=&limit=5").await;
        assert_eq!((s, field(&b).as_str()), (400, "q"), "{b}");
        let (s, b) = request(a, form, "q=x&limit=500").await;
        assert_eq!((s, field(&b).as_str()), (400, "limit"), "{b}");
        let (s, b) = request(a, form, "limit=5").await;
        assert_eq!((s, field(&b).as_str()), (400, "q"), "{b}");
        let (s, _) = request(a, form, "q=x").await;
        assert_eq!(s, 501);

        let (s, b) = request(a, "GET /ping HTTP/1.1", "").await;
        assert_eq!(s, 501, "{b}");
        let (s, b) = request(a, "GET /metrics HTTP/1.1", "").await;
        assert_eq!(s, 200);
        assert!(b.contains("wego_requests_total"), "{b}");
        running.shutdown().await;
    });
}
"##;

/// Binding, validation and handler checks of the `http-proto` project
/// (from `shop.proto`, extended with `/health` and updated).
const HTTP_PROTO_CHECKS: &str = r##"
fn field(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"], "bad request", "{body}");
    v["field"].as_str().unwrap().to_owned()
}

#[test]
fn proto_options_bind_validate_and_answer_400_naming_the_field() {
    rt::Runtime::builder().build().unwrap().block_on(async {
        let mut cfg = http_proto::Config::embedded();
        cfg.addr = Address::loopback();
        let running = http_proto::start(&cfg).await.unwrap();
        let a = &running.addr;
        let json = "POST /orders HTTP/1.1\r\nContent-Type: application/json";
        let item = r#""items":[{"sku":"a","count":2}]"#;

        let (s, b) = request(a, json, r#"{"customer":"x"}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "customer"), "{b}");
        let (s, b) = request(a, json, r#"{"customer":"bob","items":[]}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "items"), "{b}");
        let (s, b) = request(a, json, r#"{"customer":"bob","items":[{"sku":"","count":1}]}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "items.sku"), "{b}");
        assert!(b.contains("sku must not be empty"), "{b}");
        let (s, b) = request(a, json, &format!(r#"{{"customer":"bob",{item},"email":"nope"}}"#)).await;
        assert_eq!((s, field(&b).as_str()), (400, "email"), "{b}");
        assert!(b.contains(r#"\"nope\" is not an email address"#), "{b}");
        let (s, b) = request(a, json, &format!(r#"{{"customer":"bob",{item},"labels":{{"a":"1","b":"2","c":"3"}}}}"#)).await;
        assert_eq!((s, field(&b).as_str()), (400, "labels"), "{b}");
        let (s, b) = request(a, json, &format!(r#"{{"customer":"bob",{item},"status":5}}"#)).await;
        assert_eq!((s, field(&b).as_str()), (400, "status"), "{b}");
        let (s, b) = request(a, json, &format!(r#"{{"customer":"bob",{item},"max_items":0}}"#)).await;
        assert_eq!(s, 501, "{b}");
        let (s, b) = request(a, json, r#"{"customer":"bob","items":[{"sku":"a","count":1},{"sku":"b","count":1}],"max_items":1}"#).await;
        assert_eq!((s, field(&b).as_str()), (400, "max_items"), "{b}");
        assert!(b.contains("at most 1 items"), "{b}");
        let (s, b) = request(a, json, &format!(r#"{{"customer":"bob",{item},"note":{{"text":"too long"}}}}"#)).await;
        assert_eq!((s, field(&b).as_str()), (400, "note.text"), "{b}");
        let (s, b) = request(a, json, &format!(r#"{{"customer":"bøb",{item},"email":"b@x.io","labels":{{"a":"b"}},"status":1,"max_items":3,"note":{{"text":"hi"}}}}"#)).await;
        assert_eq!(s, 501, "{b}");
        assert!(b.contains("not implemented: ShopService.CreateOrder"), "{b}");

        // Path, query, header and cookie, into the edited handler; the
        // response uses the proto field names.
        let (s, b) = request(a, "GET /orders/0 HTTP/1.1", "").await;
        assert_eq!((s, field(&b).as_str()), (400, "id"), "{b}");
        let (s, b) = request(a, "GET /orders/abc HTTP/1.1", "").await;
        assert_eq!((s, field(&b).as_str()), (400, "id"), "{b}");
        let (s, b) = request(a, "GET /orders/7?page=x HTTP/1.1", "").await;
        assert_eq!((s, field(&b).as_str()), (400, "page"), "{b}");
        let (s, b) = request(a, "GET /orders/7?page=1&page=2 HTTP/1.1\r\nX-Token: t0k\r\nCookie: session=s1", "").await;
        assert_eq!(s, 200, "{b}");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["id"], 7, "{b}");
        assert_eq!(v["customer_name"], "t0k/s1", "{b}");
        assert_eq!(v["status"], 2, "{b}");

        let form = "POST /search HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded";
        let (s, b) = request(a, form, "q=&limit=5").await;
        assert_eq!((s, field(&b).as_str()), (400, "q"), "{b}");
        let (s, b) = request(a, form, "q=x&limit=500").await;
        assert_eq!((s, field(&b).as_str()), (400, "limit"), "{b}");
        let (s, _) = request(a, form, "q=x").await;
        assert_eq!(s, 501);

        let (s, b) = request(a, "GET /ping HTTP/1.1", "").await;
        assert_eq!(s, 501, "{b}");
        let (s, b) = request(a, "GET /health HTTP/1.1", "").await;
        assert_eq!(s, 501, "{b}");
        assert!(b.contains("not implemented: ShopService.Health"), "{b}");
        running.shutdown().await;
    });
}
"##;

/// The handler edit of the `http-proto` project.
const GET_ORDER_EDIT: &str = r#"pub async fn get_order(_ctx: &mut RequestContext, req: GetOrderRequest) -> Result<Order, ApiError> {
    Ok(Order {
        id: req.id,
        customer_name: format!("{}/{}", req.token.unwrap_or_default(), req.session.unwrap_or_default()),
        items: Vec::new(),
        status: req.page.len() as i32,
    })
}"#;

/// The handler edit of the `http-api` project.
const GET_USER_EDIT: &str = r#"pub async fn get_user(_ctx: &mut RequestContext, req: GetUserRequest) -> Result<User, ApiError> {
    Ok(User {
        id: req.id,
        name: format!("{}/{}", req.fields.unwrap_or_default(), req.session.unwrap_or_default()),
        age: req.page.len() as i32,
        token: req.token,
    })
}"#;

/// Checks of the updated RPC project: the edit answers, the new stub
/// answers "not implemented".
const RPC_UPDATE_CHECKS: &str = r#"#![allow(clippy::unwrap_used)]
use rpc_update::generated::types::HelloRequest;
use wego_netpoll::{Address, rt};

#[test]
fn the_edited_method_answers_and_the_new_stub_is_not_implemented() {
    rt::Runtime::builder().build().unwrap().block_on(async {
        let mut cfg = rpc_update::Config::embedded();
        cfg.addr = Address::loopback();
        cfg.metrics_addr = None;
        let running = rpc_update::start(&cfg).await.unwrap();
        let client = rpc_update::generated::client(running.addr.clone()).unwrap();
        let reply = client.say_later(HelloRequest { name: "wego".into() }).await.unwrap();
        assert_eq!(reply.message, "later, wego");
        let err = client.say_again(HelloRequest { name: "x".into() }).await.unwrap_err();
        let text = rpc_update::generated::error_chain(&err);
        assert!(text.contains("not implemented: Greeter.SayAgain"), "{text}");
        let metrics = running.metrics.render();
        assert!(metrics.contains("wego_requests_total"), "{metrics}");
        running.shutdown().await;
    });
}
"#;

/// Checks of the updated HTTP project.
const HTTP_UPDATE_CHECKS: &str = r#"
#[test]
fn the_edited_route_answers_and_the_new_route_is_a_stub() {
    rt::Runtime::builder().build().unwrap().block_on(async {
        let mut cfg = http_update::Config::embedded();
        cfg.addr = Address::loopback();
        let running = http_update::start(&cfg).await.unwrap();
        let (s, b) = request(&running.addr, "GET /ping HTTP/1.1", "").await;
        assert_eq!((s, b.as_str()), (200, "null"));
        let (s, b) = request(&running.addr, "GET /health HTTP/1.1", "").await;
        assert_eq!(s, 501, "{b}");
        assert!(b.contains("not implemented: UserService.Health"), "{b}");
        running.shutdown().await;
    });
}
"#;

fn edit_and_update_rpc(ws: &Path) {
    let src = ws.join("greeter-src");
    std::fs::create_dir_all(&src).unwrap();
    let idl = src.join("greeter.thrift");
    std::fs::copy(crate::idl("greeter.thrift"), &idl).unwrap();
    new(ws, Kind::Rpc, &idl, "rpc-update");
    let dir = ws.join("rpc-update");
    let handler = dir.join("src/handler.rs");
    let edited = "Ok(HelloReply { message: format!(\"later, {}\", _req.name).into() })";
    replace(
        &handler,
        "Err(GreeterSayLaterError::Other(crate::generated::not_implemented(\"Greeter.SayLater\")))",
        edited,
    );
    // The IDL grows a method; `update --idl` copies it in.
    replace(
        &idl,
        "    HelloReply SayHello(1: HelloRequest req),\n",
        "    HelloReply SayHello(1: HelloRequest req),\n    HelloReply SayAgain(1: HelloRequest req),\n",
    );
    let before = read(&handler);
    let report = update_project(&UpdateOptions {
        dir: dir.clone(),
        idl: Some(idl),
    })
    .unwrap();
    assert_eq!(
        report.stubs_added,
        [("src/handler.rs".to_owned(), "SayAgain".to_owned())]
    );
    let after = read(&handler);
    assert!(after.contains(edited), "{after}");
    assert!(after.contains("async fn say_again("), "{after}");
    // Everything before the closing brace of the impl block is untouched.
    let cut = before.rfind('}').unwrap();
    assert!(after.starts_with(&before[..cut]), "{after}");
    assert!(read(&dir.join("idl/greeter.thrift")).contains("SayAgain"));
    // A second update changes nothing.
    let again = update_project(&UpdateOptions {
        dir: dir.clone(),
        idl: None,
    })
    .unwrap();
    assert_eq!(again, wego_cli::Report::default());
    std::fs::write(dir.join("tests/update_checks.rs"), RPC_UPDATE_CHECKS).unwrap();
}

fn edit_and_update_http(ws: &Path) {
    new(ws, Kind::Http, &crate::idl("api.thrift"), "http-update");
    let dir = ws.join("http-update");
    let handlers = dir.join("src/handlers.rs");
    replace(
        &handlers,
        "Err(ApiError::NotImplemented(\"UserService.Ping\"))",
        "Ok(())",
    );
    // Edit the IDL in place this time; `update` reads idl/.
    replace(
        &dir.join("idl/api.thrift"),
        "    void Ping() (api.get=\"/ping\"),\n",
        "    void Ping() (api.get=\"/ping\"),\n    void Health() (api.get=\"/health\"),\n",
    );
    let report = update_project(&UpdateOptions {
        dir: dir.clone(),
        idl: None,
    })
    .unwrap();
    assert_eq!(
        report.stubs_added,
        [("src/handlers.rs".to_owned(), "GET /health".to_owned())]
    );
    assert!(
        report
            .written
            .contains(&"src/generated/routes.rs".to_owned())
    );
    let after = read(&handlers);
    assert!(after.contains("Ok(())"), "{after}");
    assert!(after.contains("pub async fn health("), "{after}");
    std::fs::write(
        dir.join("tests/update_checks.rs"),
        format!("{HTTP_CHECKS_HEAD}{HTTP_UPDATE_CHECKS}"),
    )
    .unwrap();
}

/// An HTTP project from `.proto`: generated, a handler edited, the IDL
/// extended with a route and updated.
fn edit_and_update_http_proto(ws: &Path) {
    new(ws, Kind::Http, &crate::idl("shop.proto"), "http-proto");
    let dir = ws.join("http-proto");
    // The IDL imports api.proto, which wego supplied.
    assert!(read(&dir.join("idl/api.proto")).contains("optional string vd = 50107;"));
    replace(
        &dir.join("src/handlers.rs"),
        "pub async fn get_order(_ctx: &mut RequestContext, _req: GetOrderRequest) -> Result<Order, ApiError> {\n    Err(ApiError::NotImplemented(\"ShopService.GetOrder\"))\n}",
        GET_ORDER_EDIT,
    );
    replace(
        &dir.join("idl/shop.proto"),
        "  // No HTTP option: not routed.\n",
        "  rpc Health(google.protobuf.Empty) returns (google.protobuf.Empty) {\n    option (api.get) = \"/health\";\n  }\n  // No HTTP option: not routed.\n",
    );
    let report = update_project(&UpdateOptions {
        dir: dir.clone(),
        idl: None,
    })
    .unwrap();
    assert_eq!(
        report.stubs_added,
        [("src/handlers.rs".to_owned(), "GET /health".to_owned())]
    );
    let handlers = read(&dir.join("src/handlers.rs"));
    assert!(handlers.contains(GET_ORDER_EDIT), "{handlers}");
    assert!(handlers.contains("pub async fn health("), "{handlers}");
    std::fs::write(
        dir.join("tests/cli_checks.rs"),
        format!("{HTTP_CHECKS_HEAD}{HTTP_PROTO_CHECKS}"),
    )
    .unwrap();
}

/// The target dir this test binary was built in (`<dir>/debug/deps/it-…`).
fn target_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate::repo().join("target"))
}

/// Runs cargo in `ws` with the target dir this test was built in.
fn cargo(ws: &Path, args: &[&str], offline: bool) -> std::process::Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args)
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    if offline {
        cmd.arg("--offline");
    }
    cmd.output().unwrap()
}

#[test]
fn generated_projects_build_and_pass_their_tests() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path();
    let repo = crate::repo();
    new(ws, Kind::Rpc, &repo.join("idl/echo.thrift"), "rpc-thrift");
    new(ws, Kind::Rpc, &repo.join("idl/echo.proto"), "rpc-proto");
    new(ws, Kind::Http, &crate::idl("api.thrift"), "http-api");
    replace(
        &ws.join("http-api/src/handlers.rs"),
        "pub async fn get_user(_ctx: &mut RequestContext, _req: GetUserRequest) -> Result<User, ApiError> {\n    Err(ApiError::NotImplemented(\"UserService.GetUser\"))\n}",
        GET_USER_EDIT,
    );
    std::fs::write(
        ws.join("http-api/tests/cli_checks.rs"),
        format!("{HTTP_CHECKS_HEAD}{HTTP_CHECKS}"),
    )
    .unwrap();
    edit_and_update_rpc(ws);
    edit_and_update_http(ws);
    edit_and_update_http_proto(ws);

    let members = [
        "rpc-thrift",
        "rpc-proto",
        "http-api",
        "rpc-update",
        "http-update",
        "http-proto",
    ];
    let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    std::fs::write(
        ws.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();
    std::fs::copy(repo.join("Cargo.lock"), ws.join("Cargo.lock")).unwrap();

    let started = Instant::now();
    let args = ["test", "--workspace", "--all-targets"];
    let mut out = cargo(ws, &args, true);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() && stderr.contains("offline") {
        // The lockfile needs something not in the local registry cache.
        out = cargo(ws, &args, false);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nested cargo test failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for name in [
        "serves_over_loopback_and_answers_stubs_with_not_implemented",
        "every_route_is_served_and_stubs_answer_not_implemented",
        "binds_validates_and_answers_400_naming_the_field",
        "the_edited_method_answers_and_the_new_stub_is_not_implemented",
        "the_edited_route_answers_and_the_new_route_is_a_stub",
        "proto_options_bind_validate_and_answer_400_naming_the_field",
    ] {
        assert!(
            stdout.contains(&format!("{name} ... ok")),
            "{name} did not run:\n{stdout}"
        );
    }
    println!(
        "generated projects built and tested in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
