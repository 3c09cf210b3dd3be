use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode, header};

use super::*;
use crate::generic::{
    Descriptor, HttpSource, Idl, Outcome, StructValue, Type, UnknownFields, Value, ValueError,
};

const GATEWAY: &str = include_str!("../../../../../idl/gateway.thrift");

fn desc() -> Arc<Descriptor> {
    static D: std::sync::OnceLock<Arc<Descriptor>> = std::sync::OnceLock::new();
    D.get_or_init(|| {
        Arc::new(
            Idl::parse_str("gateway.thrift", GATEWAY)
                .unwrap()
                .service("ItemService")
                .unwrap(),
        )
    })
    .clone()
}

fn mapper() -> HttpMapper {
    HttpMapper::from_descriptor(desc()).unwrap()
}

fn req(method: &str, uri: &str) -> http::request::Builder {
    http::Request::builder().method(method).uri(uri)
}

fn empty(b: http::request::Builder) -> http::Request<Bytes> {
    b.body(Bytes::new()).unwrap()
}

fn json_req(method: &str, uri: &str, body: &str) -> http::Request<Bytes> {
    req(method, uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::copy_from_slice(body.as_bytes()))
        .unwrap()
}

fn form_req(uri: &str, body: &str) -> http::Request<Bytes> {
    req("POST", uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Bytes::copy_from_slice(body.as_bytes()))
        .unwrap()
}

/// The request struct (field 1 of the argument struct) of a mapped call.
fn request_struct(call: &HttpCall) -> &StructValue {
    match call.args.get(1) {
        Some(Value::Struct(s)) => s,
        other => panic!("{other:?}"),
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn param_err(e: &HttpError) -> (&str, &str, &str) {
    match e {
        HttpError::Param {
            field,
            from,
            reason,
        } => (field, from, reason),
        other => panic!("not a param error: {other:?}"),
    }
}

#[test]
fn annotations_of_every_kind_are_recorded() {
    let d = desc();
    let sid = d.struct_by_name("GetItemRequest").unwrap();
    assert_eq!(d.http_source(sid, 1), Some(&HttpSource::Path("id".into())));
    assert_eq!(
        d.http_source(sid, 4),
        Some(&HttpSource::Cookie("session".into()))
    );
    let up = d.struct_by_name("UploadRequest").unwrap();
    assert_eq!(d.http_source(up, 2), Some(&HttpSource::RawBody));
    let search = d.struct_by_name("SearchRequest").unwrap();
    assert_eq!(
        d.http_source(search, 1),
        Some(&HttpSource::Form("q".into()))
    );
    let reply = d.struct_by_name("ItemReply").unwrap();
    assert_eq!(d.http_source(reply, 1), Some(&HttpSource::HttpCode));
    assert_eq!(d.http_source(reply, 5), None);
}

#[test]
fn route_table_lists_every_route() {
    let m = mapper();
    let mut routes: Vec<String> = m.routes().map(|(v, p, t)| format!("{v} {p} {t}")).collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            "DELETE /items/:id DeleteItem",
            "GET /download/*path Download",
            "GET /items/:id GetItem",
            "POST /items CreateItem",
            "POST /items/:id/touch Touch",
            "POST /search Search",
            "PUT /files/:name Upload",
        ]
    );
}

#[test]
fn get_fills_path_query_header_and_cookie_fields() {
    let r = empty(
        req("GET", "/items/42?verbose=TRUE&field=1,2&field=3&color=BLUE")
            .header("x-trace-id", "t-1")
            .header(header::COOKIE, "a=b; session=\"s%201\""),
    );
    let call = mapper().map_request(&r).unwrap();
    assert_eq!(call.method, "GetItem");
    let v = request_struct(&call);
    assert_eq!(v.get(1), Some(&Value::I64(42)));
    assert_eq!(v.get(2), Some(&Value::Bool(true)));
    assert_eq!(v.get(3), Some(&s("t-1")));
    // Cookie values are taken as sent (quotes stripped, no decoding).
    assert_eq!(v.get(4), Some(&s("s%201")));
    // Repeated keys make a list, each split at commas.
    assert_eq!(
        v.get(5),
        Some(&Value::List(vec![
            Value::I32(1),
            Value::I32(2),
            Value::I32(3)
        ]))
    );
    assert_eq!(v.get(6), Some(&Value::I32(3)), "enum by name");
}

#[test]
fn list_query_values_come_from_repeated_keys_and_commas() {
    let m = mapper();
    let call = m
        .map_request(&empty(req("GET", "/items/1?field=1,2,3")))
        .unwrap();
    assert_eq!(
        request_struct(&call).get(5),
        Some(&Value::List(vec![
            Value::I32(1),
            Value::I32(2),
            Value::I32(3)
        ]))
    );
    let call = m
        .map_request(&empty(req("GET", "/items/1?field=7&field=&field=8")))
        .unwrap();
    assert_eq!(
        request_struct(&call).get(5),
        Some(&Value::List(vec![Value::I32(7), Value::I32(8)]))
    );
    let call = m
        .map_request(&empty(req("GET", "/items/1?field=")))
        .unwrap();
    assert_eq!(request_struct(&call).get(5), Some(&Value::List(vec![])));
    // Enums by number too.
    let call = m
        .map_request(&empty(req("GET", "/items/1?color=2")))
        .unwrap();
    assert_eq!(request_struct(&call).get(6), Some(&Value::I32(2)));
    // Absent optional fields stay absent.
    let call = m.map_request(&empty(req("GET", "/items/1"))).unwrap();
    assert_eq!(request_struct(&call).len(), 1);
}

#[test]
fn unknown_path_is_404_and_other_method_is_405_with_allow() {
    let m = mapper();
    let e = m.map_request(&empty(req("GET", "/nothing"))).unwrap_err();
    assert!(matches!(e, HttpError::NotFound { .. }), "{e:?}");
    assert_eq!(e.status(), StatusCode::NOT_FOUND);
    let e = m.map_request(&empty(req("PATCH", "/items/1"))).unwrap_err();
    assert_eq!(e.status(), StatusCode::METHOD_NOT_ALLOWED);
    let HttpError::MethodNotAllowed { allow, .. } = &e else {
        panic!("{e:?}")
    };
    let mut allow: Vec<&str> = allow.iter().map(Method::as_str).collect();
    allow.sort();
    assert_eq!(allow, ["DELETE", "GET"]);
    let resp = e.to_response();
    assert_eq!(resp.status(), 405);
    let allow = resp.headers()[header::ALLOW].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("DELETE"), "{allow}");
    // A segment too many is no route.
    let e = m.map_request(&empty(req("GET", "/items/1/2"))).unwrap_err();
    assert!(matches!(e, HttpError::NotFound { .. }), "{e:?}");
}

#[test]
fn json_body_fills_fields_by_name_and_by_body_key() {
    let r = req("POST", "/items")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("idempotency-key", "k1")
        .body(Bytes::from_static(
            br#"{"name": "pen", "labels": ["a", "b"], "color": "GREEN"}"#,
        ))
        .unwrap();
    let call = mapper().map_request(&r).unwrap();
    assert_eq!(call.method, "CreateItem");
    let v = request_struct(&call);
    assert_eq!(v.get(1), Some(&s("pen")));
    assert_eq!(v.get(2), Some(&Value::List(vec![s("a"), s("b")])));
    assert_eq!(v.get(3), Some(&Value::I32(2)));
    assert_eq!(v.get(4), Some(&s("k1")));
    // No content type at all is read as JSON too.
    let r = req("POST", "/items")
        .body(Bytes::from_static(br#"{"name": "cup"}"#))
        .unwrap();
    let call = mapper().map_request(&r).unwrap();
    assert_eq!(request_struct(&call).get(1), Some(&s("cup")));
}

#[test]
fn json_body_mismatches_name_the_field() {
    let m = mapper();
    let e = m
        .map_request(&json_req("POST", "/items", r#"{"labels": ["a"]}"#))
        .unwrap_err();
    assert!(
        matches!(&e, HttpError::Request(ValueError::MissingField { path }) if path == "name"),
        "{e:?}"
    );
    assert_eq!(e.field(), Some("name"));
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    let e = m
        .map_request(&json_req(
            "POST",
            "/items",
            r#"{"name": "x", "labels": ["a", 2]}"#,
        ))
        .unwrap_err();
    assert_eq!(e.field(), Some("tags[1]"), "{e:?}");
    let e = m
        .map_request(&json_req(
            "POST",
            "/items",
            r#"{"name": "x", "color": "PINK"}"#,
        ))
        .unwrap_err();
    assert_eq!(e.field(), Some("color"), "{e:?}");
    assert!(e.to_response().status() == 400);
    let e = m
        .map_request(&json_req("POST", "/items", r#"{"name": "x", "colour": 1}"#))
        .unwrap_err();
    assert!(
        matches!(&e, HttpError::Request(ValueError::UnknownField { path }) if path == "colour"),
        "{e:?}"
    );
    // The same member is accepted when unknown members are ignored.
    let lenient = mapper().with_unknown_fields(UnknownFields::Ignore);
    assert!(
        lenient
            .map_request(&json_req("POST", "/items", r#"{"name": "x", "colour": 1}"#))
            .is_ok()
    );
    // A field read from a header is not read from the body.
    let e = m
        .map_request(&json_req(
            "POST",
            "/items",
            r#"{"name": "x", "idempotency_key": "k"}"#,
        ))
        .unwrap_err();
    assert!(
        matches!(e, HttpError::Request(ValueError::UnknownField { .. })),
        "{e:?}"
    );
}

#[test]
fn body_that_is_not_a_json_object_is_400() {
    let m = mapper();
    let e = m
        .map_request(&json_req("POST", "/items", "{\"name\": "))
        .unwrap_err();
    assert!(matches!(e, HttpError::BodyNotJson { line: 1, .. }), "{e:?}");
    assert_eq!(e.status(), 400);
    let e = m
        .map_request(&json_req("POST", "/items", "[1]"))
        .unwrap_err();
    assert!(matches!(e, HttpError::BodyNotJson { line: 0, .. }), "{e:?}");
    let e = m
        .map_request(&json_req("POST", "/items", "\u{0}\u{1}"))
        .unwrap_err();
    assert!(matches!(e, HttpError::BodyNotJson { .. }), "{e:?}");
}

#[test]
fn form_body_fills_form_fields() {
    let call = mapper()
        .map_request(&form_req("/search", "q=red+pen%21&limit=5&tag=a&tag=b"))
        .unwrap();
    assert_eq!(call.method, "Search");
    let v = request_struct(&call);
    assert_eq!(v.get(1), Some(&s("red pen!")));
    assert_eq!(v.get(2), Some(&Value::I32(5)));
    assert_eq!(v.get(3), Some(&Value::Set(vec![s("a"), s("b")])));
}

#[test]
fn form_and_json_sent_to_the_other_kind_of_route_are_415() {
    let m = mapper();
    let e = m.map_request(&form_req("/items", "name=pen")).unwrap_err();
    assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{e:?}");
    assert!(e.to_string().contains("application/json"), "{e}");
    let e = m
        .map_request(&json_req("POST", "/search", r#"{"q": "x"}"#))
        .unwrap_err();
    assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{e:?}");
    let r = req("POST", "/items")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body(Bytes::from_static(b"--x--"))
        .unwrap();
    let e = m.map_request(&r).unwrap_err();
    assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{e:?}");
    // A form without its required member names it.
    let e = m.map_request(&form_req("/search", "limit=1")).unwrap_err();
    assert_eq!(e.field(), Some("q"), "{e:?}");
}

#[test]
fn raw_body_and_percent_decoded_path_params() {
    let r = req("PUT", "/files/a%20b.bin")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Bytes::from_static(b"\x00\xffdata"))
        .unwrap();
    let call = mapper().map_request(&r).unwrap();
    assert_eq!(call.method, "Upload");
    let v = request_struct(&call);
    assert_eq!(v.get(1), Some(&s("a b.bin")));
    assert_eq!(
        v.get(2),
        Some(&Value::Binary(Bytes::from_static(b"\x00\xffdata")))
    );
    assert_eq!(v.get(3), Some(&s("application/octet-stream")));
    // A required raw body that is empty is missing.
    let e = mapper()
        .map_request(&empty(req("PUT", "/files/x")))
        .unwrap_err();
    assert_eq!(e.field(), Some("data"), "{e:?}");
    // `%2F` does not split a segment; a catch-all takes the rest.
    let call = mapper()
        .map_request(&empty(req("GET", "/download/docs/a%2Fb%20c.txt")))
        .unwrap();
    assert_eq!(request_struct(&call).get(1), Some(&s("docs/a/b c.txt")));
}

#[test]
fn malformed_text_is_a_param_error_naming_field_and_place() {
    let m = mapper();
    let cases = [
        ("/items/abc", "id", "path \"id\"", "not an integer"),
        (
            "/items/99999999999999999999",
            "id",
            "path \"id\"",
            "not an integer",
        ),
        (
            "/items/1?verbose=maybe",
            "verbose",
            "query \"verbose\"",
            "not a bool",
        ),
        (
            "/items/1?color=PINK",
            "color",
            "query \"color\"",
            "not a value of",
        ),
        (
            "/items/1?color=1.5",
            "color",
            "query \"color\"",
            "not a value of",
        ),
        (
            "/items/1?field=1,x",
            "fields",
            "query \"field\"",
            "element 1",
        ),
        (
            "/items/1?field=4294967296",
            "fields",
            "query \"field\"",
            "out of range",
        ),
        ("/items/%FF", "id", "path \"id\"", "UTF-8"),
    ];
    for (uri, field, from, reason) in cases {
        let e = m.map_request(&empty(req("GET", uri))).unwrap_err();
        let (f, fr, r) = param_err(&e);
        assert_eq!((f, fr), (field, from), "{uri}: {e}");
        assert!(r.contains(reason), "{uri}: {r}");
        assert_eq!(e.status(), 400);
        assert_eq!(e.field(), Some(field));
        let body: serde_json::Value = serde_json::from_slice(e.to_response().body()).unwrap();
        assert_eq!(body["field"], field, "{uri}");
    }
    let bad_header = empty(req("GET", "/items/1").header("x-trace-id", &b"\xff"[..]));
    let e = m.map_request(&bad_header).unwrap_err();
    assert_eq!(param_err(&e).1, "header \"X-Trace-Id\"");
    let e = m
        .map_request(&form_req("/search", "q=x&limit=ten"))
        .unwrap_err();
    assert_eq!(param_err(&e).1, "form \"limit\"");
}

#[test]
fn limits_on_body_size_and_parameter_counts() {
    let m = mapper().with_limits(HttpLimits::default().with_max_body(16).with_max_params(3));
    let e = m
        .map_request(&json_req("POST", "/items", r#"{"name": "long name"}"#))
        .unwrap_err();
    assert!(
        matches!(e, HttpError::BodyTooLarge { len: 21, limit: 16 }),
        "{e:?}"
    );
    assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let e = m
        .map_request(&empty(req("GET", "/items/1?a=1&b=2&c=3&d=4&e=5")))
        .unwrap_err();
    assert!(
        matches!(
            e,
            HttpError::TooMany {
                what: "query parameters",
                count: 4,
                limit: 3
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.status(), 400);
    let e = m
        .map_request(&empty(
            req("GET", "/items/1").header(header::COOKIE, "a=1; b=2; c=3; d=4"),
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            HttpError::TooMany {
                what: "cookies",
                ..
            }
        ),
        "{e:?}"
    );
    let e = m
        .map_request(&form_req("/search", "q=1&q=2&q=3&q=4"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            HttpError::TooMany {
                what: "form members",
                ..
            }
        ),
        "{e:?}"
    );
    // Exactly at the limits passes.
    assert!(
        m.map_request(&empty(req("GET", "/items/1?a=1&b=2&c=3")))
            .is_ok()
    );
}

fn routes_of(src: &str) -> Result<HttpMapper, HttpRouteError> {
    let d = Idl::parse_str("r.thrift", src)
        .unwrap()
        .service("S")
        .unwrap();
    HttpMapper::from_descriptor(Arc::new(d))
}

#[test]
fn conflicting_or_malformed_routes_are_build_errors() {
    let base = "struct R { 1: optional i64 id (api.path = \"id\"), 2: optional string name (api.path = \"name\") }\n";
    let e = routes_of(&format!(
        "{base}service S {{ void a(1: R r) (api.get = \"/x\") void b(1: R r) (api.get = \"/x\") }}"
    ))
    .unwrap_err();
    assert!(
        matches!(&e, HttpRouteError::Conflict { route, other }
            if route == "GET /x (method b)" && other == "GET /x (method a)"),
        "{e:?}"
    );
    let e = routes_of(&format!(
        "{base}service S {{ void a(1: R r) (api.get = \"/u/:id\") void b(1: R r) (api.post = \"/u/:name\") }}"
    ))
    .unwrap_err();
    assert!(matches!(&e, HttpRouteError::Conflict { .. }), "{e:?}");
    assert!(e.to_string().contains("/u/:name"), "{e}");
    for bad in ["x", "/a/:", "/a/*rest/b", "/a/:b-c", "/a/:id/:id"] {
        let e = routes_of(&format!(
            "{base}service S {{ void a(1: R r) (api.get = \"{bad}\") }}"
        ))
        .unwrap_err();
        assert!(matches!(&e, HttpRouteError::Invalid { .. }), "{bad}: {e:?}");
    }
    for shape in ["void a(1: R r, 2: R s)", "void a()", "void a(1: i64 id)"] {
        let e =
            routes_of(&format!("{base}service S {{ {shape} (api.get = \"/a\") }}")).unwrap_err();
        assert!(matches!(&e, HttpRouteError::Shape { .. }), "{shape}: {e:?}");
    }
    // The same path with different methods, and a static segment next to a
    // parameter, are fine.
    assert!(
        routes_of(&format!(
            "{base}service S {{ void a(1: R r) (api.get = \"/u/:id\", api.put = \"/u/:id\") void b(1: R r) (api.get = \"/u/me\") }}"
        ))
        .is_ok()
    );
}

fn item(id: i64, name: &str) -> Value {
    Value::Struct(StructValue::new().with(1, Value::I64(id)).with(2, s(name)))
}

#[test]
fn struct_reply_sets_status_headers_cookies_and_json_body() {
    let reply = StructValue::new()
        .with(1, Value::I32(201))
        .with(2, s("t-9"))
        .with(3, s("a b;c"))
        .with(4, item(7, "pen"))
        .with(5, s("fresh"));
    let r = mapper()
        .map_outcome("GetItem", Outcome::Success(Some(Value::Struct(reply))))
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["x-trace-id"], "t-9");
    assert_eq!(r.headers()[header::SET_COOKIE], "session=a%20b%3Bc");
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"item": {"id": 7, "name": "pen"}, "note": "fresh"})
    );
    // No status field: 200.
    let reply = StructValue::new().with(4, item(1, "a"));
    let r = mapper()
        .map_outcome("GetItem", Outcome::Success(Some(Value::Struct(reply))))
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
}

#[test]
fn exceptions_void_oneway_and_raw_replies() {
    let m = mapper();
    let missing = StructValue::new()
        .with(1, s("no item 3"))
        .with(2, Value::I32(404));
    let r = m
        .map_outcome(
            "GetItem",
            Outcome::Exception {
                name: "missing".into(),
                value: Value::Struct(missing),
            },
        )
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["message"], "no item 3");
    // Without an api.http_code field an exception is a 500.
    let invalid = StructValue::new().with(1, s("bad")).with(2, s("name"));
    let r = m
        .map_outcome(
            "CreateItem",
            Outcome::Exception {
                name: "invalid".into(),
                value: Value::Struct(invalid),
            },
        )
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body, serde_json::json!({"message": "bad", "field": "name"}));
    let r = m.map_outcome("DeleteItem", Outcome::Success(None)).unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.body().is_empty());
    let r = m.map_outcome("Touch", Outcome::Success(None)).unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let dl = StructValue::new()
        .with(1, Value::Binary(Bytes::from_static(b"\x01\x02")))
        .with(2, s("image/png"));
    let r = m
        .map_outcome("Download", Outcome::Success(Some(Value::Struct(dl))))
        .unwrap();
    assert_eq!(r.body().as_ref(), b"\x01\x02");
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
    let dl = StructValue::new().with(1, Value::Binary(Bytes::from_static(b"x")));
    let r = m
        .map_outcome("Download", Outcome::Success(Some(Value::Struct(dl))))
        .unwrap();
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    // An undeclared exception does not map.
    let e = m
        .map_outcome(
            "GetItem",
            Outcome::Exception {
                name: "other".into(),
                value: Value::Struct(StructValue::new()),
            },
        )
        .unwrap_err();
    assert_eq!(e.status(), StatusCode::BAD_GATEWAY);
}

#[test]
fn replies_that_cannot_be_http_are_502() {
    let m = mapper();
    for (code, ok) in [
        (99, false),
        (100, true),
        (599, true),
        (1000, false),
        (-1, false),
    ] {
        let reply = StructValue::new().with(1, Value::I32(code));
        let r = m.map_outcome("GetItem", Outcome::Success(Some(Value::Struct(reply))));
        assert_eq!(r.is_ok(), ok, "{code}: {r:?}");
        if let Err(e) = r {
            assert!(matches!(e, HttpError::Reply(_)), "{e:?}");
            assert_eq!(e.status(), 502);
        }
    }
    let reply = StructValue::new().with(2, s("evil\r\nx: y"));
    let e = m
        .map_outcome("GetItem", Outcome::Success(Some(Value::Struct(reply))))
        .unwrap_err();
    assert!(e.to_string().contains("does not map"), "{e}");
    assert_eq!(e.status(), 502);
}

#[test]
fn non_struct_results_are_plain_json() {
    let src = "struct R { 1: optional i64 id (api.query = \"id\") }\n\
               service S { string name(1: R r) (api.get = \"/name\") list<i64> ids(1: R r) (api.get = \"/ids\") }";
    let m = routes_of(src).unwrap();
    let r = m
        .map_outcome("name", Outcome::Success(Some(s("a \"b\""))))
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body().as_ref(), br#""a \"b\"""#);
    let r = m
        .map_outcome(
            "ids",
            Outcome::Success(Some(Value::List(vec![Value::I64(1), Value::I64(2)]))),
        )
        .unwrap();
    assert_eq!(r.body().as_ref(), b"[1,2]");
}

#[test]
fn struct_and_map_fields_from_text_are_json() {
    let src = "struct P { 1: i32 x, 2: i32 y }\n\
               struct R { 1: optional P p (api.query = \"p\"), 2: optional map<string, i32> m (api.header = \"x-m\"), 3: optional double d (api.query = \"d\"), 4: optional binary b (api.query = \"b\") }\n\
               service S { void a(1: R r) (api.get = \"/a\") }";
    let m = routes_of(src).unwrap();
    let call = m
        .map_request(&empty(
            req(
                "GET",
                "/a?p=%7B%22x%22%3A1%2C%22y%22%3A2%7D&d=2.5e1&b=%FF%00",
            )
            .header("x-m", r#"{"k": 3}"#),
        ))
        .unwrap();
    let v = request_struct(&call);
    assert_eq!(
        v.get(1),
        Some(&Value::Struct(
            StructValue::new()
                .with(1, Value::I32(1))
                .with(2, Value::I32(2))
        ))
    );
    assert_eq!(v.get(2), Some(&Value::Map(vec![(s("k"), Value::I32(3))])));
    assert_eq!(v.get(3), Some(&Value::Double(25.0)));
    assert_eq!(
        v.get(4),
        Some(&Value::Binary(Bytes::from_static(b"\xff\x00")))
    );
    let e = m
        .map_request(&empty(req("GET", "/a?p=%7B%22x%22%3A%22one%22%7D")))
        .unwrap_err();
    let (field, _, reason) = param_err(&e);
    assert_eq!(field, "p");
    assert!(reason.contains("p.x"), "{reason}");
    let e = m.map_request(&empty(req("GET", "/a?p=%7B"))).unwrap_err();
    assert!(param_err(&e).2.contains("json"), "{e}");
    assert_eq!(
        Type::Double,
        d_field_type(&m),
        "the double field is what was converted"
    );
}

fn d_field_type(m: &HttpMapper) -> Type {
    let d = m.descriptor();
    let sid = d.struct_by_name("R").unwrap();
    d.struct_desc(sid).field_by_id(3).unwrap().ty.clone()
}

mod client {
    //! `HttpGenericClient` over a fake client stack: statuses of backend
    //! failures, and descriptor swaps.
    use std::future::Future;
    use std::sync::Mutex;

    use super::*;
    use crate::Error;
    use crate::client::{ClientRequest, ClientResponse};
    use crate::generic::{GenericClient, encode_struct};
    use crate::thrift::{ApplicationException, ExceptionKind, Protocol};

    type Answer = Box<dyn Fn(&str) -> Result<ClientResponse, Error> + Send + Sync>;

    /// A client stack answering every call with `answer(method)`; it
    /// records the methods called.
    #[derive(Clone)]
    struct Fake {
        answer: Arc<Answer>,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl tower_service::Service<ClientRequest> for Fake {
        type Response = ClientResponse;
        type Error = Error;
        type Future = std::future::Ready<Result<ClientResponse, Error>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Error>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: ClientRequest) -> Self::Future {
            self.seen.lock().unwrap().push(req.method.to_string());
            std::future::ready((self.answer)(&req.method))
        }
    }

    fn fake(answer: Answer) -> (HttpGenericClient<Fake>, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let svc = Fake {
            answer: Arc::new(answer),
            seen: seen.clone(),
        };
        let generic = GenericClient::new(svc, (*desc()).clone());
        (HttpGenericClient::from_client(generic).unwrap(), seen)
    }

    fn result_body(method: &str, res: &StructValue) -> ClientResponse {
        let d = desc();
        let m = d.method(method).unwrap();
        ClientResponse {
            protocol: Protocol::Binary,
            body: encode_struct(&d, m.result, res, Protocol::Binary).unwrap(),
        }
    }

    fn run<F: Future>(f: F) -> F::Output {
        wego_netpoll::rt::block_on(f).unwrap()
    }

    #[test]
    fn calls_map_both_ways() {
        let (c, seen) = fake(Box::new(|m| {
            let reply = StructValue::new()
                .with(1, Value::I32(203))
                .with(4, item(5, "cup"));
            Ok(result_body(
                m,
                &StructValue::new().with(0, Value::Struct(reply)),
            ))
        }));
        let r = run(c.call(empty(req("GET", "/items/5"))));
        assert_eq!(r.status(), 203);
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body["item"]["name"], "cup");
        assert_eq!(*seen.lock().unwrap(), ["GetItem"]);
    }

    #[test]
    fn bad_requests_are_never_sent() {
        let (c, seen) = fake(Box::new(|_| Err(Error::closed())));
        for r in [
            empty(req("GET", "/items/x")),
            empty(req("GET", "/none")),
            json_req("POST", "/items", "{"),
        ] {
            let resp = run(c.call(r));
            assert!(resp.status().is_client_error(), "{resp:?}");
        }
        assert!(seen.lock().unwrap().is_empty());
    }

    #[test]
    fn backend_failures_are_502_and_timeouts_504() {
        let (c, _) = fake(Box::new(|_| Err(Error::timeout())));
        let e = run(c.try_call(empty(req("GET", "/items/1")))).unwrap_err();
        assert!(matches!(e, HttpError::Timeout(_)), "{e:?}");
        assert_eq!(e.to_response().status(), StatusCode::GATEWAY_TIMEOUT);
        let (c, _) = fake(Box::new(|_| Err(Error::connect("refused by 10.0.0.7"))));
        let e = run(c.try_call(empty(req("GET", "/items/1")))).unwrap_err();
        assert!(matches!(e, HttpError::Backend(_)), "{e:?}");
        assert_eq!(e.status(), StatusCode::BAD_GATEWAY);
        assert!(e.chain().contains("10.0.0.7"), "{}", e.chain());
        // The response leaves the backend's details out.
        let r = run(c.call(empty(req("GET", "/items/1"))));
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        let body = std::str::from_utf8(r.body()).unwrap();
        assert!(!body.contains("10.0.0.7"), "{body}");
        let (c, _) = fake(Box::new(|_| {
            Err(Error::application(ApplicationException::new(
                ExceptionKind::InternalError,
                "boom".to_owned(),
            )))
        }));
        let r = run(c.call(empty(req("GET", "/items/1"))));
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with("backend call failed"),
            "{body}"
        );
        // A reply that does not decode.
        let (c, _) = fake(Box::new(|_| {
            Ok(ClientResponse {
                protocol: Protocol::Binary,
                body: Bytes::from_static(b"\x0c\x00"),
            })
        }));
        let e = run(c.try_call(empty(req("GET", "/items/1")))).unwrap_err();
        assert!(matches!(e, HttpError::Reply(_)), "{e:?}");
        assert_eq!(e.status(), 502);
    }

    #[test]
    fn a_swapped_descriptor_rebuilds_the_routes() {
        let (c, _) = fake(Box::new(|m| {
            Ok(result_body(m, &StructValue::new().with(0, Value::I64(3))))
        }));
        let e = run(c.try_call(empty(req("GET", "/count")))).unwrap_err();
        assert!(matches!(e, HttpError::NotFound { .. }), "{e:?}");
        let v2 = GATEWAY.replace(
            "service ItemService {",
            "service ItemService {\n    i64 Count(1: GetItemRequest req) (api.get = \"/count\")",
        );
        let v2 = Idl::parse_str("gateway.thrift", &v2)
            .unwrap()
            .service("ItemService")
            .unwrap();
        let held = c.mapper().unwrap();
        // Swapped through the generic client's handle: picked up lazily.
        c.generic_client().update_descriptor(v2.clone());
        let e = run(c.try_call(empty(req("GET", "/count")))).unwrap_err();
        assert_eq!(e.field(), Some("id"), "the route exists now: {e:?}");
        assert!(
            held.routes().all(|(_, p, _)| p != "/count"),
            "the old mapper is unchanged"
        );
        // A conflicting descriptor is refused and the current one stays.
        let bad = GATEWAY.replace(
            "service ItemService {",
            "service ItemService {\n    i64 Count(1: GetItemRequest req) (api.get = \"/items/:id\")",
        );
        let bad = Idl::parse_str("gateway.thrift", &bad)
            .unwrap()
            .service("ItemService")
            .unwrap();
        assert!(matches!(
            c.update_descriptor(bad.clone()),
            Err(HttpRouteError::Conflict { .. })
        ));
        assert!(c.mapper().unwrap().descriptor().method("Count").is_some());
        // Swapped in behind its back, it answers 500 until fixed.
        c.generic_client().update_descriptor(bad);
        let e = run(c.try_call(empty(req("GET", "/items/1")))).unwrap_err();
        assert!(matches!(e, HttpError::Routes(_)), "{e:?}");
        assert_eq!(e.status(), 500);
        c.update_descriptor((*desc()).clone()).unwrap();
        let e = run(c.try_call(empty(req("GET", "/count")))).unwrap_err();
        assert!(matches!(e, HttpError::NotFound { .. }), "{e:?}");
    }

    #[test]
    fn limits_hold_across_clones_and_swaps() {
        let (c, seen) = fake(Box::new(|_| Err(Error::closed())));
        let c = c.with_limits(HttpLimits::default().with_max_body(4));
        let clone = c.clone();
        assert_eq!(clone.limits().max_body, 4);
        c.update_descriptor((*desc()).clone()).unwrap();
        for client in [&c, &clone] {
            let e =
                run(client.try_call(json_req("POST", "/items", r#"{"name": "x"}"#))).unwrap_err();
            assert!(
                matches!(e, HttpError::BodyTooLarge { limit: 4, .. }),
                "{e:?}"
            );
        }
        assert!(seen.lock().unwrap().is_empty());
    }

    /// A client stack that parks every call until released.
    #[derive(Clone)]
    struct Parked {
        arrived: Arc<Mutex<Option<tokio::sync::oneshot::Sender<()>>>>,
        release: Arc<Mutex<Option<tokio::sync::oneshot::Receiver<ClientResponse>>>>,
    }

    impl tower_service::Service<ClientRequest> for Parked {
        type Response = ClientResponse;
        type Error = Error;
        type Future = crate::BoxFuture<'static, Result<ClientResponse, Error>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Error>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, _req: ClientRequest) -> Self::Future {
            let arrived = self.arrived.lock().unwrap().take();
            let release = self.release.lock().unwrap().take();
            Box::pin(async move {
                if let Some(tx) = arrived {
                    let _ = tx.send(());
                }
                match release {
                    Some(rx) => rx.await.map_err(|_| Error::closed()),
                    None => Err(Error::closed()),
                }
            })
        }
    }

    #[test]
    fn a_call_in_flight_keeps_the_mapper_it_started_with() {
        let (arrived_tx, arrived_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel();
        let svc = Parked {
            arrived: Arc::new(Mutex::new(Some(arrived_tx))),
            release: Arc::new(Mutex::new(Some(release_rx))),
        };
        let c = HttpGenericClient::from_client(GenericClient::new(svc, (*desc()).clone())).unwrap();
        // v2 moves GetItem's route and makes `code` a plain body member.
        let v2 = GATEWAY
            .replace(
                "(api.get = \"/items/:id\")",
                "(api.get = \"/v2/items/:id\")",
            )
            .replace("1: i32 code (api.http_code = \"\"),", "1: i32 code,");
        let v2 = Idl::parse_str("gateway.thrift", &v2)
            .unwrap()
            .service("ItemService")
            .unwrap();
        run(async move {
            let parked = {
                let c = c.clone();
                wego_netpoll::rt::spawn(async move { c.call(empty(req("GET", "/items/1"))).await })
            };
            arrived_rx.await.unwrap();
            c.update_descriptor(v2).unwrap();
            let reply = StructValue::new()
                .with(1, Value::I32(203))
                .with(4, item(1, "pen"));
            let _ = release_tx.send(result_body(
                "GetItem",
                &StructValue::new().with(0, Value::Struct(reply)),
            ));
            let r = parked.await.unwrap();
            // Answered with the IDL it was mapped with: `code` is the status.
            assert_eq!(r.status(), 203);
            let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
            assert!(body.get("code").is_none(), "{body}");
            // Later requests use the new routes.
            // (`DELETE /items/:id` stays, so `GET` there is now a 405.)
            let e = c.try_call(empty(req("GET", "/items/1"))).await.unwrap_err();
            assert!(matches!(e, HttpError::MethodNotAllowed { .. }), "{e:?}");
            let mapper = c.mapper().unwrap();
            let call = mapper
                .map_request(&empty(req("GET", "/v2/items/1")))
                .unwrap();
            assert_eq!(call.method, "GetItem");
        });
    }
}
