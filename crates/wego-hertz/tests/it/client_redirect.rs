//! The client's redirect policy against wego's server: off by default,
//! the method and body rules per status, relative `Location`s,
//! credentials kept from other origins, the limit, a loop, and (with TLS)
//! the refused https→http downgrade.

use std::convert::Infallible;

use http::{Method, Request, Response, StatusCode};
use wego_hertz::{Body, Client, Server};
use wego_test_support::each_backend;

use crate::client_support::{url, wego_server};

/// `/to?status=S&to=LOCATION`: answers S with `Location: LOCATION`.
/// `/loop`: 302 to itself. `/chain/N`: 302 to `/chain/N-1`, and
/// `/chain/0` answers "end". `/via/PORT`: 302 to
/// `http://127.0.0.1:PORT/inspect`. `/dir/rel`: 302 to `../inspect?from=rel`.
/// Anything else: "METHOD PATH?QUERY body=BODY auth=.. cookie=.. host=..".
async fn app(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let redirect = |status: u16, to: &str| {
        Response::builder()
            .status(status)
            .header("location", to)
            .body(Body::from("redirect body"))
            .unwrap()
    };
    let resp = if path == "/to" && query.contains("to=") {
        let mut status = 302;
        let mut to = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("status", s)) => status = s.parse().unwrap(),
                Some(("to", t)) => to = t.to_owned(),
                _ => {}
            }
        }
        redirect(status, &to)
    } else if path == "/loop" {
        redirect(302, "/loop")
    } else if let Some(n) = path.strip_prefix("/chain/") {
        let n: u32 = n.parse().unwrap();
        if n == 0 {
            Response::new(Body::from("end"))
        } else {
            redirect(302, &format!("/chain/{}", n - 1))
        }
    } else if let Some(port) = path.strip_prefix("/via/") {
        redirect(302, &format!("http://127.0.0.1:{port}/inspect"))
    } else if path == "/dir/rel" {
        redirect(302, "../inspect?from=rel#frag")
    } else {
        let (parts, body) = req.into_parts();
        let body = body.collect_limited(1 << 16).await.unwrap();
        let h = |name: &str| {
            parts
                .headers
                .get(name)
                .map_or("-".to_owned(), |v| v.to_str().unwrap().to_owned())
        };
        let text = format!(
            "{} {}{} body={} auth={} cookie={} proxy={} ctype={}",
            parts.method,
            path,
            if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            },
            String::from_utf8_lossy(&body),
            h("authorization"),
            h("cookie"),
            h("proxy-authorization"),
            h("content-type"),
        );
        Response::new(Body::from(text))
    };
    Ok(resp)
}

fn following() -> Client {
    Client::builder().with_redirects(10).build().unwrap()
}

async fn text(resp: Response<Body>) -> String {
    let body = resp.into_body().collect_limited(1 << 20).await.unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

fn req(method: Method, uri: String, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", "Bearer secret")
        .header("cookie", "session=1")
        .header("proxy-authorization", "Basic cHJveHk=")
        .header("content-type", "text/plain")
        .body(body.into())
        .unwrap()
}

each_backend!(
    redirects_are_not_followed_by_default,
    |_backend| async move {
        let (_server, addr, _) = wego_server(Server::builder(), tower::service_fn(app)).await;
        let resp = Client::builder()
            .build()
            .unwrap()
            .get(url(&addr, "/to?status=302&to=/inspect"))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(resp.headers()["location"], "/inspect");
        assert_eq!(text(resp).await, "redirect body");
    }
);

each_backend!(
    see_other_family_becomes_get_without_body,
    |_backend| async move {
        let (_server, addr, accepts) = wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = following();
        for status in [301, 302, 303] {
            for method in [Method::POST, Method::PUT, Method::GET] {
                let uri = url(&addr, &format!("/to?status={status}&to=/inspect"));
                let resp = client
                    .request(req(method.clone(), uri, "payload"))
                    .await
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::OK);
                assert_eq!(
                    text(resp).await,
                    "GET /inspect body= auth=Bearer secret cookie=session=1 \
                 proxy=Basic cHJveHk= ctype=-",
                    "{status} {method}"
                );
            }
            // HEAD stays HEAD.
            let uri = url(&addr, &format!("/to?status={status}&to=/inspect"));
            let resp = client.request(req(Method::HEAD, uri, ())).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let want = "HEAD /inspect body= auth=Bearer secret cookie=session=1 \
                    proxy=Basic cHJveHk= ctype=-";
            assert_eq!(
                resp.headers()["content-length"],
                want.len().to_string().as_str(),
                "the length of the HEAD answer"
            );
        }
        // Short redirect bodies were read, so every hop reused one connection.
        assert_eq!(accepts.get(), 1);
    }
);

each_backend!(
    temporary_and_permanent_keep_method_and_body,
    |_backend| async move {
        let (_server, addr, _) = wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = following();
        for status in [307, 308] {
            let uri = url(&addr, &format!("/to?status={status}&to=/inspect"));
            let resp = client
                .request(req(Method::PUT, uri, "payload"))
                .await
                .unwrap();
            assert_eq!(
                text(resp).await,
                "PUT /inspect body=payload auth=Bearer secret cookie=session=1 \
             proxy=Basic cHJveHk= ctype=text/plain"
            );
        }
        // A streamed body cannot be sent again: the 307 is the answer.
        let chunks =
            futures_util::stream::iter([Ok::<_, Infallible>(bytes::Bytes::from("streamed"))]);
        let uri = url(&addr, "/to?status=307&to=/inspect");
        let resp = client
            .request(req(Method::POST, uri, Body::from_stream(chunks)))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(resp.headers()["location"], "/inspect");
        // The same stream after a 303 is simply dropped.
        let chunks =
            futures_util::stream::iter([Ok::<_, Infallible>(bytes::Bytes::from("streamed"))]);
        let uri = url(&addr, "/to?status=303&to=/inspect");
        let resp = client
            .request(req(Method::POST, uri, Body::from_stream(chunks)))
            .await
            .unwrap();
        assert!(text(resp).await.starts_with("GET /inspect body= "));
    }
);

each_backend!(
    relative_locations_resolve_against_the_request,
    |_backend| async move {
        let (_server, addr, _) = wego_server(Server::builder(), tower::service_fn(app)).await;
        let client = following();
        let resp = client.get(url(&addr, "/dir/rel")).await.unwrap();
        assert!(
            text(resp).await.starts_with("GET /inspect?from=rel body="),
            "../ from /dir/rel is /inspect, without the fragment"
        );
        let resp = client
            .get(url(&addr, "/to?status=302&to=?only=query"))
            .await
            .unwrap();
        assert!(text(resp).await.starts_with("GET /to?only=query body="));
        // An absolute Location naming the same origin.
        let to = url(&addr, "/inspect");
        let resp = client
            .get(url(&addr, &format!("/to?status=301&to={to}")))
            .await
            .unwrap();
        assert!(text(resp).await.starts_with("GET /inspect body="));
        // A Location the client cannot follow ends the chain with the 3xx.
        let resp = client
            .get(url(&addr, "/to?status=302&to=ftp://a.test/x"))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
    }
);

each_backend!(credentials_do_not_cross_origins, |_backend| async move {
    let (_a, a, _) = wego_server(Server::builder(), tower::service_fn(app)).await;
    let (_b, b, _) = wego_server(Server::builder(), tower::service_fn(app)).await;
    let client = following();
    let to = url(&b, "/inspect");
    for status in [302, 307] {
        let uri = url(&a, &format!("/to?status={status}&to={to}"));
        let resp = client.request(req(Method::GET, uri, ())).await.unwrap();
        let got = text(resp).await;
        assert!(got.contains(" auth=- cookie=- proxy=- "), "{status}: {got}");
    }
    // Back to the first origin from the second: still stripped, as the
    // headers were dropped on the first crossing.
    let a_port = match &a {
        wego_netpoll::Address::Tcp(sock) => sock.port(),
        other => panic!("not tcp: {other}"),
    };
    let hop = url(&b, &format!("/via/{a_port}"));
    let uri = url(&a, &format!("/to?status=302&to={hop}"));
    let got = text(client.request(req(Method::GET, uri, ())).await.unwrap()).await;
    assert!(got.contains("auth=- cookie=- proxy=- "), "{got}");
});

each_backend!(the_limit_is_enforced_and_named, |_backend| async move {
    let (_server, addr, _) = wego_server(Server::builder(), tower::service_fn(app)).await;
    let client = Client::builder().with_redirects(3).build().unwrap();
    let resp = client.get(url(&addr, "/chain/3")).await.unwrap();
    assert_eq!(text(resp).await, "end");
    let e = client.get(url(&addr, "/chain/4")).await.unwrap_err();
    assert!(e.is_redirect(), "{e}");
    assert_eq!(e.to_string(), "too many redirects: the limit is 3");
    let e = client.get(url(&addr, "/loop")).await.unwrap_err();
    assert!(e.is_redirect(), "{e}");
    let e = following().get(url(&addr, "/loop")).await.unwrap_err();
    assert_eq!(e.to_string(), "too many redirects: the limit is 10");
});

#[cfg(feature = "tls")]
mod downgrade {
    use super::*;
    use crate::tls::{Ca, acceptor};
    use wego_netpoll::rt;

    /// Serves `svc` over TLS (the `localhost` certificate of `ca`).
    async fn start_https(ca: &Ca) -> wego_netpoll::Address {
        let server = Server::builder().build().unwrap();
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let acceptor = acceptor(ca);
        rt::spawn(async move {
            while let Ok(conn) = listener.accept().await {
                let (server, acceptor) = (server.clone(), acceptor.clone());
                rt::spawn(async move {
                    if let Ok(tls) = acceptor.accept(conn).await {
                        let _ = server.serve_connection(tls, tower::service_fn(app)).await;
                    }
                });
            }
        });
        addr
    }

    each_backend!(
        https_to_http_is_refused_unless_allowed,
        |_backend| async move {
            let ca = Ca::new("redirect test ca");
            let https = start_https(&ca).await;
            let (_plain, plain, accepts) =
                wego_server(Server::builder(), tower::service_fn(app)).await;
            let port = match &https {
                wego_netpoll::Address::Tcp(a) => a.port(),
                other => panic!("{other:?}"),
            };
            let to = url(&plain, "/inspect");
            let start = format!("https://localhost:{port}/to?status=302&to={to}");
            let strict = Client::builder()
                .with_tls_roots(ca.roots())
                .with_redirects(5)
                .build()
                .unwrap();
            // https to https is followed.
            let same = format!("https://localhost:{port}/to?status=302&to=/inspect");
            assert!(
                text(strict.get(&same).await.unwrap())
                    .await
                    .starts_with("GET /inspect ")
            );
            let e = strict.get(&start).await.unwrap_err();
            assert!(e.is_redirect(), "{e}");
            assert_eq!(e.to_string(), "refused a redirect from https to http");
            assert_eq!(accepts.get(), 0, "nothing reached the plain server");
            let lax = Client::builder()
                .with_tls_roots(ca.roots())
                .with_redirects(5)
                .with_redirect_downgrade(true)
                .build()
                .unwrap();
            let got = text(lax.get(&start).await.unwrap()).await;
            assert!(got.starts_with("GET /inspect body= auth=-"), "{got}");
        }
    );
}
