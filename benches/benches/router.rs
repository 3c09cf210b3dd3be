//! wego-hertz's `Router` against a bare `matchit` tree on a realistic route
//! table (a slice of GitHub's REST API: static, `:param` and `*catch-all`
//! routes).
//!
//! - `matchit_at`: the radix-tree lookup alone (what we wrap);
//! - `router_dispatch`: a full `Router` call: lookup, method choice,
//!   percent-decoding parameters into request extensions, the boxed route
//!   service and a handler returning `&'static str`;
//! - `router_dispatch_path_extract`: the same with a `Path<Vec<String>>`
//!   extractor in the handler;
//! - `router_dispatch_layered`: `router_dispatch` under three router-wide
//!   layers (recovery, request id, a `from_fn` middleware), called as a
//!   server does (`poll_ready`, then `call`, on one clone);
//! - `router_dispatch_layered_no_ready`: the same called without
//!   `poll_ready`, which clones the layered stack per request (what a
//!   per-request `oneshot` costs).
//!
//! The difference between the first two is the cost of everything the
//! router adds around matchit.
#![allow(missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use tower_service::Service;
use wego_hertz::extract::Path;
use wego_hertz::{Body, Router};

const ROUTES: &[&str] = &[
    "/",
    "/authorizations",
    "/authorizations/:id",
    "/applications/:client_id/tokens/:access_token",
    "/events",
    "/repos/:owner/:repo/events",
    "/networks/:owner/:repo/events",
    "/orgs/:org/events",
    "/users/:user/received_events",
    "/users/:user/received_events/public",
    "/users/:user/events",
    "/users/:user/events/public",
    "/users/:user/events/orgs/:org",
    "/feeds",
    "/notifications",
    "/repos/:owner/:repo/notifications",
    "/notifications/threads/:id",
    "/notifications/threads/:id/subscription",
    "/repos/:owner/:repo/stargazers",
    "/users/:user/starred",
    "/user/starred",
    "/user/starred/:owner/:repo",
    "/repos/:owner/:repo/subscribers",
    "/users/:user/subscriptions",
    "/user/subscriptions",
    "/repos/:owner/:repo/subscription",
    "/user/subscriptions/:owner/:repo",
    "/users/:user/gists",
    "/gists",
    "/gists/:id",
    "/gists/:id/star",
    "/repos/:owner/:repo/git/blobs/:sha",
    "/repos/:owner/:repo/git/commits/:sha",
    "/repos/:owner/:repo/git/refs",
    "/repos/:owner/:repo/git/tags/:sha",
    "/repos/:owner/:repo/git/trees/:sha",
    "/issues",
    "/user/issues",
    "/orgs/:org/issues",
    "/repos/:owner/:repo/issues",
    "/repos/:owner/:repo/issues/:number",
    "/repos/:owner/:repo/assignees",
    "/repos/:owner/:repo/contents/*path",
    "/static/*filepath",
    "/search/repositories",
    "/search/code",
    "/legacy/issues/search/:owner/:repository/:state/:keyword",
    "/users/:user",
    "/user",
    "/users",
];

const REQUESTS: &[&str] = &[
    "/",
    "/user/starred",
    "/repos/cloudwego/hertz/issues/123",
    "/users/alice/events/orgs/cloudwego",
    "/repos/cloudwego/hertz/git/trees/abc123",
    "/repos/cloudwego/hertz/contents/pkg/app/server.go",
    "/static/css/site.css",
    "/legacy/issues/search/a/b/open/bug",
];

fn to_matchit(route: &str) -> String {
    route
        .split('/')
        .map(|seg| {
            if let Some(n) = seg.strip_prefix(':') {
                format!("{{{n}}}")
            } else if let Some(n) = seg.strip_prefix('*') {
                format!("{{*{n}}}")
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Polls a future that is expected to be ready at once (no I/O).
fn now<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the router future was not ready"),
    }
}

fn request(path: &str) -> http::Request<Body> {
    http::Request::get(path).body(Body::empty()).unwrap()
}

fn bench(c: &mut Criterion) {
    let mut tree = matchit::Router::new();
    for (i, r) in ROUTES.iter().enumerate() {
        tree.insert(to_matchit(r), i).unwrap();
    }
    let mut plain = Router::new();
    let mut extracting = Router::new();
    for r in ROUTES {
        plain = plain.get(r, || async { "ok" });
        extracting = extracting.get(r, |Path(p): Path<Vec<String>>| async move {
            p.len().to_string()
        });
    }
    for p in REQUESTS {
        assert!(tree.at(p).is_ok(), "{p}");
        assert_eq!(now(plain.call(request(p))).unwrap().status(), 200, "{p}");
    }

    let mut layered = plain
        .clone()
        .layer(wego_hertz::middleware::RequestIdLayer::new())
        .layer(wego_hertz::middleware::RecoveryLayer::new())
        .layer(wego_hertz::middleware::from_fn(
            |req, next: wego_hertz::middleware::Next| async move { next.run(req).await },
        ));
    for p in REQUESTS {
        assert_eq!(now(layered.call(request(p))).unwrap().status(), 200, "{p}");
    }

    let mut group = c.benchmark_group("router");
    group.bench_function(BenchmarkId::new("matchit_at", REQUESTS.len()), |b| {
        b.iter(|| {
            for p in REQUESTS {
                let m = tree.at(black_box(p)).unwrap();
                let params: Vec<(&str, &str)> = m.params.iter().collect();
                black_box((m.value, params));
            }
        })
    });
    for (name, router) in [
        ("router_dispatch", &mut plain),
        ("router_dispatch_path_extract", &mut extracting),
    ] {
        group.bench_function(BenchmarkId::new(name, REQUESTS.len()), |b| {
            b.iter_batched(
                || REQUESTS.iter().map(|p| request(p)).collect::<Vec<_>>(),
                |reqs| {
                    for req in reqs {
                        black_box(now(router.call(req)).unwrap());
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.bench_function(
        BenchmarkId::new("router_dispatch_layered", REQUESTS.len()),
        |b| {
            b.iter_batched(
                || REQUESTS.iter().map(|p| request(p)).collect::<Vec<_>>(),
                |reqs| {
                    for req in reqs {
                        let ready = now(std::future::poll_fn(|cx| layered.poll_ready(cx)));
                        assert!(ready.is_ok());
                        black_box(now(layered.call(req)).unwrap());
                    }
                },
                BatchSize::SmallInput,
            )
        },
    );
    group.bench_function(
        BenchmarkId::new("router_dispatch_layered_no_ready", REQUESTS.len()),
        |b| {
            b.iter_batched(
                || REQUESTS.iter().map(|p| request(p)).collect::<Vec<_>>(),
                |reqs| {
                    for req in reqs {
                        black_box(now(layered.call(req)).unwrap());
                    }
                },
                BatchSize::SmallInput,
            )
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
