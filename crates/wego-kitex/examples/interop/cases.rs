//! The gRPC interop client cases (grpc/doc/interop-test-descriptions.md)
//! against any `TestService` server. Shared by the `grpc-interop-client`
//! example and the interop tests.
//!
//! Expects the generated code as module `super::pb` (grpc.testing).

use std::time::Duration;

use wego_kitex::grpc::{Channel, Code, Encoding, Request, Status};

use super::pb;

/// Every case this client implements, in the spec's order.
pub(crate) const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "status_code_and_message",
    "special_status_message",
    "custom_metadata",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "unimplemented_method",
    "unimplemented_service",
    "client_compressed_unary",
    "server_compressed_unary",
];

type R = Result<(), String>;

fn ensure(cond: bool, what: &str) -> R {
    if cond { Ok(()) } else { Err(what.to_owned()) }
}

fn st(e: Status) -> String {
    format!("unexpected {e}")
}

fn payload(n: usize) -> Option<pb::Payload> {
    Some(pb::Payload {
        r#type: 0,
        body: vec![0; n],
    })
}

fn params(sizes: &[i32]) -> Vec<pb::ResponseParameters> {
    sizes
        .iter()
        .map(|&size| pb::ResponseParameters {
            size,
            ..Default::default()
        })
        .collect()
}

/// A request stream fed through a channel, for ping-pong style calls.
fn feed<T: Send + 'static>() -> (
    tokio::sync::mpsc::Sender<T>,
    impl futures_core::Stream<Item = T> + Send + 'static,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<T>(4);
    let s =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    (tx, s)
}

fn expect_code<T>(r: Result<T, Status>, code: Code, msg: Option<&str>) -> R {
    match r {
        Ok(_) => Err(format!("expected {code}, got OK")),
        Err(e) if e.code() != code => Err(format!("expected {code}, got {e}")),
        Err(e) => match msg {
            Some(m) if e.message() != m => {
                Err(format!("expected message {m:?}, got {:?}", e.message()))
            }
            _ => Ok(()),
        },
    }
}

/// Runs one case by name. `probe_compression`: whether the server can tell
/// a compressed request from an uncompressed one (grpcio's Python API
/// cannot), which the client_compressed_unary feature probe needs.
///
/// # Errors
///
/// What went wrong, for the report.
pub(crate) async fn run_with(name: &str, ch: &Channel, probe_compression: bool) -> R {
    let c = pb::TestServiceClient::new(ch.clone());
    match name {
        "empty_unary" => {
            c.empty_call(Request::new(pb::Empty {})).await.map_err(st)?;
            Ok(())
        }
        "large_unary" => {
            let r = c
                .unary_call(Request::new(pb::SimpleRequest {
                    response_size: 314_159,
                    payload: payload(271_828),
                    ..Default::default()
                }))
                .await
                .map_err(st)?;
            ensure(
                r.get_ref().payload.as_ref().map(|p| p.body.len()) == Some(314_159),
                "response size",
            )
        }
        "client_streaming" => {
            let reqs: Vec<_> = [27_182, 8, 1_828, 45_904]
                .iter()
                .map(|&n| pb::StreamingInputCallRequest {
                    payload: payload(n),
                    ..Default::default()
                })
                .collect();
            let r = c
                .streaming_input_call(Request::new(futures_util::stream::iter(reqs)))
                .await
                .map_err(st)?;
            ensure(
                r.get_ref().aggregated_payload_size == 74_922,
                "aggregated size",
            )
        }
        "server_streaming" => {
            let req = pb::StreamingOutputCallRequest {
                response_parameters: params(&[31_415, 9, 2_653, 58_979]),
                ..Default::default()
            };
            let mut s = c
                .streaming_output_call(Request::new(req))
                .await
                .map_err(st)?
                .into_inner();
            let mut sizes = Vec::new();
            while let Some(m) = s.message().await.map_err(st)? {
                sizes.push(m.payload.map_or(0, |p| p.body.len()));
            }
            ensure(sizes == [31_415, 9, 2_653, 58_979], "response sizes")
        }
        "ping_pong" => {
            let (tx, out) = feed();
            let mut out = Some(out);
            // The call starts once the first request is queued; each pong is
            // read before the next ping is sent.
            let mut s = None;
            for (req, resp) in [(27_182, 31_415), (8, 9), (1_828, 2_653), (45_904, 58_979)] {
                let m = pb::StreamingOutputCallRequest {
                    response_parameters: params(&[resp]),
                    payload: payload(req),
                    ..Default::default()
                };
                tx.send(m)
                    .await
                    .map_err(|_| "request stream closed".to_owned())?;
                let stream = match s.as_mut() {
                    Some(stream) => stream,
                    None => s.insert(
                        c.full_duplex_call(Request::new(out.take().ok_or("stream taken")?))
                            .await
                            .map_err(st)?
                            .into_inner(),
                    ),
                };
                let got = stream.message().await.map_err(st)?;
                ensure(
                    got.and_then(|g| g.payload).map(|p| p.body.len()) == Some(resp as usize),
                    "pong size",
                )?;
            }
            drop(tx);
            let mut s = s.ok_or("no stream")?;
            ensure(
                s.message().await.map_err(st)?.is_none(),
                "stream ends after the last pong",
            )
        }
        "empty_stream" => {
            let reqs: Vec<pb::StreamingOutputCallRequest> = Vec::new();
            let mut s = c
                .full_duplex_call(Request::new(futures_util::stream::iter(reqs)))
                .await
                .map_err(st)?
                .into_inner();
            ensure(s.message().await.map_err(st)?.is_none(), "no responses")
        }
        "status_code_and_message" | "special_status_message" => {
            let msg = if name == "status_code_and_message" {
                "test status message"
            } else {
                "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
            };
            let status = Some(pb::EchoStatus {
                code: 2,
                message: msg.into(),
            });
            let r = c
                .unary_call(Request::new(pb::SimpleRequest {
                    response_status: status.clone(),
                    ..Default::default()
                }))
                .await;
            expect_code(r, Code::Unknown, Some(msg))?;
            if name == "special_status_message" {
                return Ok(());
            }
            let req = pb::StreamingOutputCallRequest {
                response_status: status,
                ..Default::default()
            };
            let r = c
                .full_duplex_call(Request::new(futures_util::stream::iter([req])))
                .await;
            let r = match r {
                Ok(resp) => resp.into_inner().message().await.map(|_| ()),
                Err(e) => Err(e),
            };
            expect_code(r, Code::Unknown, Some(msg))
        }
        "custom_metadata" => {
            let mut req = Request::new(pb::SimpleRequest {
                response_size: 314_159,
                payload: payload(271_828),
                ..Default::default()
            });
            let md = req.metadata_mut();
            md.insert("x-grpc-test-echo-initial", "test_initial_metadata_value")
                .map_err(|e| e.to_string())?;
            md.insert_bin("x-grpc-test-echo-trailing-bin", &[0xab, 0xab, 0xab])
                .map_err(|e| e.to_string())?;
            let sent = req.metadata().clone();
            let r = c.unary_call(req).await.map_err(st)?;
            ensure(
                r.metadata().get("x-grpc-test-echo-initial") == Some("test_initial_metadata_value"),
                "initial metadata",
            )?;
            ensure(
                r.trailers()
                    .get_bin("x-grpc-test-echo-trailing-bin")
                    .as_deref()
                    == Some(&[0xab, 0xab, 0xab][..]),
                "trailing metadata",
            )?;
            let mut req = Request::new(futures_util::stream::iter([
                pb::StreamingOutputCallRequest {
                    response_parameters: params(&[314_159]),
                    payload: payload(271_828),
                    ..Default::default()
                },
            ]));
            *req.metadata_mut() = sent;
            let resp = c.full_duplex_call(req).await.map_err(st)?;
            ensure(
                resp.metadata().get("x-grpc-test-echo-initial")
                    == Some("test_initial_metadata_value"),
                "stream initial metadata",
            )?;
            let mut s = resp.into_inner();
            while s.message().await.map_err(st)?.is_some() {}
            ensure(
                s.trailers()
                    .and_then(|t| t.get_bin("x-grpc-test-echo-trailing-bin"))
                    .as_deref()
                    == Some(&[0xab, 0xab, 0xab][..]),
                "stream trailing metadata",
            )
        }
        "timeout_on_sleeping_server" => {
            let (tx, out) = feed();
            let _ = tx
                .send(pb::StreamingOutputCallRequest {
                    response_parameters: params(&[31_415]),
                    payload: payload(27_182),
                    ..Default::default()
                })
                .await;
            let mut req = Request::new(out);
            req.set_timeout(Duration::from_millis(1));
            let r = match c.full_duplex_call(req).await {
                Ok(resp) => {
                    let mut s = resp.into_inner();
                    loop {
                        match s.message().await {
                            Ok(Some(_)) => continue,
                            Ok(None) => break Ok(()),
                            Err(e) => break Err(e),
                        }
                    }
                }
                Err(e) => Err(e),
            };
            drop(tx);
            expect_code(r, Code::DeadlineExceeded, None)
        }
        "cancel_after_begin" => {
            let (tx, out) = feed::<pb::StreamingInputCallRequest>();
            let call = c.streaming_input_call(Request::new(out));
            // The server waits for the end of input, so the call cannot
            // finish; dropping it cancels (RST_STREAM CANCEL).
            let r = wego_netpoll::rt::timeout(Duration::from_millis(100), call).await;
            drop(tx);
            ensure(r.is_err(), "the call must still be pending when cancelled")
        }
        "cancel_after_first_response" => {
            let (tx, out) = feed();
            let _ = tx
                .send(pb::StreamingOutputCallRequest {
                    response_parameters: params(&[31_415]),
                    payload: payload(27_182),
                    ..Default::default()
                })
                .await;
            let mut s = c
                .full_duplex_call(Request::new(out))
                .await
                .map_err(st)?
                .into_inner();
            let first = s.message().await.map_err(st)?;
            ensure(first.is_some(), "first response")?;
            // Cancel: drop the response stream while the request stream is open.
            drop(s);
            drop(tx);
            Ok(())
        }
        "unimplemented_method" => expect_code(
            c.unimplemented_call(Request::new(pb::Empty {})).await,
            Code::Unimplemented,
            None,
        ),
        "unimplemented_service" => {
            let u = pb::UnimplementedServiceClient::new(ch.clone());
            expect_code(
                u.unimplemented_call(Request::new(pb::Empty {})).await,
                Code::Unimplemented,
                None,
            )
        }
        "client_compressed_unary" => {
            let req = |expect: bool| pb::SimpleRequest {
                response_size: 314_159,
                payload: payload(271_828),
                expect_compressed: Some(pb::BoolValue { value: expect }),
                ..Default::default()
            };
            // Probe: the server must reject an uncompressed message it was
            // told to expect compressed.
            if probe_compression {
                expect_code(
                    c.unary_call(Request::new(req(true))).await,
                    Code::InvalidArgument,
                    None,
                )?;
            }
            let mut r = Request::new(req(true));
            r.set_compression(Some(Encoding::Gzip));
            let resp = c.unary_call(r).await.map_err(st)?;
            ensure(
                resp.get_ref().payload.as_ref().map(|p| p.body.len()) == Some(314_159),
                "compressed call",
            )?;
            let resp = c.unary_call(Request::new(req(false))).await.map_err(st)?;
            ensure(
                resp.get_ref().payload.as_ref().map(|p| p.body.len()) == Some(314_159),
                "uncompressed call",
            )
        }
        "server_compressed_unary" => {
            for compressed in [true, false] {
                let req = pb::SimpleRequest {
                    response_size: 314_159,
                    payload: payload(271_828),
                    response_compressed: Some(pb::BoolValue { value: compressed }),
                    ..Default::default()
                };
                // The streaming view of a unary call exposes the flag.
                let mut s = ch
                    .server_streaming::<_, pb::SimpleResponse>(
                        "/grpc.testing.TestService/UnaryCall",
                        Request::new(req),
                    )
                    .await
                    .map_err(st)?
                    .into_inner();
                let m = s.message().await.map_err(st)?.ok_or("no response")?;
                ensure(
                    m.payload.map(|p| p.body.len()) == Some(314_159),
                    "response size",
                )?;
                ensure(
                    s.is_last_compressed() == compressed,
                    "response compression flag",
                )?;
                ensure(s.message().await.map_err(st)?.is_none(), "one response")?;
            }
            Ok(())
        }
        other => Err(format!("unknown case {other}")),
    }
}
