//! `api-floor`: `epoll-floor`'s loop (no runtime) answering with the work
//! that wego-hertz's API obliges any implementation of it to do per
//! request, and nothing more:
//!
//! - the head parsed by `httparse` into the `http` crate's types, without
//!   copying (method, `Uri` and header values sharing the head's bytes, a
//!   `HeaderMap` of the fields), as a `Request` handlers take;
//! - the two extensions every routed request carries: the client's address
//!   (`ClientAddr`) and the matched route (`MatchedPath`);
//! - the handler called through a type-erased function returning a boxed
//!   future that owns the request, as a router of handlers of any type must;
//! - its `Response`, with `content-type` in the response's `HeaderMap`,
//!   encoded as wego-hertz writes it (status line, the map's fields,
//!   `content-length`, `date`, body).
//!
//! Its maps are recycled as wego-hertz recycles them (a per-thread pool of
//! cleared maps): the request's header and extension maps once the handler
//! has the request, the response's header map once it is encoded; the
//! parser, the extensions and the response start from kept maps. What
//! stays allocated per request is what no implementation of the API can
//! keep: the two boxed extension values and the handler's boxed future.
//!
//! Left out, so that this is a lower bound: the runtime (tasks, wakers,
//! timers), routing, every RFC 9112 check beyond what `httparse` and the
//! `http` types do, limits, bodies (it serves `GET /plaintext` only) and
//! reading the clock per request (the date is formatted once per second,
//! read once per batch of heads). Whatever wego-hertz costs above this
//! serves those.

use std::cell::RefCell;
use std::future::Future;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Extensions, HeaderMap, HeaderName, Method, Request, Response, Uri, Version};

use super::{HELLO, TEXT_PLAIN};

/// The client's address, as wego-hertz's `ClientAddr` extension.
#[derive(Clone)]
struct ClientAddr(#[allow(dead_code)] SocketAddr);

/// The matched route's pattern, as wego-hertz's `MatchedPath` extension.
#[derive(Clone)]
struct MatchedPath(#[allow(dead_code)] Arc<str>);

type BoxFuture = Pin<Box<dyn Future<Output = Response<Bytes>> + Send>>;
type Handler = Arc<dyn Fn(Request<Bytes>) -> BoxFuture + Send + Sync>;

/// The one route: its pattern and its type-erased handler.
static ROUTE: LazyLock<(Arc<str>, Handler)> = LazyLock::new(|| {
    let handler: Handler = Arc::new(|req: Request<Bytes>| {
        // The handler takes nothing from the request: its maps go back.
        let (mut parts, _) = req.into_parts();
        give_back(&HEADERS, std::mem::take(&mut parts.headers));
        give_back(&EXTENSIONS, std::mem::take(&mut parts.extensions));
        Box::pin(async move {
            let mut res = Response::new(Bytes::from_static(HELLO.as_bytes()));
            *res.headers_mut() = take(&HEADERS);
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
            res
        })
    });
    (Arc::from("/plaintext"), handler)
});

/// Header fields parsed on the stack (wrk sends one).
const MAX_HEADERS: usize = 32;

/// Answers every complete head at the front of `buf`.
pub fn answer(buf: &mut BytesMut, peer: SocketAddr, out: &mut Vec<u8>) -> Result<(), ()> {
    let date = date();
    while !buf.is_empty() {
        let Some(req) = parse(buf)? else {
            return Ok(());
        };
        let req = with_extensions(req, peer);
        let mut fut = (ROUTE.1)(req);
        let Poll::Ready(res) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
            return Err(());
        };
        encode(&res, &date, out);
        give_back(&HEADERS, res.into_parts().0.headers);
    }
    Ok(())
}

thread_local! {
    static HEADERS: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
    static EXTENSIONS: RefCell<Vec<Extensions>> = const { RefCell::new(Vec::new()) };
}

/// A kept map, or a new one.
fn take<T: Default + 'static>(pool: &'static std::thread::LocalKey<RefCell<Vec<T>>>) -> T {
    pool.with_borrow_mut(|p| p.pop()).unwrap_or_default()
}

/// Keeps `map`, cleared by the caller's type: up to 64 per thread.
fn give_back<T: Clear + 'static>(
    pool: &'static std::thread::LocalKey<RefCell<Vec<T>>>,
    mut map: T,
) {
    if map.is_empty() {
        return;
    }
    map.clear();
    pool.with_borrow_mut(|p| {
        if p.len() < 64 {
            p.push(map);
        }
    });
}

/// The two kinds of map the pools keep.
trait Clear {
    fn is_empty(&self) -> bool;
    fn clear(&mut self);
}

impl Clear for HeaderMap {
    fn is_empty(&self) -> bool {
        HeaderMap::is_empty(self)
    }
    fn clear(&mut self) {
        HeaderMap::clear(self);
    }
}

impl Clear for Extensions {
    fn is_empty(&self) -> bool {
        Extensions::is_empty(self)
    }
    fn clear(&mut self) {
        Extensions::clear(self);
    }
}

/// One head off the front of `buf`, as a `Request` sharing its bytes.
fn parse(buf: &mut BytesMut) -> Result<Option<Request<Bytes>>, ()> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let len = match parsed.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let base = buf.as_ptr() as usize;
    // Offsets fit in u32: the loop closes a connection past 64 KiB.
    let at = |s: &[u8]| ((s.as_ptr() as usize - base) as u32, s.len() as u32);
    let (Some(method), Some(path), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(());
    };
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| ())?;
    let target = at(path.as_bytes());
    let mut fields = [((0, 0), (0, 0)); MAX_HEADERS];
    let count = parsed.headers.len();
    for (field, h) in fields.iter_mut().zip(parsed.headers.iter()) {
        *field = (at(h.name.as_bytes()), at(h.value));
    }
    let head = buf.split_to(len).freeze();
    let slice = |(start, len): (u32, u32)| head.slice(start as usize..(start + len) as usize);
    let mut headers = take(&HEADERS);
    headers.reserve(count);
    for &(name, value) in &fields[..count] {
        let name = HeaderName::from_bytes(&head[name.0 as usize..(name.0 + name.1) as usize])
            .map_err(|_| ())?;
        let value = HeaderValue::from_maybe_shared(slice(value)).map_err(|_| ())?;
        headers.append(name, value);
    }
    let mut req = Request::new(Bytes::new());
    *req.method_mut() = method;
    *req.uri_mut() = Uri::from_maybe_shared(slice(target)).map_err(|_| ())?;
    *req.version_mut() = if version == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    *req.headers_mut() = headers;
    Ok(Some(req))
}

fn with_extensions(mut req: Request<Bytes>, peer: SocketAddr) -> Request<Bytes> {
    *req.extensions_mut() = take(&EXTENSIONS);
    req.extensions_mut().insert(ClientAddr(peer));
    req.extensions_mut().insert(MatchedPath(ROUTE.0.clone()));
    req
}

fn encode(res: &Response<Bytes>, date: &[u8], out: &mut Vec<u8>) {
    let status = res.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in res.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    put_decimal(res.body().len(), out);
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(res.body());
}

/// `n` in decimal, without `fmt`.
fn put_decimal(mut n: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

thread_local! {
    /// The second last formatted and its IMF-fixdate.
    static DATE: std::cell::RefCell<(u64, [u8; 29])> = const { std::cell::RefCell::new((u64::MAX, [0; 29])) };
}

/// The current IMF-fixdate (RFC 9110 §5.6.7), formatted when the second
/// changes.
fn date() -> [u8; 29] {
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != secs {
            *at = secs;
            let fresh = httpdate::fmt_http_date(now);
            let n = fresh.len().min(text.len());
            text[..n].copy_from_slice(&fresh.as_bytes()[..n]);
        }
        *text
    })
}
