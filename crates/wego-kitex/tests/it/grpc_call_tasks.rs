//! Where a connection's calls run: on the connection's task (the default)
//! or on a task each (`with_task_per_call`). Either way calls of one
//! connection proceed independently, and a handler's panic ends only its
//! own call.

use std::time::Duration;

use wego_kitex::grpc::{Code, Request, Response, Router, Server};

use crate::grpc_common::*;

/// The echo routes plus a unary method whose handler panics.
fn router() -> Router {
    echo_router().merge(Router::new().unary(
        "/echo.EchoServer/Panic",
        |_r: Request<EchoRequest>| async move {
            if std::hint::black_box(true) {
                panic!("handler bug");
            }
            Ok(Response::new(EchoResponse::default()))
        },
    ))
}

wego_test_support::each_backend!(
    a_panicking_handler_ends_only_its_call,
    |_backend| async move {
        for task_per_call in [false, true] {
            let server = Server::builder()
                .with_task_per_call(task_per_call)
                .build()
                .unwrap();
            let (ch, _server) = start_with(server, router()).await;
            // A stream is open on the same connection while the handler
            // panics.
            let (tx, rx) = tokio::sync::mpsc::channel::<EchoRequest>(4);
            let reqs = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|m| (m, rx))
            });
            let mut stream = ch
                .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
                .await
                .unwrap()
                .into_inner();
            tx.send(req("before")).await.unwrap();
            assert_eq!(stream.message().await.unwrap().unwrap().msg, "before");

            let err = ch
                .unary::<_, EchoResponse>("/echo.EchoServer/Panic", Request::new(req("x")))
                .await
                .unwrap_err();
            assert_ne!(err.code(), Code::Ok, "{err:?}");

            tx.send(req("after")).await.unwrap();
            let next = wego_netpoll::rt::timeout(Duration::from_secs(5), stream.message())
                .await
                .expect("the stream outlives the panic");
            assert_eq!(
                next.unwrap().unwrap().msg,
                "after",
                "task_per_call={task_per_call}"
            );
            let r = ch
                .unary::<_, EchoResponse>(UNARY, Request::new(req("still here")))
                .await
                .unwrap();
            assert_eq!(r.get_ref().msg, "still here");
        }
    }
);

wego_test_support::each_backend!(
    calls_of_one_connection_do_not_wait_for_each_other,
    |_backend| async move {
        for task_per_call in [false, true] {
            let server = Server::builder()
                .with_task_per_call(task_per_call)
                .build()
                .unwrap();
            let (ch, _server) = start_with(server, echo_router()).await;
            let slow = {
                let ch = ch.clone();
                wego_netpoll::rt::spawn(async move {
                    ch.unary::<_, EchoResponse>(
                        UNARY,
                        Request::new(EchoRequest {
                            action: "sleep".into(),
                            msg: "400".into(),
                        }),
                    )
                    .await
                })
            };
            wego_netpoll::rt::sleep(Duration::from_millis(50)).await;
            let t0 = std::time::Instant::now();
            for i in 0..20 {
                ch.unary::<_, EchoResponse>(UNARY, Request::new(req(&i.to_string())))
                    .await
                    .unwrap();
            }
            assert!(
                t0.elapsed() < Duration::from_millis(300),
                "quick calls waited for the slow one: {:?} (task_per_call={task_per_call})",
                t0.elapsed()
            );
            assert_eq!(slow.await.unwrap().unwrap().get_ref().msg, "400");
        }
    }
);
