//! Fuzzes wego-hertz's HTTP/1.1 server connection as a whole: what a
//! client sends, in the pieces it sends them, through `serve_connection`
//! to handlers of each shape (buffered echo, streaming echo, a body that
//! fails before its first byte and one that fails after it, a handler that
//! never reads its body), with pipelining, `Expect: 100-continue`, chunked
//! and fixed-length bodies and malformed heads as the input makes them.
//!
//! Each input is served twice on one thread, on a connection that knows
//! its peer's address and then on one that does not, so that the maps the
//! server recycles between requests pass from one to the other. It must
//! hold that:
//! - nothing panics, and each connection ends once the client has sent
//!   everything and closed its side (no hang);
//! - the bytes written back are a sequence of well-formed HTTP/1.1
//!   responses, each framed by its status, `Content-Length` or chunked
//!   coding, the last one possibly cut short by a failing body, and none
//!   after one that says `Connection: close`;
//! - every request a handler sees carries its own connection's
//!   `ClientAddr` and no other (none on the second connection).
//!
//! Input layout: byte 0 sets the piece size the client writes in (1 to
//! 64 bytes, or everything at once), bytes 1-2 the peer's port; the rest is
//! what the client sends.
#![no_main]

#[path = "common/hertz_app.rs"]
mod hertz_app;
#[path = "common/pipe.rs"]
mod pipe;

use std::cell::RefCell;
use std::convert::Infallible;
use std::net::SocketAddr;

use http::{HeaderValue, Request, Response};
use libfuzzer_sys::fuzz_target;
use wego_hertz::{Body, ClientAddr, Router, Server};
use wego_netpoll::Address;
use wego_netpoll::net::WithInfo;
use wego_netpoll::rt::Runtime;

thread_local! {
    static RT: Runtime = Runtime::builder().build().expect("runtime");
    /// The `ClientAddr` the connection being served should give its
    /// requests, and the first request that had another.
    static EXPECT: RefCell<(Option<Address>, Option<String>)> = const { RefCell::new((None, None)) };
}

/// Records a request whose `ClientAddr` is not its connection's.
fn check_peer<B>(req: &Request<B>) {
    let seen = req.extensions().get::<ClientAddr>().map(|c| c.0.clone());
    EXPECT.with(|e| {
        let mut e = e.borrow_mut();
        if seen != e.0 && e.1.is_none() {
            e.1 = Some(format!(
                "{} {}: ClientAddr {seen:?}, connection's {:?}",
                req.method(),
                req.uri(),
                e.0
            ));
        }
    });
}

/// The router, its answers marked with their request's method
/// (`x-method`), so that the checker knows a `HEAD` response has no body.
/// Answers the server makes itself (a malformed head's) have no mark.
async fn marked(router: Router, req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let mut router = router;
    let mut resp = tower::ServiceExt::oneshot(&mut router, req).await?;
    if let Ok(m) = HeaderValue::from_str(method.as_str()) {
        resp.headers_mut().insert("x-method", m);
    }
    Ok(resp)
}

fn server() -> Server {
    Server::builder()
        .with_http2(false)
        .with_max_request_line(256)
        .with_max_head_size(1024)
        .with_max_headers(16)
        .with_body_limit(4096)
        .with_drain_limit(1024)
        .build()
        .expect("server")
}

/// Serves `input` on a connection whose peer, if any, is `peer`, and
/// returns what the client read back.
async fn serve_one(input: &[u8], piece: usize, peer: Option<Address>) -> Vec<u8> {
    EXPECT.with(|e| e.borrow_mut().0 = peer.clone());
    let router = hertz_app::app(check_peer);
    let svc = tower::service_fn(move |req| marked(router.clone(), req));
    let server = server();
    pipe::connect(
        |io| {
            let mut io = WithInfo::new(io);
            if let Some(peer) = peer {
                io = io.with_peer_addr(peer);
            }
            server.serve_connection(io, svc)
        },
        |client| pipe::exchange(client, input, piece),
    )
    .await
}

/// Checks that `out` is a sequence of well-formed responses; the last may
/// be cut short where a failing body ended the connection.
fn check_responses(out: &[u8]) {
    let mut rest = out;
    while !rest.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let len = match resp.parse(rest) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => panic!(
                "a response head cut short: {:?}",
                String::from_utf8_lossy(rest)
            ),
            Err(e) => panic!(
                "a malformed response head ({e}): {:?}",
                String::from_utf8_lossy(rest)
            ),
        };
        assert_eq!(
            resp.version,
            Some(1),
            "not HTTP/1.1: {:?}",
            String::from_utf8_lossy(rest)
        );
        let code = resp.code.expect("a parsed head has a status");
        let header = |name: &str| {
            resp.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        };
        let method = header("x-method");
        let head_only = method == Some(b"HEAD".as_slice());
        let length = header("content-length").map(|v| {
            std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .expect("a numeric content-length")
        });
        let chunked =
            header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
        assert!(
            !(chunked && length.is_some()),
            "both content-length and chunked"
        );
        let closes = header("connection").is_some_and(|v| v.eq_ignore_ascii_case(b"close"));
        rest = &rest[len..];
        if (100..200).contains(&code) {
            continue;
        }
        if code == 204 || code == 304 || head_only {
            assert!(
                !closes || rest.is_empty(),
                "bytes after a response that closes"
            );
            continue;
        }
        if let Some(n) = length {
            let next = rest.get(n..);
            if method.is_none()
                && (rest.is_empty() || rest.starts_with(b"HTTP/1.1 "))
                && next.is_none_or(|next| !next.is_empty() && !next.starts_with(b"HTTP/1.1 "))
            {
                // The server's own answer to a HEAD request: no body.
                continue;
            }
            // Shorter than its length: a body that failed, which ends the
            // connection.
            let Some(next) = next else {
                return;
            };
            assert!(
                !closes || next.is_empty(),
                "bytes after a response that closes"
            );
            rest = next;
        } else if chunked {
            match skip_chunked(rest) {
                Some(after) => {
                    assert!(
                        !closes || after.is_empty(),
                        "bytes after a response that closes"
                    );
                    rest = after;
                }
                // A streaming body that failed: the connection ends there.
                None => return,
            }
        } else {
            // Delimited by the close: nothing may follow.
            return;
        }
    }
}

/// Skips a chunked body and its trailers; `None` when it was cut short.
fn skip_chunked(mut rest: &[u8]) -> Option<&[u8]> {
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or(s).trim(), 16).ok())
            .unwrap_or_else(|| {
                panic!(
                    "a malformed chunk size line: {:?}",
                    String::from_utf8_lossy(&rest[..eol])
                )
            });
        rest = &rest[eol + 2..];
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let eol = rest.windows(2).position(|w| w == b"\r\n")?;
                let line = &rest[..eol];
                rest = &rest[eol + 2..];
                if line.is_empty() {
                    return Some(rest);
                }
            }
        }
        if rest.len() < size.saturating_add(2) {
            return None;
        }
        assert_eq!(
            &rest[size..size + 2],
            b"\r\n",
            "a chunk not followed by CRLF"
        );
        rest = &rest[size + 2..];
    }
}

fuzz_target!(|data: &[u8]| {
    let [piece, p0, p1, input @ ..] = data else {
        return;
    };
    let piece = pipe::piece_size(*piece, input.len());
    let peer = Address::from(SocketAddr::from((
        [127, 0, 0, 1],
        u16::from_be_bytes([*p0, *p1]),
    )));
    EXPECT.with(|e| e.borrow_mut().1 = None);
    RT.with(|rt| {
        rt.block_on(async {
            let out = serve_one(input, piece, Some(peer)).await;
            check_responses(&out);
            let out = serve_one(input, piece, None).await;
            check_responses(&out);
        })
    });
    if let Some(bad) = EXPECT.with(|e| e.borrow_mut().1.take()) {
        panic!("a request saw another connection's ClientAddr: {bad}");
    }
});
