//! One trace across HTTP → Thrift → gRPC, exported over OTLP/gRPC to the
//! stub collector: a hertz handler calls a Thrift service whose handler
//! calls a gRPC service, and every hop's span points at the previous
//! hop's span.

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;
use tracing_subscriber::layer::SubscriberExt;
use wego_governance::trace::{TraceContext, TraceLayer};
use wego_hertz::Router;
use wego_hertz::governance::{GovernanceLayer, RequestTrace};
use wego_idl_gen::echo::echo_service::{EchoServerClient, EchoServerHandler, EchoServerServer};
use wego_idl_gen::echo::echo_types::echo::{Request, Response};
use wego_idl_gen::echo_proto;
use wego_kitex::grpc::{self, GovernedClient, GrpcServer, ServerTraceLayer};
use wego_kitex::metainfo::{self, CallContext, MetaInfo};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Dialer, rt};
use wego_otel::proto::trace::v1::span::SpanKind;
use wego_otel::{Endpoint, Telemetry};

use super::collector::{self, attr, hex};

const GRPC_ECHO: &str = "/echo.EchoServer/Echo";

/// The gRPC hop.
struct GrpcEcho;

impl echo_proto::EchoServerHandler for GrpcEcho {
    async fn echo(
        &self,
        request: grpc::Request<echo_proto::Request>,
    ) -> Result<grpc::Response<echo_proto::Response>, grpc::Status> {
        let r = request.into_inner();
        Ok(grpc::Response::new(echo_proto::Response {
            action: r.action,
            msg: format!("grpc:{}", r.msg),
        }))
    }
    async fn echo_server_stream(
        &self,
        _request: grpc::Request<echo_proto::Request>,
    ) -> Result<grpc::Response<grpc::BoxStream<echo_proto::Response>>, grpc::Status> {
        Err(grpc::Status::unimplemented("not used"))
    }
    async fn echo_client_stream(
        &self,
        _request: grpc::Request<grpc::RequestStream<echo_proto::Request>>,
    ) -> Result<grpc::Response<echo_proto::Response>, grpc::Status> {
        Err(grpc::Status::unimplemented("not used"))
    }
    async fn echo_bidi_stream(
        &self,
        _request: grpc::Request<grpc::RequestStream<echo_proto::Request>>,
    ) -> Result<grpc::Response<grpc::BoxStream<echo_proto::Response>>, grpc::Status> {
        Err(grpc::Status::unimplemented("not used"))
    }
}

/// The Thrift hop: calls the gRPC hop through a traced client.
struct Forward(grpc::Channel);

impl EchoServerHandler for Forward {
    async fn echo(&self, req: Request) -> Result<Response, wego_kitex::BoxError> {
        let stack = TraceLayer::client()
            .with_system("grpc")
            .layer(self.0.clone());
        let mut client = GovernedClient::new(stack);
        let r: grpc::Response<echo_proto::Response> = client
            .unary(
                GRPC_ECHO,
                grpc::Request::new(echo_proto::Request {
                    action: "echo".into(),
                    msg: req.msg.to_string(),
                }),
            )
            .await
            .map_err(|s| format!("grpc: {s:?}"))?;
        Ok(Response {
            action: req.action,
            msg: format!("thrift:{}", r.into_inner().msg).into(),
        })
    }
    async fn notify(&self, _req: Request) -> Result<(), wego_kitex::BoxError> {
        Ok(())
    }
}

#[test]
fn one_trace_spans_http_thrift_and_grpc_with_parent_links() {
    rt::block_on(async {
        let (collector, collector_addr) = collector::start().await;
        let telemetry = Telemetry::builder("chain")
            .with_resource_attribute("service.version", "9.9.9")
            .with_endpoint(Endpoint::Grpc(collector_addr))
            .with_batch_delay(Duration::from_millis(20))
            .build()
            .unwrap();
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(telemetry.layer()),
        )
        .expect("the only test that installs a global subscriber");

        // gRPC server.
        let listener = wego_test_support::loopback().await;
        let grpc_addr = listener.local_addr().clone();
        let g = GrpcServer::default();
        rt::spawn(async move {
            g.serve(
                listener,
                ServerTraceLayer.layer(echo_proto::echo_server_router(GrpcEcho)),
            )
            .await
        });
        let channel = grpc::Channel::connect(&grpc_addr).await.unwrap();

        // Thrift server.
        let thrift = wego_kitex::server::Server::builder()
            .add_service(EchoServerServer::new(Forward(channel)))
            .build()
            .unwrap();
        let listener = wego_test_support::loopback().await;
        let thrift_addr = listener.local_addr().clone();
        rt::spawn(async move { thrift.serve(listener).await });
        let thrift_client = wego_kitex::client::Client::builder(thrift_addr)
            .build()
            .unwrap();

        // HTTP server: the handler calls the Thrift hop inside a call
        // context carrying its trace, as a kitex server would.
        let app = Router::new().group("/api", move |g| {
            g.layer(GovernanceLayer::new("front"))
                .get("/hop", move |trace: RequestTrace| {
                    let stack = TraceLayer::client()
                        .with_system("thrift")
                        .layer(thrift_client.clone());
                    async move {
                        let mut meta = MetaInfo::new();
                        trace.context.inject(&mut meta, None);
                        let cx = Arc::new(CallContext {
                            metainfo: meta,
                            ..Default::default()
                        });
                        let client = EchoServerClient::new(stack);
                        let r = metainfo::scope(
                            cx,
                            client.echo(Request {
                                action: "echo".into(),
                                msg: "hi".into(),
                            }),
                        )
                        .await
                        .unwrap();
                        r.msg.to_string()
                    }
                })
        });
        let listener = wego_test_support::loopback().await;
        let http_addr = listener.local_addr().clone();
        let http = wego_hertz::Server::builder().build().unwrap();
        rt::spawn(async move { http.serve(listener, app).await });

        // The caller: its own span id is the HTTP server span's parent.
        let caller = TraceContext::new_root();
        let mut conn = Dialer::new().dial(&http_addr).await.unwrap();
        let head = format!(
            "GET /api/hop HTTP/1.1\r\nHost: x\r\ntraceparent: {caller}\r\nConnection: close\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        let mut resp = Vec::new();
        conn.read_to_end(&mut resp).await.unwrap();
        let resp = String::from_utf8_lossy(&resp);
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(resp.ends_with("thrift:grpc:hi"), "{resp}");

        // Wait for the six spans of this trace.
        let trace_id = caller.trace_id.to_vec();
        let spans = loop {
            let notified = collector.notify.notified();
            telemetry.flush().await.unwrap();
            let spans = collector.take_spans(|s| s.trace_id == trace_id);
            if spans.len() >= 6 {
                break spans;
            }
            notified.await;
        };
        assert_eq!(spans.len(), 6, "{spans:#?}");
        assert!(spans.iter().all(|(svc, _)| svc == "chain"));
        let find = |name: &str, kind: SpanKind, system: Option<&str>| {
            spans
                .iter()
                .map(|(_, s)| s)
                .find(|s| {
                    s.name == name
                        && s.kind == kind as i32
                        && attr(s, "rpc.system").as_deref() == system
                })
                .unwrap_or_else(|| panic!("no {name} {kind:?} {system:?} in {spans:#?}"))
                .clone()
        };
        let http_server = find("wego.serve", SpanKind::Server, None);
        let http_route = find("wego.call", SpanKind::Internal, None);
        let thrift_client = find("wego.call", SpanKind::Client, Some("thrift"));
        let thrift_server = find("wego.serve", SpanKind::Server, Some("thrift"));
        let grpc_client = find("wego.call", SpanKind::Client, Some("grpc"));
        let grpc_server = find("wego.serve", SpanKind::Server, Some("grpc"));

        // Parent links, hop by hop.
        assert_eq!(hex(&http_server.parent_span_id), hex(&caller.span_id));
        let chain = [
            (&http_route, &http_server),
            (&thrift_client, &http_route),
            (&thrift_server, &thrift_client),
            (&grpc_client, &thrift_server),
            (&grpc_server, &grpc_client),
        ];
        for (child, parent) in chain {
            assert_eq!(
                hex(&child.parent_span_id),
                hex(&parent.span_id),
                "{} {:?} should be a child of {} {:?}",
                child.name,
                attr(child, "rpc.system"),
                parent.name,
                attr(parent, "rpc.system")
            );
        }

        // Attributes.
        assert_eq!(
            attr(&http_server, "http.request.method").as_deref(),
            Some("GET")
        );
        assert_eq!(
            attr(&http_server, "http.route").as_deref(),
            Some("/api/hop")
        );
        assert_eq!(
            attr(&http_server, "http.response.status_code").as_deref(),
            Some("200")
        );
        assert_eq!(attr(&http_route, "wego.status").as_deref(), Some("ok"));
        assert_eq!(attr(&thrift_client, "rpc.method").as_deref(), Some("Echo"));
        assert_eq!(attr(&thrift_server, "rpc.method").as_deref(), Some("Echo"));
        assert_eq!(attr(&grpc_client, "rpc.method").as_deref(), Some("Echo"));
        assert_eq!(
            attr(&grpc_client, "rpc.service").as_deref(),
            Some("echo.EchoServer")
        );
        assert_eq!(attr(&grpc_server, "rpc.method").as_deref(), Some("Echo"));
        assert_eq!(attr(&grpc_client, "wego.status").as_deref(), Some("ok"));
        for (_, s) in &spans {
            assert!(s.end_time_unix_nano >= s.start_time_unix_nano, "{s:?}");
        }
        assert_eq!(telemetry.stats().failures(), 0);
        assert!(telemetry.stats().spans() >= 6);
        telemetry.shutdown().await.unwrap();
    })
    .unwrap();
}
