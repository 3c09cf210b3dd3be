//! One binary, three peer frameworks, the same two routes as wego-hertz's
//! `http-hello` example:
//!
//! - `GET /plaintext` → `Hello, World!` with
//!   `content-type: text/plain; charset=utf-8`, the head wego-hertz, axum
//!   and actix-web give a `&'static str` (equal work on the wire)
//! - `POST /echo`     → the request body
//!
//! Usage: `http-peer hyper|hyper-h2|axum|actix|floor|epoll-floor|api-floor|api-floor-netpoll[-tokio]|netpoll-floor[-tokio] [--port N] [--threads N]
//! [--tls-cert FILE --tls-key FILE]`.
//! The tokio-based peers run tokio's multi-thread runtime with N workers;
//! actix-web runs N workers (each a single-threaded runtime).
//!
//! - `hyper` serves HTTP/1.1 with hyper's http1 connection builder;
//! - `hyper-h2` serves HTTP/2 by prior knowledge (h2c) with hyper's http2
//!   builder, for h2load;
//! - `hyper --tls-cert FILE --tls-key FILE` serves HTTPS through
//!   tokio-rustls (ring), offering ALPN `h2` and `http/1.1` as wego-hertz's
//!   `http-hello` does, and speaks whichever the handshake chose (HTTP/1.1
//!   when the client names none, as wrk does).
//! - `floor` is no HTTP server: it finds the end of each request head
//!   (`\r\n\r\n`) and answers it with a fixed `Hello, World!` response
//!   of the size hyper's is, on the same tokio runtime. It parses nothing
//!   and ignores bodies, so it serves `GET /plaintext` only: the cost of
//!   the runtime and the system calls alone, the floor under every HTTP
//!   server measured here.
//! - `epoll-floor` (Linux) gives the same answers from one thread's
//!   edge-triggered epoll loop with no runtime at all (it ignores
//!   `--threads`): `floor` minus `epoll-floor` is the most any faster
//!   runtime could save per request.
//! - `api-floor` (Linux) runs `epoll-floor`'s loop but answers with the
//!   per-request work wego-hertz's API obliges (the `http` types, the
//!   client-address and matched-path extensions, a boxed handler future,
//!   a response header map): a lower bound on any implementation of that
//!   API, with no runtime, routing or checks (`api_floor`).
//! - `netpoll-floor` and `netpoll-floor-tokio` give the floor's answers
//!   from wego-netpoll's runtime and `Conn` (polling or tokio backend, one
//!   worker): the runtime's share of a wego request (`netpoll_floor`).
//! - `api-floor-netpoll` and `api-floor-netpoll-tokio` (Linux) give
//!   `api-floor`'s answers from the same runtime and `Conn`: the least
//!   wego-hertz's API can cost on that backend (`netpoll_floor`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};

#[cfg(target_os = "linux")]
mod api_floor;
#[cfg(target_os = "linux")]
mod epoll_floor;
mod netpoll_floor;

const HELLO: &str = "Hello, World!";
/// The content type every server in the comparison sends with `HELLO`.
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let framework = args.next().ok_or(
        "usage: http-peer hyper|hyper-h2|axum|actix|floor|epoll-floor|api-floor|api-floor-netpoll[-tokio]|netpoll-floor[-tokio] [--port N] [--threads N] \
         [--tls-cert FILE --tls-key FILE]",
    )?;
    let mut port = 8080u16;
    let mut threads = 1usize;
    let (mut tls_cert, mut tls_key) = (None, None);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or("missing value")?;
        match arg.as_str() {
            "--port" => port = value.parse()?,
            "--threads" => threads = value.parse()?,
            "--tls-cert" => tls_cert = Some(PathBuf::from(value)),
            "--tls-key" => tls_key = Some(PathBuf::from(value)),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match (framework.as_str(), tls_cert, tls_key) {
        ("hyper", Some(cert), Some(key)) => {
            let tls = tls_config(&cert, &key)?;
            tokio_rt(threads)?.block_on(hyper_tls_server(addr, tls))
        }
        (_, Some(_), _) | (_, _, Some(_)) => {
            Err("--tls-cert and --tls-key go together, and only with hyper".into())
        }
        ("hyper", None, None) => tokio_rt(threads)?.block_on(hyper_server(addr)),
        ("hyper-h2", None, None) => tokio_rt(threads)?.block_on(hyper_h2_server(addr)),
        ("floor", None, None) => tokio_rt(threads)?.block_on(floor_server(addr)),
        #[cfg(target_os = "linux")]
        ("epoll-floor", None, None) => epoll_floor::serve(addr, "epoll-floor", |buf, _, out| {
            answer_heads(buf, out);
            Ok(())
        }),
        #[cfg(target_os = "linux")]
        ("api-floor", None, None) => epoll_floor::serve(addr, "api-floor", api_floor::answer),
        ("netpoll-floor", None, None) => netpoll_floor::serve(
            addr,
            wego_netpoll::rt::Backend::Polling,
            netpoll_floor::Answers::Floor,
        ),
        ("netpoll-floor-tokio", None, None) => netpoll_floor::serve(
            addr,
            wego_netpoll::rt::Backend::Tokio,
            netpoll_floor::Answers::Floor,
        ),
        #[cfg(target_os = "linux")]
        ("api-floor-netpoll", None, None) => netpoll_floor::serve(
            addr,
            wego_netpoll::rt::Backend::Polling,
            netpoll_floor::Answers::Api,
        ),
        #[cfg(target_os = "linux")]
        ("api-floor-netpoll-tokio", None, None) => netpoll_floor::serve(
            addr,
            wego_netpoll::rt::Backend::Tokio,
            netpoll_floor::Answers::Api,
        ),
        ("axum", None, None) => tokio_rt(threads)?.block_on(axum_server(addr)),
        ("actix", None, None) => actix_server(addr, threads),
        (other, _, _) => Err(format!("unknown framework {other}").into()),
    }
}

fn tokio_rt(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
}

async fn hyper_handle(
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let resp = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/plaintext") => {
            let mut r = Response::new(Full::new(Bytes::from_static(HELLO.as_bytes())));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(TEXT_PLAIN),
            );
            r
        }
        ("POST", "/echo") => match req.into_body().collect().await {
            Ok(body) => Response::new(Full::new(body.to_bytes())),
            Err(_) => status(StatusCode::BAD_REQUEST),
        },
        _ => status(StatusCode::NOT_FOUND),
    };
    Ok(resp)
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

async fn hyper_server(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("hyper listening on {addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, hyper::service::service_fn(hyper_handle))
                .await;
        });
    }
}

/// The answer `floor` gives to every request head: hyper's response to
/// `GET /plaintext`, byte for byte in size (its date is fixed).
const FLOOR_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 13\r\ndate: Sat, 05 Dec 2026 20:00:00 GMT\r\n\r\nHello, World!";

/// Reads request heads and answers each with `FLOOR_RESPONSE`: the
/// runtime and the system calls of an HTTP server, without the HTTP.
async fn floor_server(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("floor listening on {addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(floor_connection(stream));
    }
}

/// One connection of a floor on a runtime (`floor`, `netpoll-floor`):
/// read, answer the complete heads, write the answers.
async fn floor_connection<IO>(io: IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    answer_connection(io, |buf, out| {
        answer_heads(buf, out);
        true
    })
    .await;
}

/// Serves one connection of a floor on a runtime: reads, lets `answer`
/// take the complete heads out of the buffer and write their answers
/// (`false` closes the connection), writes the answers.
async fn answer_connection<IO>(
    mut io: IO,
    mut answer: impl FnMut(&mut bytes::BytesMut, &mut Vec<u8>) -> bool,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = bytes::BytesMut::with_capacity(8 * 1024);
    let mut out = Vec::with_capacity(8 * 1024);
    loop {
        buf.reserve(8 * 1024);
        match io.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if !answer(&mut buf, &mut out) || buf.len() > 64 * 1024 {
            return;
        }
        if !out.is_empty() {
            if io.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}

/// Every floor's answer: `FLOOR_RESPONSE` for each complete head (`\r\n\r\n`)
/// at the front of `buf`, taken out of it.
fn answer_heads(buf: &mut bytes::BytesMut, out: &mut Vec<u8>) {
    let mut consumed = 0;
    while let Some(end) = buf[consumed..].windows(4).position(|w| w == b"\r\n\r\n") {
        consumed += end + 4;
        out.extend_from_slice(FLOOR_RESPONSE);
    }
    // Cleared or advanced, never split: the buffer stays one owned
    // allocation, and a fully answered one keeps all of its capacity.
    if consumed == buf.len() {
        buf.clear();
    } else {
        bytes::Buf::advance(buf, consumed);
    }
}

/// HTTP/2 by prior knowledge only: hyper's http2 connection builder, no
/// HTTP/1.1 detection in front of it.
async fn hyper_h2_server(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("hyper-h2 listening on {addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(io, hyper::service::service_fn(hyper_handle))
                .await;
        });
    }
}

/// A rustls server configuration (ring) for the PEM chain in `cert` and
/// key in `key`, offering `h2` then `http/1.1` by ALPN.
// ring's provider, as wego-netpoll's `tls` uses (rustls deprecates it for
// having no post-quantum key exchange): both servers do the same crypto.
#[allow(deprecated)]
fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, Box<dyn std::error::Error>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// HTTPS: each connection does its handshake on its own task, then is
/// served as HTTP/2 when ALPN chose `h2` and as HTTP/1.1 otherwise.
async fn hyper_tls_server(
    addr: SocketAddr,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    eprintln!("hyper listening on https://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            let io = hyper_util::rt::TokioIo::new(tls);
            let svc = hyper::service::service_fn(hyper_handle);
            let _ = if h2 {
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(io, svc)
                    .await
            } else {
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await
            };
        });
    }
}

async fn axum_server(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route("/plaintext", get(|| async { HELLO }))
        .route("/echo", post(|body: Bytes| async move { body }));
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind(addr).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!("axum listening on {addr}");
    axum::serve(listener, app).await?;
    Ok(())
}

fn actix_server(addr: SocketAddr, threads: usize) -> Result<(), Box<dyn std::error::Error>> {
    use actix_web::{App, HttpServer, web};
    actix_web::rt::System::new().block_on(async move {
        eprintln!("actix listening on {addr}");
        HttpServer::new(|| {
            App::new()
                .route("/plaintext", web::get().to(|| async { HELLO }))
                .route(
                    "/echo",
                    web::post().to(|body: web::Bytes| async move { body }),
                )
        })
        .workers(threads)
        .backlog(4096)
        .bind(addr)?
        .run()
        .await
    })?;
    Ok(())
}
