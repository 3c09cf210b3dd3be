use std::convert::Infallible;

use http::{HeaderMap, Method, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::Body;
use crate::extract::{Path, PathParams};

pub(crate) fn send(router: &Router, method: Method, uri: &str) -> (StatusCode, HeaderMap, String) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let router = router.clone();
    wego_netpoll::rt::block_on(async move {
        let res = router.oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect_limited(1 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    })
    .unwrap()
}

fn get(router: &Router, uri: &str) -> (StatusCode, String) {
    let (s, _, b) = send(router, Method::GET, uri);
    (s, b)
}

async fn echo_params(params: axum_like::Params) -> String {
    params.0
}

/// Renders the matched parameters as `name=value` pairs.
mod axum_like {
    use super::*;
    pub(super) struct Params(pub(super) String);
    impl crate::extract::FromRequestParts for Params {
        type Rejection = Infallible;
        async fn from_request_parts(
            parts: &mut http::request::Parts,
        ) -> Result<Self, Self::Rejection> {
            let p = parts
                .extensions
                .get::<PathParams>()
                .cloned()
                .unwrap_or_default();
            let s: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
            Ok(Params(s.join(",")))
        }
    }
}

#[test]
fn path_on_a_route_without_parameters_sees_none() {
    use std::collections::HashMap;
    let r = Router::new()
        .get(
            "/plain",
            |Path(p): Path<HashMap<String, String>>| async move { format!("{} params", p.len()) },
        )
        .get("/one", |Path(id): Path<u32>| async move { id.to_string() })
        .get("/raw", echo_params);
    assert_eq!(get(&r, "/plain"), (StatusCode::OK, "0 params".into()));
    assert_eq!(get(&r, "/one").0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&r, "/raw"), (StatusCode::OK, String::new()));
}

#[test]
fn matches_static_param_and_catch_all_with_priorities() {
    let r = Router::new()
        .get("/users/new", || async { "static" })
        .get("/users/:id", echo_params)
        .get("/users/:id/files/*path", echo_params)
        .get("/*any", echo_params);
    assert_eq!(get(&r, "/users/new"), (StatusCode::OK, "static".into()));
    assert_eq!(get(&r, "/users/42"), (StatusCode::OK, "id=42".into()));
    assert_eq!(
        get(&r, "/users/7/files/a/b.txt"),
        (StatusCode::OK, "id=7,path=a/b.txt".into())
    );
    assert_eq!(get(&r, "/other/x"), (StatusCode::OK, "any=other/x".into()));
    // Registration order does not change priority.
    let r2 = Router::new()
        .get("/users/:id", echo_params)
        .get("/users/new", || async { "static" });
    assert_eq!(get(&r2, "/users/new"), (StatusCode::OK, "static".into()));
}

#[test]
fn decodes_params_after_matching() {
    let r = Router::new().get("/f/:name", echo_params);
    // %2F stays inside the segment.
    assert_eq!(
        get(&r, "/f/a%2Fb%20c"),
        (StatusCode::OK, "name=a/b c".into())
    );
    assert_eq!(get(&r, "/f/%FF").0, StatusCode::BAD_REQUEST);
}

#[test]
fn catch_all_matches_empty_remainder() {
    let r = Router::new().get("/static/*path", echo_params);
    assert_eq!(get(&r, "/static/"), (StatusCode::OK, "path=".into()));
    assert_eq!(get(&r, "/static/x"), (StatusCode::OK, "path=x".into()));
    // A real route replaces the twin, in either order.
    let r = Router::new()
        .get("/static/*path", echo_params)
        .get("/static/", || async { "index" });
    assert_eq!(get(&r, "/static/"), (StatusCode::OK, "index".into()));
    let r = Router::new()
        .get("/static/", || async { "index" })
        .get("/static/*path", echo_params);
    assert_eq!(get(&r, "/static/"), (StatusCode::OK, "index".into()));
}

#[test]
fn conflicts_name_both_routes() {
    let err = Router::new()
        .get("/users/:id", || async {})
        .try_route(Method::GET, "/users/:name", || async {})
        .unwrap_err();
    assert_eq!(
        err,
        RouteError::Conflict {
            route: "/users/:name".into(),
            existing: "/users/:id".into()
        }
    );
    assert!(err.to_string().contains("/users/:name") && err.to_string().contains("/users/:id"));

    let err = Router::new()
        .post("/a", || async {})
        .try_route(Method::POST, "/a", || async {})
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "route `POST /a` conflicts with the registered route `POST /a`"
    );

    let err = Router::new()
        .get("/a/*rest", || async {})
        .try_route(Method::GET, "/a/*other", || async {})
        .unwrap_err();
    assert!(matches!(err, RouteError::Conflict { .. }), "{err}");

    assert!(matches!(
        Router::new().try_route(Method::GET, "no-slash", || async {}),
        Err(RouteError::Invalid { .. })
    ));
    let err = Router::new()
        .get("/x/:id", || async {})
        .try_group("/x", |g| g.post("/:key", || async {}))
        .unwrap_err();
    assert!(err.to_string().contains("/x/:key"), "{err}");
}

#[test]
#[should_panic(expected = "conflicts with the registered route")]
fn convenience_methods_panic_on_conflict() {
    let _ = Router::new()
        .get("/a/:x", || async {})
        .get("/a/:y", || async {});
}

#[test]
fn method_not_allowed_lists_allow() {
    let r = Router::new()
        .get("/r", || async { "get" })
        .post("/r", || async { "post" })
        .delete("/r", || async { "delete" });
    let (s, h, b) = send(&r, Method::PUT, "/r");
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h["allow"], "DELETE, GET, HEAD, POST");
    assert_eq!(b, "405 method not allowed");
    let r = r.with_handle_method_not_allowed(false);
    assert_eq!(send(&r, Method::PUT, "/r").0, StatusCode::NOT_FOUND);
}

#[test]
fn replaceable_fallbacks() {
    let r = Router::new()
        .get("/r", || async { "get" })
        .not_found(|| async { (StatusCode::NOT_FOUND, "nothing here") })
        .method_not_allowed(|| async { (StatusCode::METHOD_NOT_ALLOWED, "nope") });
    assert_eq!(
        get(&r, "/x"),
        (StatusCode::NOT_FOUND, "nothing here".into())
    );
    let (s, h, b) = send(&r, Method::POST, "/r");
    assert_eq!((s, b.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "nope"));
    assert_eq!(h["allow"], "GET, HEAD");
    assert_eq!(
        get(&Router::new(), "/"),
        (StatusCode::NOT_FOUND, "404 page not found".into())
    );
}

#[test]
fn head_is_served_by_get_without_body() {
    let r = Router::new().get("/h", || async { "twelve bytes" });
    let (s, h, b) = send(&r, Method::HEAD, "/h");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, "");
    assert_eq!(h["content-length"], "12");
    // An explicit HEAD route wins.
    let r = r.head("/h", || async { StatusCode::NO_CONTENT });
    assert_eq!(send(&r, Method::HEAD, "/h").0, StatusCode::NO_CONTENT);
}

#[test]
fn trailing_slash_redirects() {
    let r = Router::new()
        .get("/a", || async { "a" })
        .post("/b/", || async { "b" });
    let (s, h, _) = send(&r, Method::GET, "/a/?x=1");
    assert_eq!(s, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(h["location"], "/a?x=1");
    let (s, h, _) = send(&r, Method::POST, "/b");
    assert_eq!(s, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(h["location"], "/b/");
    // Only when the twin serves the method.
    assert_eq!(send(&r, Method::GET, "/b").0, StatusCode::NOT_FOUND);
    // Never to a protocol-relative location.
    let r2 = Router::new().get("//evil.com", || async {});
    assert_eq!(
        send(&r2, Method::GET, "//evil.com/").0,
        StatusCode::NOT_FOUND
    );
    let r = r.with_redirect_trailing_slash(false);
    assert_eq!(send(&r, Method::GET, "/a/").0, StatusCode::NOT_FOUND);
}

#[test]
fn any_route_and_per_method_route() {
    let r = Router::new()
        .any("/x", || async { "any" })
        .get("/x", || async { "get" });
    assert_eq!(get(&r, "/x").1, "get");
    assert_eq!(send(&r, Method::PATCH, "/x").2, "any");
}

#[test]
fn groups_join_prefixes_and_scope_layers() {
    use crate::middleware::from_fn;
    let tag = |name: &'static str| {
        from_fn(move |req, next: crate::middleware::Next| async move {
            let mut res = next.run(req).await;
            res.headers_mut().append("x-mw", name.parse().unwrap());
            res
        })
    };
    let r = Router::new()
        .get("/open", || async { "open" })
        .group("/api/", |g| {
            g.get("", || async { "root" })
                .get("/ping", || async { "pong" })
                .group("/v1", |g| g.get("/users/:id", echo_params).layer(tag("v1")))
                .layer(tag("api"))
        })
        .layer(tag("router"));
    let (s, h, b) = send(&r, Method::GET, "/api/v1/users/3");
    assert_eq!((s, b.as_str()), (StatusCode::OK, "id=3"));
    let tags: Vec<_> = h
        .get_all("x-mw")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(tags, ["v1", "api", "router"]);
    let (_, h, b) = send(&r, Method::GET, "/open");
    assert_eq!(b, "open");
    assert_eq!(h.get_all("x-mw").iter().count(), 1);
    assert_eq!(get(&r, "/api").1, "root");
    assert_eq!(get(&r, "/api/ping").1, "pong");
    // Router layers see 404s too.
    let (s, h, _) = send(&r, Method::GET, "/missing");
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(h["x-mw"], "router");
    let routes: Vec<_> = r.routes().collect();
    assert_eq!(routes, ["/open", "/api", "/api/ping", "/api/v1/users/:id"]);
}

#[test]
fn typed_path_params() {
    #[derive(serde::Deserialize)]
    struct P {
        user: String,
        id: u32,
    }
    let r = Router::new()
        .get(
            "/one/:id",
            |Path(id): Path<u64>| async move { format!("{id}") },
        )
        .get(
            "/two/:user/:id",
            |Path((u, id)): Path<(String, u32)>| async move { format!("{u}:{id}") },
        )
        .get("/s/:user/:id", |Path(p): Path<P>| async move {
            format!("{}/{}", p.user, p.id)
        });
    assert_eq!(
        get(&r, "/one/18446744073709551615").1,
        "18446744073709551615"
    );
    let (s, b) = get(&r, "/one/x");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b, "invalid path parameter: cannot parse `id` as u64");
    assert_eq!(get(&r, "/two/ann/5").1, "ann:5");
    assert_eq!(get(&r, "/s/bob/9").1, "bob/9");
    assert_eq!(get(&r, "/s/bob/-1").0, StatusCode::BAD_REQUEST);
}

#[test]
fn path_params_mismatch_is_an_error() {
    let r = Router::new().get("/two/:a/:b", |Path(id): Path<u64>| async move {
        format!("{id}")
    });
    let (s, b) = get(&r, "/two/1/2");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("expected 1 path parameter"), "{b}");
}

#[test]
fn param_names_parses_tree_patterns() {
    let names: Vec<String> = param_names("/a/{x}/{{lit}}/{*rest}")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, ["x", "rest"]);
}

#[test]
fn router_and_futures_are_send_sync() {
    fn service<S>(_: &S)
    where
        S: Service<Request> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
    }
    fn send<T: Send>(_: &T) {}
    let r = Router::new().get("/", || async {});
    service(&r);
    let fut = r.clone().call(http::Request::new(Body::empty()));
    send(&fut);
}

mod props {
    use proptest::prelude::*;

    use super::*;

    fn encode(s: &str) -> String {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    proptest! {
        /// Any text, percent-encoded into a segment, comes back decoded.
        #[test]
        fn params_round_trip_through_percent_encoding(a in "\\PC{1,20}", b in "\\PC{1,40}") {
            let r = Router::new()
                .get("/x/:a/*b", |Path((a, b)): Path<(String, String)>| async move {
                    format!("{}\u{0}{}", a, b)
                });
            let uri = format!("/x/{}/{}", encode(&a), encode(&b));
            let (s, _, body) = send(&r, Method::GET, &uri);
            prop_assert_eq!(s, StatusCode::OK);
            prop_assert_eq!(body, format!("{a}\u{0}{b}"));
        }

        /// Any path either matches, redirects, or is a 404/405 — never a
        /// panic or a 5xx.
        #[test]
        fn arbitrary_paths_never_fail(path in "/[a-z/%:*{}.0-9]{0,30}") {
            let r = Router::new()
                .get("/a/:x", || async {})
                .post("/a/:x/b", || async {})
                .get("/s/*rest", || async {})
                .get("/", || async {});
            if let Ok(uri) = path.parse::<http::Uri>() {
                let (s, _, _) = send(&r, Method::GET, &uri.to_string());
                prop_assert!(!s.is_server_error(), "{path} -> {s}");
            }
        }
    }
}

#[test]
fn layered_router_serves_with_and_without_poll_ready() {
    use std::future::poll_fn;

    let mut r = Router::new()
        .get("/", || async { "hi" })
        .layer(crate::middleware::RequestIdLayer::new());
    wego_netpoll::rt::block_on(async move {
        // Lenient caller: no poll_ready.
        let res = r.call(http::Request::new(Body::empty())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().contains_key("x-request-id"));
        // The server's way: poll_ready then call, many times on one clone.
        let mut conn = r.clone();
        for _ in 0..3 {
            poll_fn(|cx| conn.poll_ready(cx)).await.unwrap();
            let res = conn.call(http::Request::new(Body::empty())).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
        }
        // A clone made after readiness is not assumed ready.
        poll_fn(|cx| conn.poll_ready(cx)).await.unwrap();
        let mut copy = conn.clone();
        let res = copy.call(http::Request::new(Body::empty())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        // Adding a route resets the built stack.
        let mut more = r.get("/more", || async { "more" });
        let req = http::Request::get("/more").body(Body::empty()).unwrap();
        poll_fn(|cx| more.poll_ready(cx)).await.unwrap();
        assert_eq!(more.call(req).await.unwrap().status(), StatusCode::OK);
    })
    .unwrap();
}

/// A route service that is not ready on every third `poll_ready` (it wakes
/// the caller at once): `Route::oneshot` calls a ready one directly and
/// drives the other through readiness first.
#[test]
fn a_service_route_is_called_whether_or_not_it_is_ready_at_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    #[derive(Clone)]
    struct Reluctant {
        polls: Arc<AtomicUsize>,
        ready: bool,
    }

    impl Service<Request> for Reluctant {
        type Response = Response;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            if self.polls.fetch_add(1, Ordering::SeqCst).is_multiple_of(3) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.ready = true;
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request) -> Self::Future {
            assert!(std::mem::take(&mut self.ready), "called before ready");
            std::future::ready(Ok(IntoResponse::into_response("ok")))
        }
    }

    let polls = Arc::new(AtomicUsize::new(0));
    let svc = Reluctant {
        polls: Arc::clone(&polls),
        ready: false,
    };
    let r = Router::new().route_service(Method::GET, "/", svc);
    for _ in 0..4 {
        assert_eq!(get(&r, "/"), (StatusCode::OK, "ok".to_owned()));
    }
    // Requests 1 and 3 were refused once, 2 and 4 taken at once.
    assert_eq!(polls.load(Ordering::SeqCst), 6);
}
