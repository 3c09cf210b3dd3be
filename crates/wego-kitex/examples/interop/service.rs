//! The gRPC interop `TestService` (idl/grpc/testing/test.proto), as the
//! interop spec describes the server side. Shared by the
//! `grpc-interop-server` example and the interop tests.
//!
//! Expects the generated code as module `super::pb` (grpc.testing).

use std::time::Duration;

use futures_util::StreamExt;
use wego_kitex::grpc::{
    BoxStream, Code, Encoding, Metadata, Request, RequestStream, Response, Status,
};

use super::pb;

/// The test service; stateless.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TestServer;

const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";

/// Copies the interop echo keys from request metadata into the response.
fn echo_metadata<T>(md: &Metadata, resp: &mut Response<T>) {
    for (k, v) in md.iter() {
        if k == ECHO_INITIAL {
            let _ = resp.metadata_mut().insert_raw(k, v);
        } else if k == ECHO_TRAILING {
            let _ = resp.trailers_mut().insert_raw(k, v);
        }
    }
}

fn echo_status(md: &Metadata, s: Option<&pb::EchoStatus>) -> Result<(), Status> {
    match s {
        Some(s) if s.code != 0 => {
            let mut st = Status::new(Code::from_i32(s.code), s.message.clone());
            // Trailing echo metadata travels with an error status too.
            if let Some(v) = md.get_bin(ECHO_TRAILING) {
                let _ = st.metadata_mut().insert_bin(ECHO_TRAILING, &v);
            }
            Err(st)
        }
        _ => Ok(()),
    }
}

fn payload(size: i32) -> Result<pb::Payload, Status> {
    let n = usize::try_from(size).map_err(|_| Status::invalid_argument("negative size"))?;
    Ok(pb::Payload {
        r#type: pb::PayloadType::Compressable as i32,
        body: vec![0; n],
    })
}

fn check_compressed(expect: Option<&pb::BoolValue>, was: bool) -> Result<(), Status> {
    match expect {
        Some(b) if b.value && !was => {
            Err(Status::invalid_argument("expected a compressed request"))
        }
        Some(b) if !b.value && was => {
            Err(Status::invalid_argument("expected an uncompressed request"))
        }
        _ => Ok(()),
    }
}

/// Answers one streaming-output request: the responses it asks for, with
/// their intervals.
fn respond(req: pb::StreamingOutputCallRequest) -> BoxStream<pb::StreamingOutputCallResponse> {
    Box::pin(
        futures_util::stream::iter(req.response_parameters).then(|p| async move {
            if p.interval_us > 0 {
                wego_netpoll::rt::sleep(Duration::from_micros(p.interval_us as u64)).await;
            }
            Ok(pb::StreamingOutputCallResponse {
                payload: Some(payload(p.size)?),
            })
        }),
    )
}

impl pb::TestServiceHandler for TestServer {
    async fn empty_call(&self, request: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        let mut resp = Response::new(pb::Empty {});
        echo_metadata(request.metadata(), &mut resp);
        Ok(resp)
    }

    async fn unary_call(
        &self,
        request: Request<pb::SimpleRequest>,
    ) -> Result<Response<pb::SimpleResponse>, Status> {
        check_compressed(
            request.get_ref().expect_compressed.as_ref(),
            request.is_compressed(),
        )?;
        echo_status(
            request.metadata(),
            request.get_ref().response_status.as_ref(),
        )?;
        let r = request.get_ref();
        let mut resp = Response::new(pb::SimpleResponse {
            payload: Some(payload(r.response_size)?),
            ..Default::default()
        });
        if r.response_compressed.as_ref().is_some_and(|b| b.value) {
            resp.set_compression(Some(Encoding::Gzip));
        }
        echo_metadata(request.metadata(), &mut resp);
        Ok(resp)
    }

    async fn cacheable_unary_call(
        &self,
        request: Request<pb::SimpleRequest>,
    ) -> Result<Response<pb::SimpleResponse>, Status> {
        self.unary_call(request).await
    }

    async fn streaming_output_call(
        &self,
        request: Request<pb::StreamingOutputCallRequest>,
    ) -> Result<Response<BoxStream<pb::StreamingOutputCallResponse>>, Status> {
        echo_status(
            request.metadata(),
            request.get_ref().response_status.as_ref(),
        )?;
        let md = request.metadata().clone();
        let mut resp = Response::new(respond(request.into_inner()));
        echo_metadata(&md, &mut resp);
        Ok(resp)
    }

    async fn streaming_input_call(
        &self,
        request: Request<RequestStream<pb::StreamingInputCallRequest>>,
    ) -> Result<Response<pb::StreamingInputCallResponse>, Status> {
        let mut s = request.into_inner();
        let mut total = 0usize;
        while let Some(m) = s.message().await? {
            check_compressed(m.expect_compressed.as_ref(), s.is_last_compressed())?;
            total += m.payload.map_or(0, |p| p.body.len());
        }
        let aggregated_payload_size =
            i32::try_from(total).map_err(|_| Status::resource_exhausted("aggregate too large"))?;
        Ok(Response::new(pb::StreamingInputCallResponse {
            aggregated_payload_size,
        }))
    }

    async fn full_duplex_call(
        &self,
        request: Request<RequestStream<pb::StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<pb::StreamingOutputCallResponse>>, Status> {
        let md = request.metadata().clone();
        let md2 = md.clone();
        let s =
            request
                .into_inner()
                .flat_map(move |m| -> BoxStream<pb::StreamingOutputCallResponse> {
                    match m {
                        Err(e) => Box::pin(futures_util::stream::iter([Err(e)])),
                        Ok(m) => match echo_status(&md2, m.response_status.as_ref()) {
                            Err(e) => Box::pin(futures_util::stream::iter([Err(e)])),
                            Ok(()) => respond(m),
                        },
                    }
                });
        let mut resp = Response::new(Box::pin(s) as BoxStream<_>);
        echo_metadata(&md, &mut resp);
        Ok(resp)
    }

    async fn half_duplex_call(
        &self,
        request: Request<RequestStream<pb::StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<pb::StreamingOutputCallResponse>>, Status> {
        let mut s = request.into_inner();
        let mut all = Vec::new();
        while let Some(m) = s.message().await? {
            all.push(m);
        }
        let out = futures_util::stream::iter(all).flat_map(respond);
        Ok(Response::new(Box::pin(out)))
    }

    async fn unimplemented_call(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::Empty>, Status> {
        Err(Status::unimplemented(
            "UnimplementedCall is not implemented",
        ))
    }
}
