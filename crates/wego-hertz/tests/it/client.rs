//! hyper 1.x's HTTP/1.1 client over a netpoll connection, for the tests
//! that need a real client rather than raw bytes.
//!
//! hyper's low-level `client::conn::http1` API needs no executor and no
//! timer: the connection future is driven by a task spawned with
//! [`wego_netpoll::rt::spawn`] (so it runs on either backend), and IO goes
//! through hyper-util's `TokioIo` adapter (netpoll's `Conn` speaks tokio's IO
//! traits). hyper sends no `Host` header on its own at this level; [`request`]
//! adds one.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use wego_hertz::Body;
use wego_netpoll::{Address, rt};

use crate::support::connect;

/// One hyper client connection.
pub(crate) struct HyperConn {
    /// Sends requests, one at a time (hyper does not pipeline).
    pub(crate) send: SendRequest<Body>,
    /// The client's end of the TCP connection, as the server sees the peer.
    pub(crate) local: Address,
    /// The task driving the connection; it ends when the connection closes.
    pub(crate) driver: rt::JoinHandle<Result<(), hyper::Error>>,
}

impl HyperConn {
    /// Sends `req` once the connection is ready and returns the response head
    /// with its body still to be read.
    pub(crate) async fn send(&mut self, req: Request<Body>) -> Response<Incoming> {
        self.try_send(req).await.unwrap()
    }

    /// [`send`](Self::send), returning hyper's error instead of panicking.
    pub(crate) async fn try_send(
        &mut self,
        req: Request<Body>,
    ) -> Result<Response<Incoming>, hyper::Error> {
        self.send.ready().await?;
        let fut = self.send.send_request(req);
        rt::timeout(Duration::from_secs(10), fut)
            .await
            .expect("a response within 10 s")
    }

    /// Sends `req` and reads the whole response.
    pub(crate) async fn fetch(&mut self, req: Request<Body>) -> Full {
        let resp = self.send(req).await;
        Full::read(resp).await
    }

    /// Waits (up to 5 s) for the connection to close; returns how its
    /// driver ended.
    pub(crate) async fn closed(self) -> Result<(), hyper::Error> {
        drop(self.send);
        rt::timeout(Duration::from_secs(5), self.driver)
            .await
            .expect("the connection closes within 5 s")
            .unwrap()
    }
}

/// A response read to its end.
#[derive(Debug)]
pub(crate) struct Full {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Full {
    pub(crate) async fn read(resp: Response<Incoming>) -> Self {
        let (parts, body) = resp.into_parts();
        let body = rt::timeout(Duration::from_secs(10), body.collect())
            .await
            .expect("a body within 10 s")
            .unwrap()
            .to_bytes();
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Opens a hyper client connection to `addr`.
pub(crate) async fn hyper_connect(addr: &Address) -> HyperConn {
    let conn = connect(addr).await;
    let local = conn.local_addr().clone();
    let (send, driver) = http1::handshake(TokioIo::new(conn)).await.unwrap();
    HyperConn {
        send,
        local,
        driver: rt::spawn(driver),
    }
}

/// A request for `path` with a `Host` header.
pub(crate) fn request(method: Method, path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "wego.test")
        .body(body.into())
        .unwrap()
}

/// `GET path`.
pub(crate) fn get(path: &str) -> Request<Body> {
    request(Method::GET, path, Body::empty())
}
