//! Pipelined requests are answered in order, on one connection.

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use wego_hertz::Server;

use crate::support::{connect, read_response, start_app};

wego_test_support::each_backend!(answers_pipelined_requests_in_order, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut conn = connect(&addr).await;
    // A slow request first: its answer must still come first.
    let batch = b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n\
POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n\
GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    conn.write_all(batch).await.unwrap();
    let mut buf = BytesMut::new();
    let mut bodies = Vec::new();
    for _ in 0..4 {
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        bodies.push(String::from_utf8(resp.body).unwrap());
    }
    assert_eq!(bodies, ["slept", "abc", "de", "hello"]);
});

wego_test_support::each_backend!(
    pipelined_requests_split_across_reads,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        let batch = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let (a, b) = batch.split_at(40);
        conn.write_all(a).await.unwrap();
        wego_netpoll::rt::sleep(std::time::Duration::from_millis(20)).await;
        conn.write_all(b).await.unwrap();
        let mut buf = BytesMut::new();
        for _ in 0..2 {
            assert_eq!(
                read_response(&mut conn, &mut buf, false)
                    .await
                    .unwrap()
                    .body,
                b"hello"
            );
        }
    }
);
