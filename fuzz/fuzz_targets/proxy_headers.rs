//! Fuzzes wego-hertz's reverse proxy with peer-controlled heads: the
//! request target and request fields the client sends, and the response
//! fields the upstream answers with. The upstream is a client service in
//! memory that checks what the proxy forwards; nothing may panic, no
//! hop-by-hop field may cross the proxy in either direction, and `Host`
//! is always the upstream's.
//!
//! Input layout: the first byte picks the client's address (IPv4, IPv6,
//! a Unix socket); then fields separated by 0xFF: request target, request
//! fields, response fields. Fields are `name: value` lines split by `\n`;
//! lines that are not valid fields are skipped.
#![no_main]

use std::convert::Infallible;

use libfuzzer_sys::fuzz_target;
use wego_hertz::proxy::ReverseProxy;
use wego_hertz::{Body, ClientAddr};
use wego_netpoll::Address;
use wego_netpoll::rt::Runtime;

/// Fields that concern one hop only (RFC 9110 §7.6.1).
const HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
/// Fields the proxy sets itself, even when the client's `Connection`
/// named them.
const SET_BY_PROXY: &[&str] = &[
    "host",
    "te",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
];

thread_local! {
    static RT: Runtime = Runtime::builder().build().expect("runtime");
}

fn fields(block: &[u8]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for line in block.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(&line[..colon]),
            http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        map.append(name, value);
    }
    map
}

fn assert_no_hop_fields(headers: &http::HeaderMap, what: &str) {
    for name in HOP {
        assert!(headers.get(*name).is_none(), "{what} kept {name}");
    }
    for name in headers.keys() {
        assert!(!name.as_str().starts_with("proxy-"), "{what} kept {name}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.split(|b| *b == 0xFF);
    let target = parts.next().unwrap_or_default();
    let request_fields = fields(parts.next().unwrap_or_default());
    let response_fields = fields(parts.next().unwrap_or_default());
    let Ok(target) = http::Uri::try_from(target) else {
        return;
    };

    // Fields the client's Connection names must not reach the upstream.
    let named: Vec<String> = request_fields
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && !SET_BY_PROXY.contains(&t.as_str()))
        .collect();
    let upstream = tower_service_fn(move |req: http::Request<Body>| {
        let named = named.clone();
        let response_fields = response_fields.clone();
        async move {
            assert_no_hop_fields(req.headers(), "request");
            if let Some(te) = req.headers().get(http::header::TE) {
                assert_eq!(te, "trailers");
            }
            for name in &named {
                assert!(
                    req.headers().get(name.as_str()).is_none(),
                    "forwarded {name}"
                );
            }
            assert_eq!(req.headers()[http::header::HOST], "up.example:81");
            assert!(
                req.uri()
                    .to_string()
                    .starts_with("http://up.example:81/base/"),
                "{}",
                req.uri()
            );
            let mut resp = http::Response::new(Body::from("ok"));
            *resp.headers_mut() = response_fields;
            Ok::<_, Infallible>(resp)
        }
    });
    let proxy = ReverseProxy::builder()
        .with_upstream("http://up.example:81/base?k=v")
        .with_strip_prefix("/api")
        .with_client(upstream)
        .build()
        .expect("valid settings");

    let mut req = http::Request::new(Body::empty());
    *req.uri_mut() = target;
    *req.headers_mut() = request_fields;
    let client = match pick % 3 {
        0 => Address::Tcp(([192, 0, 2, pick], 4711).into()),
        1 => Address::Tcp(
            (
                std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(pick)),
                4711,
            )
                .into(),
        ),
        _ => Address::Unix("/tmp/fuzz.sock".into()),
    };
    req.extensions_mut().insert(ClientAddr(client));
    let resp = RT.with(|rt| rt.block_on(proxy.forward(req)));
    if resp.status() == http::StatusCode::OK {
        assert_no_hop_fields(resp.headers(), "response");
    }
});

/// `tower::service_fn` without the tower dependency.
fn tower_service_fn<F>(f: F) -> ServiceFn<F> {
    ServiceFn(f)
}

#[derive(Clone)]
struct ServiceFn<F>(F);

impl<F, Fut> tower_service::Service<http::Request<Body>> for ServiceFn<F>
where
    F: FnMut(http::Request<Body>) -> Fut,
    Fut: std::future::Future<Output = Result<http::Response<Body>, Infallible>>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Fut;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Fut {
        (self.0)(req)
    }
}
