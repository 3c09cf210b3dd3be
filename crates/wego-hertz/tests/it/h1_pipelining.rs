//! Pipelined requests are answered in order, on one connection.

use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use wego_hertz::Server;

use crate::support::{app, connect, read_response, start, start_app};

wego_test_support::each_backend!(answers_pipelined_requests_in_order, |_backend| async move {
    // `/held` waits until the test releases it, after the other three
    // requests were all sent in the same write: a server that answered in
    // order of completion would answer them first.
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (s, r, c) = (
        Arc::clone(&started),
        Arc::clone(&release),
        Arc::clone(&calls),
    );
    let svc = tower::service_fn(move |req: http::Request<wego_hertz::Body>| {
        let (s, r, c) = (Arc::clone(&s), Arc::clone(&r), Arc::clone(&c));
        async move {
            c.lock().unwrap().push(req.uri().path().to_owned());
            if req.uri().path() == "/held" {
                s.notify_one();
                r.notified().await;
                return Ok(http::Response::new(wego_hertz::Body::from("held")));
            }
            app(req).await
        }
    });
    let (_server, addr, _task) = start(Server::builder(), svc).await;
    let mut conn = connect(&addr).await;
    let batch = b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n\
POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n\
GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    conn.write_all(batch).await.unwrap();
    started.notified().await;
    release.notify_one();
    let mut buf = BytesMut::new();
    let mut bodies = Vec::new();
    for _ in 0..4 {
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        bodies.push(String::from_utf8(resp.body).unwrap());
    }
    assert_eq!(bodies, ["held", "abc", "de", "hello"]);
    // One at a time: the others were called after `/held` was answered.
    assert_eq!(*calls.lock().unwrap(), ["/held", "/echo", "/echo", "/"]);
});

wego_test_support::each_backend!(
    pipelined_requests_split_across_reads,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        let batch = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
        // The first request whole and 13 bytes of the second: the first is
        // answered while the second's head is incomplete in the server's
        // buffer; the rest completes it.
        let (a, b) = batch.split_at(40);
        conn.write_all(a).await.unwrap();
        let mut buf = BytesMut::new();
        let first = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(first.body, b"hello");
        assert!(buf.is_empty(), "answered the incomplete request: {buf:?}");
        conn.write_all(b).await.unwrap();
        let second = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(second.body, b"hello");
    }
);
