//! Deadlines (`grpc-timeout`) on both sides and cancellation by dropping.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wego_kitex::grpc::{Channel, Code, GrpcRouter, GrpcServer, Request, RequestStream, Response};

use crate::grpc_common::*;

wego_test_support::each_backend!(
    deadline_reaches_the_handler_and_is_enforced,
    |_backend| async move {
        let seen = Arc::new(std::sync::Mutex::new(None::<Duration>));
        let seen2 = seen.clone();
        let router = echo_router().unary("/t.T/Remaining", move |r: Request<EchoRequest>| {
            *seen2.lock().unwrap() = r.remaining();
            async move { Ok(Response::new(EchoResponse::default())) }
        });
        let ch = start(router).await;
        let mut r = Request::new(req("x"));
        r.set_timeout(Duration::from_secs(60));
        let _: Response<EchoResponse> = ch.unary("/t.T/Remaining", r).await.unwrap();
        let left = seen.lock().unwrap().unwrap();
        // The lower bound only rules out a lost or mis-scaled deadline: the
        // call takes far less than half a minute to reach the handler.
        assert!(
            left > Duration::from_secs(30) && left <= Duration::from_secs(60),
            "{left:?}"
        );

        // A server sleeping for a minute: the call ends with
        // DEADLINE_EXCEEDED instead. The bound only catches a call that
        // waits for the handler.
        let mut r = Request::new(EchoRequest {
            action: "sleep".into(),
            msg: "60000".into(),
        });
        r.set_timeout(Duration::from_millis(100));
        let err = wego_netpoll::rt::timeout(
            Duration::from_secs(10),
            ch.unary::<_, EchoResponse>(UNARY, r),
        )
        .await
        .expect("the deadline ends the call")
        .unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded);
    }
);

wego_test_support::each_backend!(
    server_enforces_the_deadline_it_was_sent,
    |_backend| async move {
        // A raw h2 client that sends grpc-timeout but never gives up itself.
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        wego_netpoll::rt::spawn(async move {
            GrpcServer::default().serve(listener, echo_router()).await
        });
        let conn = wego_netpoll::Dialer::new().dial(&addr).await.unwrap();
        let (mut send, h2conn) = h2::client::handshake(conn).await.unwrap();
        wego_netpoll::rt::spawn(async move {
            let _ = h2conn.await;
        });
        let req = http::Request::post(format!("http://{addr}{UNARY}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("grpc-timeout", "50m")
            .body(())
            .unwrap();
        let (resp, mut body) = send.send_request(req, false).unwrap();
        let mut frame = bytes::BytesMut::new();
        use prost::Message;
        let payload = EchoRequest {
            action: "sleep".into(),
            msg: "60000".into(),
        }
        .encode_to_vec();
        wego_kitex::grpc::codec::encode(&payload, None, 1 << 20, &mut frame).unwrap();
        body.send_data(frame.freeze(), true).unwrap();
        // The handler sleeps for a minute; the bound only catches a server
        // that waits for it.
        let resp = wego_netpoll::rt::timeout(Duration::from_secs(10), resp)
            .await
            .expect("the server answers at the deadline")
            .unwrap();
        assert_eq!(resp.headers()["grpc-status"], "4");
        // A malformed grpc-timeout is rejected with a status.
        let req = http::Request::post(format!("http://{addr}{UNARY}"))
            .header("content-type", "application/grpc")
            .header("grpc-timeout", "1x")
            .body(())
            .unwrap();
        let (resp, _) = send.send_request(req, true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.headers()["grpc-status"], "13");
    }
);

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

wego_test_support::each_backend!(
    dropping_a_call_cancels_the_server_handler,
    |_backend| async move {
        let dropped = Arc::new(AtomicBool::new(false));
        let started = Arc::new(tokio::sync::Notify::new());
        let (d, s) = (dropped.clone(), started.clone());
        let router = GrpcRouter::new().client_streaming(
            "/t.T/Hang",
            move |r: Request<RequestStream<EchoRequest>>| {
                let flag = DropFlag(d.clone());
                let s = s.clone();
                async move {
                    let _flag = flag;
                    s.notify_one();
                    let mut st = r.into_inner();
                    while st.message().await?.is_some() {}
                    Ok(Response::new(EchoResponse::default()))
                }
            },
        );
        let ch: Channel = start(router).await;
        let (tx, rx) = tokio::sync::mpsc::channel::<EchoRequest>(1);
        let out =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
            );
        let call = ch.client_streaming::<_, _, EchoResponse>("/t.T/Hang", Request::new(out));
        tokio::select! {
            _ = call => panic!("the call cannot finish"),
            () = started.notified() => {}
        }
        // The call future is dropped here: the stream is reset. `tx` stays
        // open, so only the reset can end the handler.
        let t0 = Instant::now();
        while !dropped.load(Ordering::SeqCst) {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "handler never saw the cancellation"
            );
            wego_netpoll::rt::sleep(Duration::from_millis(10)).await;
        }
        drop(tx);
    }
);

wego_test_support::each_backend!(
    dropping_a_unary_call_cancels_the_handler,
    |_backend| async move {
        let dropped = Arc::new(AtomicBool::new(false));
        let started = Arc::new(tokio::sync::Notify::new());
        let (d, s) = (dropped.clone(), started.clone());
        let router = GrpcRouter::new().unary("/t.T/Hang", move |_r: Request<EchoRequest>| {
            let flag = DropFlag(d.clone());
            let s = s.clone();
            async move {
                let _flag = flag;
                s.notify_one();
                std::future::pending::<()>().await;
                Ok(Response::new(EchoResponse::default()))
            }
        });
        let ch: Channel = start(router).await;
        // No deadline travels and the handler never finishes: only the
        // client's reset can stop it.
        let call = ch.unary::<_, EchoResponse>("/t.T/Hang", Request::new(req("x")));
        tokio::select! {
            _ = call => panic!("the call cannot finish"),
            () = started.notified() => {}
        }
        // The call future is dropped here: the stream is reset.
        let t0 = Instant::now();
        while !dropped.load(Ordering::SeqCst) {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "handler never saw the cancellation"
            );
            wego_netpoll::rt::sleep(Duration::from_millis(10)).await;
        }
    }
);
