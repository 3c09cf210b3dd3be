//! An OTLP/gRPC collector stub on wego-kitex's gRPC server, generated
//! from the vendored OpenTelemetry protos: it keeps what it receives and
//! wakes waiters on every export.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use wego_kitex::grpc::{GrpcServer, Request, Response, Status};
use wego_netpoll::{Address, rt};
use wego_otel::proto::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse, MetricsServiceHandler,
    metrics_service_router,
};
use wego_otel::proto::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse, TraceServiceHandler,
    trace_service_router,
};
use wego_otel::proto::metrics::v1::Metric;
use wego_otel::proto::trace::v1::Span;

/// What the stub received.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Every span, with its resource's `service.name`.
    pub(crate) spans: Vec<(String, Span)>,
    /// Every metric, with its resource's `service.name`.
    pub(crate) metrics: Vec<(String, Metric)>,
}

/// The stub's shared state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Collector {
    pub(crate) received: Arc<Mutex<Received>>,
    pub(crate) notify: Arc<Notify>,
}

fn service_name(resource: Option<&wego_otel::proto::resource::v1::Resource>) -> String {
    use wego_otel::proto::common::v1::any_value::Value;
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

impl Collector {
    pub(crate) fn take_spans(&self, pred: impl Fn(&Span) -> bool) -> Vec<(String, Span)> {
        let r = self.received.lock().unwrap();
        r.spans.iter().filter(|(_, s)| pred(s)).cloned().collect()
    }

    pub(crate) fn add_spans(&self, req: ExportTraceServiceRequest) {
        let mut r = self.received.lock().unwrap();
        for rs in req.resource_spans {
            let svc = service_name(rs.resource.as_ref());
            for ss in rs.scope_spans {
                for s in ss.spans {
                    r.spans.push((svc.clone(), s));
                }
            }
        }
        drop(r);
        self.notify.notify_waiters();
    }

    pub(crate) fn add_metrics(&self, req: ExportMetricsServiceRequest) {
        let mut r = self.received.lock().unwrap();
        for rm in req.resource_metrics {
            let svc = service_name(rm.resource.as_ref());
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    r.metrics.push((svc.clone(), m));
                }
            }
        }
        drop(r);
        self.notify.notify_waiters();
    }
}

impl TraceServiceHandler for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.add_spans(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

impl MetricsServiceHandler for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.add_metrics(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// Serves a stub on loopback; returns it and its address.
pub(crate) async fn start() -> (Collector, Address) {
    let collector = Collector::default();
    let router =
        trace_service_router(collector.clone()).merge(metrics_service_router(collector.clone()));
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let server = GrpcServer::default();
    rt::spawn(async move { server.serve(listener, router).await });
    (collector, addr)
}

/// Hex of an id as bytes in a span.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A string attribute of a span.
pub(crate) fn attr(span: &Span, key: &str) -> Option<String> {
    use wego_otel::proto::common::v1::any_value::Value;
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(Value::StringValue(s)) => Some(s.clone()),
            Some(Value::IntValue(i)) => Some(i.to_string()),
            Some(Value::BoolValue(b)) => Some(b.to_string()),
            Some(Value::DoubleValue(d)) => Some(d.to_string()),
            _ => None,
        })
}
