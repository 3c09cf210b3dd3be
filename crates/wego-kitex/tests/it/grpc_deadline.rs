//! Deadlines (`grpc-timeout`) on both sides and cancellation by dropping.
//!
//! The deadline tests serve in-memory pipes and move the paused clock
//! themselves (`crate::clock`); the cancellation tests run over loopback
//! and wait for the handler's drop, not for time.

use std::sync::Arc;
use std::time::Duration;

use wego_kitex::grpc::{Channel, Code, GrpcRouter, GrpcServer, Request, RequestStream, Response};

use crate::clock::{assert_at, step_until};
use crate::grpc_common::*;

/// A bound no test here reaches unless a deadline is not enforced.
const BOUND: Duration = Duration::from_secs(10);

wego_test_support::each_backend_paused!(
    deadline_reaches_the_handler_and_is_enforced,
    |backend| async move {
        let seen = Arc::new(std::sync::Mutex::new(None::<Duration>));
        let seen2 = seen.clone();
        let router = echo_router().unary("/t.T/Remaining", move |r: Request<EchoRequest>| {
            *seen2.lock().unwrap() = r.remaining();
            async move { Ok(Response::new(EchoResponse::default())) }
        });
        let (ch, _conn) = pipe_channel(&GrpcServer::default(), router).await;
        let mut r = Request::new(req("x"));
        r.set_timeout(Duration::from_secs(60));
        let _: Response<EchoResponse> = ch.unary("/t.T/Remaining", r).await.unwrap();
        // The clock stood still: the handler sees the whole minute, so the
        // deadline was neither lost nor mis-scaled on its way.
        assert_eq!(seen.lock().unwrap().unwrap(), Duration::from_secs(60));

        // A handler sleeping for a minute: the call ends with
        // DEADLINE_EXCEEDED at its deadline instead.
        let timeout = Duration::from_millis(100);
        let mut r = Request::new(EchoRequest {
            action: "sleep".into(),
            msg: "60000".into(),
        });
        r.set_timeout(timeout);
        let (res, took) = step_until(BOUND, ch.unary::<_, EchoResponse>(UNARY, r)).await;
        assert_eq!(res.unwrap_err().code(), Code::DeadlineExceeded);
        assert_at(backend, took, timeout, 1);
    }
);

wego_test_support::each_backend_paused!(
    server_enforces_the_deadline_it_was_sent,
    |backend| async move {
        // A raw h2 client that sends grpc-timeout but never gives up itself.
        let (io, _conn) = serve_pipe(&GrpcServer::default(), echo_router()).await;
        let (mut send, h2conn) = h2::client::handshake(io).await.unwrap();
        wego_netpoll::rt::spawn(async move {
            let _ = h2conn.await;
        });
        let timeout = Duration::from_millis(50);
        let req = http::Request::post(format!("http://localhost{UNARY}"))
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
        // The handler sleeps for a minute; the server answers at the
        // deadline.
        let (resp, took) = step_until(BOUND, resp).await;
        assert_eq!(resp.unwrap().headers()["grpc-status"], "4");
        assert_at(backend, took, timeout, 1);
        // A malformed grpc-timeout is rejected with a status.
        let req = http::Request::post(format!("http://localhost{UNARY}"))
            .header("content-type", "application/grpc")
            .header("grpc-timeout", "1x")
            .body(())
            .unwrap();
        let (resp, _) = send.send_request(req, true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.headers()["grpc-status"], "13");
    }
);

/// Notifies its `Notify` when dropped: a handler holding one reports that
/// it was cancelled.
struct DropFlag(Arc<tokio::sync::Notify>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// Waits for a handler's [`DropFlag`]; the bound only catches a handler
/// that is never dropped.
async fn dropped(flag: &tokio::sync::Notify) {
    wego_netpoll::rt::timeout(BOUND, flag.notified())
        .await
        .expect("handler never saw the cancellation");
}

wego_test_support::each_backend!(
    dropping_a_call_cancels_the_server_handler,
    |_backend| async move {
        let dropped_flag = Arc::new(tokio::sync::Notify::new());
        let started = Arc::new(tokio::sync::Notify::new());
        let (d, s) = (dropped_flag.clone(), started.clone());
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
        dropped(&dropped_flag).await;
        drop(tx);
    }
);

wego_test_support::each_backend!(
    dropping_a_unary_call_cancels_the_handler,
    |_backend| async move {
        let dropped_flag = Arc::new(tokio::sync::Notify::new());
        let started = Arc::new(tokio::sync::Notify::new());
        let (d, s) = (dropped_flag.clone(), started.clone());
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
        dropped(&dropped_flag).await;
    }
);
