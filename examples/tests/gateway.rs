//! Drives the API gateway over loopback: a real kitex Thrift server (the
//! IDL's ItemService as a generic service), the gateway in front of it,
//! and HTTP from wego-hertz's client and from curl. Covers every request
//! and reply mapping end to end, the error statuses, a backend that is
//! down, and an IDL swapped while serving.

use std::process::Command;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Value as Json, json};
use wego_examples::gateway::{self, GatewayConfig, RunningBackend};
use wego_hertz::{Body, Client};
use wego_kitex::generic::{Descriptor, HttpLimits, Idl};
use wego_netpoll::{Address, rt};
use wego_test_support::each_backend;

fn v1() -> Descriptor {
    Idl::parse_str("gateway.thrift", gateway::DEFAULT_IDL)
        .unwrap()
        .service("ItemService")
        .unwrap()
}

/// The gateway IDL with one more method: `GET /count`.
fn v2() -> Descriptor {
    let src = gateway::DEFAULT_IDL.replace(
        "service ItemService {",
        "struct CountRequest { 1: optional string prefix (api.query = \"prefix\") }\n\
         service ItemService {\n    i64 Count(1: CountRequest req) (api.get = \"/count\")",
    );
    Idl::parse_str("gateway.thrift", &src)
        .unwrap()
        .service("ItemService")
        .unwrap()
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.headers))
    }
}

async fn send(
    client: &Client,
    addr: &Address,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut b = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Body::from(Bytes::copy_from_slice(body))).unwrap();
    let resp = client.request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect_limited(1 << 20).await.unwrap(),
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// A backend serving `v2` (so that a swapped-in gateway IDL finds
/// `Count`) and a gateway serving `v1` in front of it.
async fn start_pair() -> (RunningBackend, gateway::Gateway) {
    let backend = gateway::start_backend(&Address::loopback(), v2())
        .await
        .unwrap();
    let cfg = GatewayConfig {
        backend_addr: Some(backend.addr.clone()),
        ..GatewayConfig::default()
    };
    let gw = gateway::start(&cfg, v1()).await.unwrap();
    (backend, gw)
}

each_backend!(
    gateway_maps_http_onto_thrift_both_ways,
    |_backend| async move {
        let (backend, gw) = start_pair().await;
        let c = Client::builder().build().unwrap();
        let a = &gw.http_addr;

        // POST with a JSON body: by field name, by `api.body` key, enum name.
        let r = send(
            &c,
            a,
            "POST",
            "/items",
            &[JSON, ("idempotency-key", "k1")],
            br#"{"name": "blue pen", "labels": ["office", "blue"], "color": "BLUE"}"#,
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            r.json(),
            json!({"id": 1, "name": "blue pen", "tags": ["office", "blue"], "color": 3})
        );

        // GET with path, query (list and bool), header: status, header and
        // cookie come from the reply's fields.
        let r = send(
            &c,
            a,
            "GET",
            "/items/1?verbose=true&field=1,2",
            &[("x-trace-id", "t-1")],
            b"",
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-trace-id"), "t-1");
        assert_eq!(r.header("set-cookie"), "session=s-1");
        assert_eq!(
            r.json(),
            json!({"item": {"id": 1, "name": "blue pen", "tags": ["office", "blue"], "color": 3},
               "note": "verbose, 2 fields asked"})
        );
        // With a session cookie, none is set.
        let r = send(&c, a, "GET", "/items/1", &[("cookie", "session=abc")], b"").await;
        assert_eq!(r.status, 200);
        assert!(r.headers.get("set-cookie").is_none(), "{:?}", r.headers);

        // An urlencoded form.
        let form = ("content-type", "application/x-www-form-urlencoded");
        let r = send(
            &c,
            a,
            "POST",
            "/search",
            &[form],
            b"q=pen&tag=office&limit=5",
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.json()["total"], 1);
        assert_eq!(r.json()["items"][0]["name"], "blue pen");

        // A raw body in, a raw body out, through a percent-encoded path and a
        // catch-all.
        let text = ("content-type", "text/plain");
        let r = send(&c, a, "PUT", "/files/notes%20a.txt", &[text], b"hello\n").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), json!({"name": "notes a.txt", "size": 6}));
        let r = send(&c, a, "GET", "/download/notes%20a.txt", &[], b"").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), "text/plain");
        assert_eq!(&r.body[..], b"hello\n");

        // Declared exceptions: their api.http_code field, or 500.
        let r = send(&c, a, "GET", "/items/9", &[], b"").await;
        assert_eq!(r.status, 404);
        // The api.http_code field is the status, not a body member.
        assert_eq!(r.json(), json!({"message": "no item 9"}));
        let r = send(&c, a, "POST", "/items", &[JSON], br#"{"name": " "}"#).await;
        assert_eq!(r.status, 500);
        assert_eq!(r.json()["field"], "name");

        // Requests that do not fit: 400 naming the field, 404, 405, 415.
        let r = send(&c, a, "GET", "/items/abc", &[], b"").await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["field"], "id");
        assert!(r.json()["error"].as_str().unwrap().contains("path \"id\""));
        let r = send(&c, a, "POST", "/items", &[JSON], br#"{"labels": []}"#).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["field"], "name");
        let r = send(&c, a, "POST", "/items", &[JSON], b"{\"name\"").await;
        assert_eq!(r.status, 400);
        let r = send(&c, a, "GET", "/nothing/here", &[], b"").await;
        assert_eq!(r.status, 404);
        let r = send(&c, a, "PATCH", "/items/1", &[], b"").await;
        assert_eq!(r.status, 405);
        assert!(r.header("allow").contains("GET"), "{:?}", r.headers);
        let r = send(&c, a, "POST", "/items", &[form], b"name=x").await;
        assert_eq!(r.status, 415);

        // void and oneway.
        let r = send(&c, a, "POST", "/items/1/touch", &[], b"").await;
        assert_eq!(r.status, 202);
        let r = send(&c, a, "DELETE", "/items/1", &[], b"").await;
        assert_eq!(r.status, 204);
        let r = send(&c, a, "DELETE", "/items/1", &[], b"").await;
        assert_eq!(r.status, 404);

        // The IDL swapped while serving: the new route answers.
        let r = send(&c, a, "GET", "/count", &[], b"").await;
        assert_eq!(r.status, 404);
        gw.update_descriptor(v2()).unwrap();
        let r = send(&c, a, "GET", "/count?prefix=x", &[], b"").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.json(), json!(0));
        // A swap whose routes conflict is refused; the served IDL stays.
        let bad =
            gateway::DEFAULT_IDL.replace("(api.post = \"/search\")", "(api.get = \"/items/:id\")");
        let bad = Idl::parse_str("g.thrift", &bad)
            .unwrap()
            .service("ItemService")
            .unwrap();
        assert!(gw.update_descriptor(bad).is_err());
        let r = send(&c, a, "GET", "/count", &[], b"").await;
        assert_eq!(r.status, 200);

        gw.shutdown().await;
        backend.shutdown(std::time::Duration::from_secs(2)).await;
    }
);

each_backend!(
    backend_down_is_502_and_oversized_bodies_never_reach_it,
    |_backend| async move {
        // A port that was just free: nothing listens there.
        let closed = {
            let l = wego_test_support::loopback().await;
            l.local_addr().clone()
        };
        let cfg = GatewayConfig {
            backend_addr: Some(closed),
            limits: HttpLimits::default().with_max_body(64),
            ..GatewayConfig::default()
        };
        let gw = gateway::start(&cfg, v1()).await.unwrap();
        let c = Client::builder().build().unwrap();
        let r = send(&c, &gw.http_addr, "GET", "/items/1", &[], b"").await;
        assert_eq!(r.status, 502, "{:?}", r.body);
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("backend call failed"),
            "{:?}",
            r.body
        );
        // Too large, bad and unrouted requests are answered by the gateway
        // alone: they never get as far as the backend's 502.
        let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(100));
        let r = send(&c, &gw.http_addr, "POST", "/items", &[JSON], big.as_bytes()).await;
        assert_eq!(r.status, 413);
        let r = send(&c, &gw.http_addr, "GET", "/items/x", &[], b"").await;
        assert_eq!(r.status, 400);
        let r = send(&c, &gw.http_addr, "GET", "/", &[], b"").await;
        assert_eq!(r.status, 404);
        gw.shutdown().await;
    }
);

/// Runs curl off the runtime; returns stdout (the status is printed last
/// with `-w`).
async fn curl(curl: &std::path::Path, args: Vec<String>) -> String {
    let mut cmd = Command::new(curl);
    cmd.arg("-sS").args(&args);
    let out = rt::spawn_blocking(move || wego_test_support::peer::output(&mut cmd))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

each_backend!(curl_drives_the_gateway, |_backend| async move {
    let Some(bin) = wego_test_support::peer::program("curl_drives_the_gateway", "curl") else {
        return;
    };
    let (backend, gw) = start_pair().await;
    let base = format!("http://{}", gw.http_addr);
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let w = "\n%{http_code}";

    // curl -d sends an urlencoded form, which /search reads.
    let out = curl(
        &bin,
        args(&[
            "-X",
            "POST",
            &format!("{base}/items"),
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"name": "mug", "labels": ["kitchen"]}"#,
            "-w",
            w,
        ]),
    )
    .await;
    assert!(out.ends_with("\n200"), "{out}");
    let out = curl(
        &bin,
        args(&[&format!("{base}/search"), "-d", "q=mu&tag=kitchen", "-w", w]),
    )
    .await;
    assert!(out.ends_with("\n200"), "{out}");
    assert!(out.contains(r#""total":1"#), "{out}");
    // Path, query and header in; status, header and cookie out.
    let out = curl(
        &bin,
        args(&[
            "-i",
            &format!("{base}/items/1?verbose=1&field=3"),
            "-H",
            "X-Trace-Id: curl-1",
        ]),
    )
    .await;
    let lower = out.to_ascii_lowercase();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(lower.contains("x-trace-id: curl-1"), "{out}");
    assert!(lower.contains("set-cookie: session=s-1"), "{out}");
    assert!(out.contains(r#""note":"verbose, 1 fields asked""#), "{out}");
    // A malformed path parameter: 400 naming the field.
    let out = curl(&bin, args(&[&format!("{base}/items/one"), "-w", w])).await;
    assert!(out.ends_with("\n400"), "{out}");
    assert!(out.contains(r#""field":"id""#), "{out}");
    gw.shutdown().await;
    backend.shutdown(std::time::Duration::from_secs(2)).await;
});
