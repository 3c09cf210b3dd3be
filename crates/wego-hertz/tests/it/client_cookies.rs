//! The client's cookie jar against wego's server: cookies set by one
//! response go back on the next, by path, through redirects, deleted by
//! `Max-Age=0`, shared through a caller's jar, and never without opting
//! in.

use http::Request;
use wego_hertz::client::CookieJar;
use wego_hertz::extract::Request as Req;
use wego_hertz::{Body, Client, Router, Server};
use wego_test_support::each_backend;

use crate::client_support::{url, wego_server};

fn set_cookies(cookies: &[&str], status: u16, location: Option<&str>) -> http::Response<Body> {
    let mut resp = http::Response::builder().status(status);
    for c in cookies {
        resp = resp.header("set-cookie", *c);
    }
    if let Some(to) = location {
        resp = resp.header("location", to);
    }
    resp.body(Body::empty()).unwrap()
}

/// The `Cookie` header of the request, or "-".
async fn echo(req: Req) -> String {
    req.headers()
        .get("cookie")
        .map_or("-".to_owned(), |v| v.to_str().unwrap().to_owned())
}

fn app() -> Router {
    Router::new()
        .get("/login", || async {
            set_cookies(
                &["session=abc; Path=/; HttpOnly", "pref=dark; Path=/app"],
                200,
                None,
            )
        })
        .get("/logout", || async {
            set_cookies(&["session=; Max-Age=0; Path=/"], 200, None)
        })
        .get("/hop", || async {
            set_cookies(&["flow=1; Path=/"], 302, Some("/whoami"))
        })
        .get("/whoami", echo)
        .get("/app/page", echo)
}

each_backend!(cookies_go_back_by_path, |_backend| async move {
    let (_server, addr, _) = wego_server(Server::builder(), app()).await;
    let client = Client::builder().with_cookie_store(true).build().unwrap();
    let whoami = |client: Client, path: &'static str| {
        let addr = addr.clone();
        async move {
            let resp = client.get(url(&addr, path)).await.unwrap();
            let body = resp.into_body().collect_limited(1024).await.unwrap();
            String::from_utf8(body.to_vec()).unwrap()
        }
    };
    assert_eq!(whoami(client.clone(), "/whoami").await, "-");
    client.get(url(&addr, "/login")).await.unwrap();
    assert_eq!(whoami(client.clone(), "/whoami").await, "session=abc");
    let app_page = whoami(client.clone(), "/app/page").await;
    assert_eq!(app_page, "pref=dark; session=abc", "the longer path first");
    // A request's own Cookie comes first; the jar's follow.
    let req = Request::get(url(&addr, "/whoami"))
        .header("cookie", "mine=1")
        .body(Body::empty())
        .unwrap();
    let body = client
        .request(req)
        .await
        .unwrap()
        .into_body()
        .collect_limited(1024)
        .await
        .unwrap();
    assert_eq!(body, "mine=1; session=abc");
    client.get(url(&addr, "/logout")).await.unwrap();
    assert_eq!(whoami(client.clone(), "/whoami").await, "-");
});

each_backend!(
    redirect_hops_store_and_send_cookies,
    |_backend| async move {
        let (_server, addr, _) = wego_server(Server::builder(), app()).await;
        let jar = CookieJar::new();
        let client = Client::builder()
            .with_cookie_jar(jar.clone())
            .with_redirects(3)
            .build()
            .unwrap();
        let resp = client.get(url(&addr, "/hop")).await.unwrap();
        let body = resp.into_body().collect_limited(1024).await.unwrap();
        assert_eq!(body, "flow=1", "the 302's cookie went with the next hop");
        assert_eq!(jar.len(), 1);
        // Another client sharing the jar sends it too.
        let other = Client::builder()
            .with_cookie_jar(jar.clone())
            .build()
            .unwrap();
        let body = other
            .get(url(&addr, "/whoami"))
            .await
            .unwrap()
            .into_body()
            .collect_limited(1024)
            .await
            .unwrap();
        assert_eq!(body, "flow=1");
        jar.clear();
        assert!(jar.is_empty());
    }
);

each_backend!(no_jar_no_cookies, |_backend| async move {
    let (_server, addr, _) = wego_server(Server::builder(), app()).await;
    for client in [
        Client::builder().build().unwrap(),
        Client::builder().with_cookie_store(false).build().unwrap(),
    ] {
        client.get(url(&addr, "/login")).await.unwrap();
        let body = client
            .get(url(&addr, "/whoami"))
            .await
            .unwrap()
            .into_body()
            .collect_limited(1024)
            .await
            .unwrap();
        assert_eq!(body, "-");
    }
});
