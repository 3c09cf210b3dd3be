//! A raw HTTP/1.1 client over netpoll connections and a test application.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use wego_hertz::server::{Builder, DEFAULT_BODY_LIMIT, RequestBodyLimit};
use wego_hertz::{Body, Server};
use wego_netpoll::{Address, Conn, Dialer, rt};

/// Starts `svc` on a loopback listener; returns the server (for shutdown),
/// its address and the serve task.
pub(crate) async fn start<S>(builder: Builder, svc: S) -> (Server, Address, rt::JoinHandle<()>)
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let server = builder.build().unwrap();
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let s = server.clone();
    let task = rt::spawn(async move { s.serve(listener, svc).await.unwrap() });
    (server, addr, task)
}

/// Starts the test application with `builder`.
pub(crate) async fn start_app(builder: Builder) -> (Server, Address, rt::JoinHandle<()>) {
    start(builder, tower::service_fn(app)).await
}

pub(crate) async fn connect(addr: &Address) -> Conn {
    Dialer::new().dial(addr).await.unwrap()
}

/// A response as read off the wire.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) chunked: bool,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn closes(&self) -> bool {
        self.header("connection") == Some("close")
    }
}

async fn fill<C: AsyncRead + Unpin>(conn: &mut C, buf: &mut BytesMut) -> bool {
    buf.reserve(4096);
    matches!(
        rt::timeout(Duration::from_secs(10), conn.read_buf(buf)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// Reads one response (`head`: the request was HEAD) from any IO. `None`
/// on EOF.
pub(crate) async fn read_response<C: AsyncRead + Unpin>(
    conn: &mut C,
    buf: &mut BytesMut,
    head: bool,
) -> Option<Resp> {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut slots);
        if let httparse::Status::Complete(n) = r.parse(buf).unwrap() {
            let status = StatusCode::from_u16(r.code.unwrap()).unwrap();
            let mut headers = HeaderMap::new();
            for h in r.headers.iter() {
                headers.append(
                    http::HeaderName::from_bytes(h.name.as_bytes()).unwrap(),
                    http::HeaderValue::from_bytes(h.value).unwrap(),
                );
            }
            let _ = buf.split_to(n);
            let mut resp = Resp {
                status,
                headers,
                body: Vec::new(),
                chunked: false,
            };
            if head || status.is_informational() || status == StatusCode::NO_CONTENT {
                return Some(resp);
            }
            if resp.header("transfer-encoding") == Some("chunked") {
                resp.chunked = true;
                let mut d = wego_hertz::codec::ChunkedDecoder::new(4096);
                loop {
                    match d.decode(buf).unwrap() {
                        Some(wego_hertz::codec::Decoded::Data(b)) => {
                            resp.body.extend_from_slice(&b)
                        }
                        Some(wego_hertz::codec::Decoded::Trailers(_)) => {}
                        Some(wego_hertz::codec::Decoded::End) => return Some(resp),
                        Some(_) => unreachable!(),
                        None => assert!(fill(conn, buf).await, "eof in chunked body"),
                    }
                }
            }
            let len: usize = match resp.header("content-length") {
                Some(v) => v.parse().unwrap(),
                None => {
                    // Delimited by close.
                    while fill(conn, buf).await {}
                    resp.body = buf.split().to_vec();
                    return Some(resp);
                }
            };
            while buf.len() < len {
                assert!(fill(conn, buf).await, "eof in body");
            }
            resp.body = buf.split_to(len).to_vec();
            return Some(resp);
        }
        if !fill(conn, buf).await {
            return None;
        }
    }
}

/// Sends `raw` on a fresh connection and reads one response.
pub(crate) async fn roundtrip(addr: &Address, raw: &[u8]) -> Resp {
    let mut conn = connect(addr).await;
    conn.write_all(raw).await.unwrap();
    let mut buf = BytesMut::new();
    read_response(&mut conn, &mut buf, false)
        .await
        .expect("a response")
}

/// Returns true if the server closes `conn` (EOF) within 5 s, discarding
/// anything it still sends.
pub(crate) async fn closed(conn: &mut Conn) -> bool {
    let mut scratch = [0u8; 1024];
    loop {
        match rt::timeout(Duration::from_secs(5), conn.read(&mut scratch)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Reads what the server sends until it closes `conn` (each read within
/// 5 s); `None` if it does not close.
pub(crate) async fn until_close(conn: &mut Conn, buf: &mut BytesMut) -> Option<Vec<u8>> {
    loop {
        buf.reserve(4096);
        match rt::timeout(Duration::from_secs(5), conn.read_buf(buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(buf.split().to_vec()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// Reads until what was read ends with `end` (one byte at a time, so
/// nothing after it is consumed; each read within 10 s); returns it all.
pub(crate) async fn read_until(conn: &mut Conn, end: &[u8]) -> Vec<u8> {
    let mut seen = Vec::new();
    while !seen.ends_with(end) {
        let mut byte = [0u8; 1];
        let n = rt::timeout(Duration::from_secs(10), conn.read(&mut byte))
            .await
            .expect("nothing read within 10 s")
            .unwrap();
        assert!(n > 0, "closed before {end:?}: {seen:?}");
        seen.push(byte[0]);
    }
    seen
}

/// Waits (up to 5 s) until the server has only its accept loop left, that
/// is, it has closed every connection on its side.
pub(crate) async fn server_closed_all(server: &Server) -> bool {
    for _ in 0..500 {
        if server.active() <= 1 {
            return true;
        }
        rt::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// When a `/held` request of [`held_app`] has started, and when it may
/// answer.
#[derive(Clone, Default)]
pub(crate) struct Gate {
    /// Notified when a `/held` request reaches its handler.
    pub(crate) started: Arc<Notify>,
    /// Notify to let it answer "held".
    pub(crate) release: Arc<Notify>,
}

/// The test application plus `/held`, which waits on `gate`: a request
/// that is in flight for exactly as long as a test wants.
pub(crate) fn held_app(
    gate: &Gate,
) -> impl tower_service::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ 'static {
    let gate = gate.clone();
    tower::service_fn(move |req: Request<Body>| {
        let gate = gate.clone();
        async move {
            if req.uri().path() != "/held" {
                return app(req).await;
            }
            gate.started.notify_one();
            gate.release.notified().await;
            Ok(Response::new(Body::from("held")))
        }
    })
}

/// The test application.
///
/// - `/` → "hello"
/// - `/echo` → streams the request body back (chunked unless the length is known)
/// - `/collect` → buffers the body within `RequestBodyLimit`, 413 past it; answers its length
/// - `/first` → reads one frame and answers its length without reading the rest
/// - `/stream` → a chunked response of three frames with a pause between them
/// - `/ignore` → answers without touching the body
/// - `/fail-first` → reads the body, then answers with a body that fails
///   before its first byte
/// - `/fail-after` → a body that yields `partial`, then reads the request
///   body to its end, then fails
pub(crate) async fn app(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let resp = match req.uri().path() {
        "/" => Response::new(Body::from("hello")),
        "/echo" => Response::new(req.into_body()),
        "/collect" => {
            let limit = req
                .extensions()
                .get::<RequestBodyLimit>()
                .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
            match req.into_body().collect_limited(limit).await {
                Ok(b) => Response::new(Body::from(b.len().to_string())),
                Err(e) if e.is_too_large() => status(StatusCode::PAYLOAD_TOO_LARGE),
                Err(_) => status(StatusCode::BAD_REQUEST),
            }
        }
        "/first" => {
            let mut body = req.into_body();
            let n = match body.frame().await {
                Some(Ok(f)) => f.into_data().map(|d| d.len()).unwrap_or(0),
                _ => 0,
            };
            Response::new(Body::from(n.to_string()))
        }
        "/stream" => {
            let chunks =
                futures_util::stream::iter(["one ", "two ", "three"]).then(|c| async move {
                    rt::sleep(Duration::from_millis(10)).await;
                    Ok::<_, Infallible>(Bytes::from_static(c.as_bytes()))
                });
            Response::new(Body::from_stream(chunks))
        }
        "/ignore" => Response::new(Body::from("ignored")),
        "/fail-first" => {
            let _ = req.into_body().collect().await;
            Response::new(Body::from_stream(futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("handler failed"))
            })))
        }
        "/fail-after" => {
            let body = req.into_body();
            let partial = futures_util::stream::once(async { Ok(Bytes::from_static(b"partial")) });
            let fail = futures_util::stream::once(async move {
                let _ = body.collect().await;
                Err(std::io::Error::other("handler failed"))
            });
            Response::new(Body::from_stream(partial.chain(fail)))
        }
        _ => status(StatusCode::NOT_FOUND),
    };
    Ok(resp)
}

fn status(code: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    r
}
