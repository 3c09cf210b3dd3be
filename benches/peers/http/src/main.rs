//! One binary, three peer frameworks, the same two routes as wego-hertz's
//! `http-hello` example:
//!
//! - `GET /plaintext` → `Hello, World!`
//! - `POST /echo`     → the request body
//!
//! Usage: `http-peer hyper|axum|actix [--port N] [--threads N]`.
//! The tokio-based peers run tokio's multi-thread runtime with N workers;
//! actix-web runs N workers (each a single-threaded runtime).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};

const HELLO: &str = "Hello, World!";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let framework = args
        .next()
        .ok_or("usage: http-peer hyper|axum|actix [--port N] [--threads N]")?;
    let mut port = 8080u16;
    let mut threads = 1usize;
    while let Some(arg) = args.next() {
        let value = args.next().ok_or("missing value")?;
        match arg.as_str() {
            "--port" => port = value.parse()?,
            "--threads" => threads = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match framework.as_str() {
        "hyper" => tokio_rt(threads)?.block_on(hyper_server(addr)),
        "axum" => tokio_rt(threads)?.block_on(axum_server(addr)),
        "actix" => actix_server(addr, threads),
        other => Err(format!("unknown framework {other}").into()),
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
        ("GET", "/plaintext") => Response::new(Full::new(Bytes::from_static(HELLO.as_bytes()))),
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
