use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::Router;

fn request(method: Method, uri: &str, ct: Option<&str>, body: impl Into<Body>) -> Request {
    let mut b = http::Request::builder().method(method).uri(uri);
    if let Some(ct) = ct {
        b = b.header("content-type", ct);
    }
    b.body(body.into()).unwrap()
}

fn send(router: &Router, req: Request) -> (StatusCode, HeaderMap, String) {
    let router = router.clone();
    wego_netpoll::rt::block_on(async move {
        let res = router.oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect_limited(1 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    })
    .unwrap()
}

#[derive(serde::Deserialize, serde::Serialize)]
struct User {
    name: String,
    age: u8,
}

#[test]
fn query_extracts_and_rejects() {
    let r = Router::new().get("/q", |Query(u): Query<User>| async move {
        format!("{}:{}", u.name, u.age)
    });
    let ok = send(&r, request(Method::GET, "/q?name=a%20b&age=3", None, ()));
    assert_eq!((ok.0, ok.2.as_str()), (StatusCode::OK, "a b:3"));
    let bad = send(&r, request(Method::GET, "/q?name=x&age=300", None, ()));
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);
    assert!(bad.2.starts_with("invalid query string"), "{}", bad.2);
    assert_eq!(
        send(&r, request(Method::GET, "/q", None, ())).0,
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn form_from_body_or_query() {
    let h = |Form(u): Form<User>| async move { format!("{}:{}", u.name, u.age) };
    let r = Router::new().post("/f", h).get("/f", h);
    let form = "application/x-www-form-urlencoded";
    let ok = send(
        &r,
        request(Method::POST, "/f", Some(form), "name=x+y&age=9"),
    );
    assert_eq!(ok.2, "x y:9");
    let ok = send(&r, request(Method::GET, "/f?name=q&age=1", None, ()));
    assert_eq!(ok.2, "q:1");
    let wrong_type = send(
        &r,
        request(Method::POST, "/f", Some("text/plain"), "name=x&age=9"),
    );
    assert_eq!(wrong_type.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let bad = send(&r, request(Method::POST, "/f", Some(form), "name=x&age=-1"));
    assert_eq!(bad.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[test]
fn json_rejections_have_distinct_statuses() {
    let r = Router::new().post("/j", |Json(u): Json<User>| async move { Json(u) });
    let ct = Some("application/json");
    let ok = send(
        &r,
        request(Method::POST, "/j", ct, r#"{"name":"n","age":1}"#),
    );
    assert_eq!(
        (ok.0, ok.2.as_str()),
        (StatusCode::OK, r#"{"name":"n","age":1}"#)
    );
    assert_eq!(ok.1["content-type"], "application/json");
    let vendor = send(
        &r,
        request(
            Method::POST,
            "/j",
            Some("application/vnd.x+json; charset=utf-8"),
            r#"{"name":"n","age":1}"#,
        ),
    );
    assert_eq!(vendor.0, StatusCode::OK);
    let no_ct = send(&r, request(Method::POST, "/j", None, "{}"));
    assert_eq!(no_ct.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        no_ct.2,
        "expected a request with content type application/json"
    );
    let syntax = send(&r, request(Method::POST, "/j", ct, "{\"name\":"));
    assert_eq!(syntax.0, StatusCode::BAD_REQUEST);
    let shape = send(&r, request(Method::POST, "/j", ct, r#"{"name":1,"age":1}"#));
    assert_eq!(shape.0, StatusCode::UNPROCESSABLE_ENTITY);
    let big = format!(r#"{{"name":"{}","age":1}}"#, "x".repeat(DEFAULT_BODY_LIMIT));
    let too_big = send(&r, request(Method::POST, "/j", ct, big));
    assert_eq!(too_big.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn bytes_string_body_and_request() {
    let r = Router::new()
        .post("/b", |b: Bytes| async move { format!("{}", b.len()) })
        .post("/s", |s: String| async move { s.to_uppercase() })
        .post(
            "/raw",
            |req: Request| async move { req.uri().path().to_owned() },
        )
        .post("/body", |body: Body| async move {
            body.collect_limited(10)
                .await
                .map(|b| b.len().to_string())
                .unwrap_or_default()
        });
    assert_eq!(send(&r, request(Method::POST, "/b", None, "abc")).2, "3");
    assert_eq!(send(&r, request(Method::POST, "/s", None, "abc")).2, "ABC");
    let bad = send(&r, request(Method::POST, "/s", None, vec![0xff, 0xfe]));
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);
    assert_eq!(send(&r, request(Method::POST, "/raw", None, ())).2, "/raw");
    assert_eq!(
        send(&r, request(Method::POST, "/body", None, "12345")).2,
        "5"
    );
}

#[test]
fn body_limit_extension_lowers_the_limit() {
    let r = Router::new()
        .post("/b", |b: Bytes| async move { format!("{}", b.len()) })
        .layer(crate::middleware::BodyLimitLayer::new(4));
    assert_eq!(
        send(&r, request(Method::POST, "/b", None, "abcd")).0,
        StatusCode::OK
    );
    let res = send(&r, request(Method::POST, "/b", None, "abcde"));
    assert_eq!(res.0, StatusCode::PAYLOAD_TOO_LARGE);
    // Without Content-Length (a stream), the limit holds while reading.
    let stream = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(Bytes::from_static(b"abc")),
        Ok(Bytes::from_static(b"def")),
    ]);
    let res = send(
        &r,
        request(Method::POST, "/b", None, Body::from_stream(stream)),
    );
    assert_eq!(res.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn state_headers_and_options() {
    #[derive(Clone)]
    struct Db(&'static str);
    let r = Router::new()
        .get("/s", |State(db): State<Db>, h: HeaderMap| async move {
            format!(
                "{} {}",
                db.0,
                h.get("x-a").map_or("-", |v| v.to_str().unwrap())
            )
        })
        .get(
            "/missing",
            |State(n): State<u64>| async move { n.to_string() },
        )
        .get("/opt", |q: Option<Query<User>>| async move {
            q.is_some().to_string()
        })
        .with_state(Db("pg"));
    let mut req = request(Method::GET, "/s", None, ());
    req.headers_mut().insert("x-a", "1".parse().unwrap());
    assert_eq!(send(&r, req).2, "pg 1");
    let res = send(&r, request(Method::GET, "/missing", None, ()));
    assert_eq!(res.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(send(&r, request(Method::GET, "/opt", None, ())).2, "false");
    assert_eq!(
        send(&r, request(Method::GET, "/opt?name=a&age=1", None, ())).2,
        "true"
    );
}

#[test]
fn request_context_accessors() {
    let r = Router::new()
        .post("/u/:id", |mut c: RequestContext| async move {
            let form = c.post_form("name").await.unwrap().unwrap_or_default();
            let again = c.body().await.unwrap().len();
            format!(
                "{} {} {} {} {} {} {:?} {}",
                c.method(),
                c.path(),
                c.param("id").unwrap(),
                c.query("k").unwrap(),
                c.header("x-h").unwrap(),
                form,
                c.client_ip(),
                again,
            )
        })
        .with_state(7u32);
    let mut req = request(
        Method::POST,
        "/u/5?k=v%21",
        Some("application/x-www-form-urlencoded"),
        "name=ann&x=1",
    );
    req.headers_mut().insert("x-h", "hv".parse().unwrap());
    req.headers_mut()
        .insert("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
    req.extensions_mut()
        .insert(ClientAddr("127.0.0.1:9".parse().unwrap()));
    assert_eq!(
        send(&r, req).2,
        "POST /u/5 5 v! hv ann Some(203.0.113.9) 12"
    );
}

#[test]
fn request_context_binds_and_stores_values() {
    #[derive(Debug, serde::Deserialize)]
    struct Login {
        user: String,
        n: u8,
    }
    let r = Router::new().post("/b", |mut c: RequestContext| async move {
        c.set(41u32);
        let login: Login = c.bind_form().await.unwrap();
        let bad = c.bind_json::<Login>().await.unwrap_err();
        let q: HashMap<String, String> = c.bind_query().unwrap();
        format!(
            "{} {} {} {} {:?} {}",
            login.user,
            login.n,
            c.get::<u32>().unwrap() + 1,
            bad.status().as_u16(),
            q.get("z"),
            c.into_request()
                .into_body()
                .collect_limited(100)
                .await
                .unwrap()
                .len()
        )
    });
    let body = "user=ann&n=7";
    let res = send(&r, request(Method::POST, "/b?z=1", None, body));
    assert_eq!(res.2, "ann 7 42 400 Some(\"1\") 12");
}

#[test]
fn client_ip_ignores_forwarding_from_public_peers() {
    let r = Router::new().get("/", |c: RequestContext| async move {
        format!("{:?}", c.client_ip())
    });
    let mut req = request(Method::GET, "/", None, ());
    req.headers_mut()
        .insert("x-forwarded-for", "1.2.3.4".parse().unwrap());
    req.extensions_mut()
        .insert(ClientAddr("198.51.100.7:9".parse().unwrap()));
    assert_eq!(send(&r, req).2, "Some(198.51.100.7)");
}

#[test]
fn cookies_round_trip() {
    let r = Router::new().get("/c", |jar: CookieJar| async move {
        let seen = jar.get("sid").unwrap_or("none").to_owned();
        (
            jar.with_cookie(Cookie::new("sid", "new").with_http_only(true)),
            seen,
        )
    });
    let mut req = request(Method::GET, "/c", None, ());
    req.headers_mut()
        .insert("cookie", "a=1; sid=old".parse().unwrap());
    let (s, h, b) = send(&r, req);
    assert_eq!((s, b.as_str()), (StatusCode::OK, "old"));
    assert_eq!(h["set-cookie"], "sid=new; HttpOnly");
}

#[test]
fn multipart_fields_and_limits() {
    let r = Router::new().post("/m", |mut m: Multipart| async move {
        let mut out = Vec::new();
        while let Some(f) = m.next_field().await? {
            let name = f.name().unwrap_or("?").to_owned();
            let file = f.file_name().map(str::to_owned);
            let text = f.text().await?;
            out.push(format!("{name}:{file:?}:{text}"));
        }
        Ok::<_, MultipartError>(out.join("|"))
    });
    let body = "--XB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n\
                --XB\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\n\
                Content-Type: text/plain\r\n\r\nfile body\r\n--XB--\r\n";
    let ct = Some("multipart/form-data; boundary=XB");
    let (s, _, b) = send(&r, request(Method::POST, "/m", ct, body));
    assert_eq!(
        (s, b.as_str()),
        (StatusCode::OK, "a:None:hello|f:Some(\"x.txt\"):file body")
    );
    let (s, _, _) = send(&r, request(Method::POST, "/m", Some("text/plain"), body));
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = send(&r, request(Method::POST, "/m", ct, "--XB\r\ngarbage"));
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let limited = r.layer(crate::middleware::BodyLimitLayer::new(40));
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(body))]);
    let (s, _, _) = send(
        &limited,
        request(Method::POST, "/m", ct, Body::from_stream(stream)),
    );
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
}

#[cfg(feature = "validator")]
mod validation {
    use super::*;

    #[derive(serde::Deserialize, validator::Validate)]
    #[serde(rename_all = "camelCase")]
    struct Signup {
        #[validate(length(min = 3, message = "too short"))]
        user_name: String,
        #[validate(range(min = 18))]
        age: u32,
        #[validate(email)]
        #[serde(rename = "mail")]
        email_address: String,
    }

    fn app() -> Router {
        Router::new()
            .post("/j", |Valid(Json(s)): Valid<Json<Signup>>| async move {
                s.user_name
            })
            .get("/q", |Valid(Query(s)): Valid<Query<Signup>>| async move {
                s.user_name
            })
    }

    #[test]
    fn valid_input_passes() {
        let body = r#"{"userName":"anna","age":30,"mail":"a@b.co"}"#;
        let (s, _, b) = send(
            &app(),
            request(Method::POST, "/j", Some("application/json"), body),
        );
        assert_eq!((s, b.as_str()), (StatusCode::OK, "anna"));
    }

    #[test]
    fn failures_list_fields_by_wire_name() {
        let body = r#"{"userName":"an","age":3,"mail":"nope"}"#;
        let (s, h, b) = send(
            &app(),
            request(Method::POST, "/j", Some("application/json"), body),
        );
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(h["content-type"], "application/json");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["error"], "validation failed");
        let fields: HashMap<String, String> = v["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["field"].as_str().unwrap().to_owned(),
                    f["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(fields["userName"], "too short");
        assert_eq!(fields["age"], "failed `range` (min=18)");
        // `mail` is an arbitrary rename, recognised by the value sent.
        assert_eq!(fields["mail"], "failed `email`");
        assert_eq!(fields.len(), 3);
    }

    #[test]
    fn ambiguous_renamed_values_fall_back_to_the_rust_name() {
        #[derive(serde::Deserialize, validator::Validate)]
        struct Two {
            #[validate(email)]
            #[serde(rename = "a")]
            first: String,
            #[validate(email)]
            #[serde(rename = "b")]
            second: String,
        }
        let r = Router::new().post("/t", |Valid(Json(t)): Valid<Json<Two>>| async move {
            t.first + &t.second
        });
        let (s, _, b) = send(
            &r,
            request(
                Method::POST,
                "/t",
                Some("application/json"),
                r#"{"a":"x","b":"x"}"#,
            ),
        );
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            b.contains(r#""field":"first""#) && b.contains(r#""field":"second""#),
            "{b}"
        );
        let (_, _, b) = send(
            &r,
            request(
                Method::POST,
                "/t",
                Some("application/json"),
                r#"{"a":"x","b":"y"}"#,
            ),
        );
        assert!(
            b.contains(r#""field":"a""#) && b.contains(r#""field":"b""#),
            "{b}"
        );
    }

    #[test]
    fn query_validation_and_inner_rejections() {
        let (s, _, b) = send(
            &app(),
            request(Method::GET, "/q?userName=ab&age=20&mail=a@b.co", None, ()),
        );
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b.contains(r#""field":"userName""#), "{b}");
        let (s, _, _) = send(&app(), request(Method::POST, "/j", None, "{}"));
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
