//! The echo service (idl/echo.proto) for tonic and for wego, shared by the
//! load generator and the interop tests.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};

/// tonic's generated echo code.
pub mod tonic_echo {
    tonic::include_proto!("echo");
}

/// wego's generated echo code (wego-build's output for `idl/echo.proto`).
pub use wego_idl_gen::echo_proto as wego_echo;

type TStream = Pin<Box<dyn Stream<Item = Result<tonic_echo::Response, tonic::Status>> + Send>>;

/// The tonic echo server: echoes every message.
#[derive(Debug, Default, Clone, Copy)]
pub struct TonicEcho;

#[tonic::async_trait]
impl tonic_echo::echo_server_server::EchoServer for TonicEcho {
    async fn echo(
        &self,
        req: tonic::Request<tonic_echo::Request>,
    ) -> Result<tonic::Response<tonic_echo::Response>, tonic::Status> {
        let r = req.into_inner();
        Ok(tonic::Response::new(tonic_echo::Response {
            action: r.action,
            msg: r.msg,
        }))
    }

    type EchoServerStreamStream = TStream;

    async fn echo_server_stream(
        &self,
        req: tonic::Request<tonic_echo::Request>,
    ) -> Result<tonic::Response<TStream>, tonic::Status> {
        let r = req.into_inner();
        let n: usize = r.action.parse().unwrap_or(3);
        let s = futures_util::stream::iter((0..n).map(move |i| {
            Ok(tonic_echo::Response {
                action: i.to_string(),
                msg: r.msg.clone(),
            })
        }));
        Ok(tonic::Response::new(Box::pin(s)))
    }

    async fn echo_client_stream(
        &self,
        req: tonic::Request<tonic::Streaming<tonic_echo::Request>>,
    ) -> Result<tonic::Response<tonic_echo::Response>, tonic::Status> {
        let mut s = req.into_inner();
        let mut all = String::new();
        while let Some(m) = s.message().await? {
            all.push_str(&m.msg);
        }
        Ok(tonic::Response::new(tonic_echo::Response {
            action: "joined".into(),
            msg: all,
        }))
    }

    type EchoBidiStreamStream = TStream;

    async fn echo_bidi_stream(
        &self,
        req: tonic::Request<tonic::Streaming<tonic_echo::Request>>,
    ) -> Result<tonic::Response<TStream>, tonic::Status> {
        let s = req.into_inner().map(|m| {
            m.map(|m| tonic_echo::Response {
                action: m.action,
                msg: m.msg,
            })
        });
        Ok(tonic::Response::new(Box::pin(s)))
    }
}

/// The wego echo server: the same behaviour as [`TonicEcho`].
#[derive(Debug, Default, Clone, Copy)]
pub struct WegoEcho;

impl wego_echo::EchoServerHandler for WegoEcho {
    async fn echo(
        &self,
        request: wego_kitex::grpc::Request<wego_echo::Request>,
    ) -> Result<wego_kitex::grpc::Response<wego_echo::Response>, wego_kitex::grpc::Status> {
        let r = request.into_inner();
        Ok(wego_kitex::grpc::Response::new(wego_echo::Response {
            action: r.action,
            msg: r.msg,
        }))
    }

    async fn echo_server_stream(
        &self,
        request: wego_kitex::grpc::Request<wego_echo::Request>,
    ) -> Result<
        wego_kitex::grpc::Response<wego_kitex::grpc::BoxStream<wego_echo::Response>>,
        wego_kitex::grpc::Status,
    > {
        let r = request.into_inner();
        let n: usize = r.action.parse().unwrap_or(3);
        let s = futures_util::stream::iter((0..n).map(move |i| {
            Ok(wego_echo::Response {
                action: i.to_string(),
                msg: r.msg.clone(),
            })
        }));
        Ok(wego_kitex::grpc::Response::new(Box::pin(s)))
    }

    async fn echo_client_stream(
        &self,
        request: wego_kitex::grpc::Request<wego_kitex::grpc::RequestStream<wego_echo::Request>>,
    ) -> Result<wego_kitex::grpc::Response<wego_echo::Response>, wego_kitex::grpc::Status> {
        let mut s = request.into_inner();
        let mut all = String::new();
        while let Some(m) = s.message().await? {
            all.push_str(&m.msg);
        }
        Ok(wego_kitex::grpc::Response::new(wego_echo::Response {
            action: "joined".into(),
            msg: all,
        }))
    }

    async fn echo_bidi_stream(
        &self,
        request: wego_kitex::grpc::Request<wego_kitex::grpc::RequestStream<wego_echo::Request>>,
    ) -> Result<
        wego_kitex::grpc::Response<wego_kitex::grpc::BoxStream<wego_echo::Response>>,
        wego_kitex::grpc::Status,
    > {
        let s = request.into_inner().map(|m| {
            m.map(|m| wego_echo::Response {
                action: m.action,
                msg: m.msg,
            })
        });
        let mut resp = wego_kitex::grpc::Response::new(
            Box::pin(s) as wego_kitex::grpc::BoxStream<wego_echo::Response>
        );
        // It answers only after a request, and the load generator's
        // clients (tonic's and wego's) open the call before they send:
        // the headers must not wait for the first answer.
        resp.set_early_headers(true);
        Ok(resp)
    }
}
