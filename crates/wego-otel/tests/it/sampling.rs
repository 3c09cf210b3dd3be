//! Parent-based ratio sampling and the span mapping, on spans made in the
//! test thread with a subscriber of the test's own.

use tracing_subscriber::layer::SubscriberExt;
use wego_governance::trace::TraceContext;
use wego_netpoll::rt;
use wego_otel::proto::trace::v1::span::SpanKind;
use wego_otel::proto::trace::v1::status::StatusCode;
use wego_otel::{Endpoint, Telemetry};

use super::collector::{self, attr, hex};

#[test]
fn ratio_zero_drops_new_traces_but_follows_a_sampled_caller() {
    rt::block_on(async {
        let (collector, addr) = collector::start().await;
        let telemetry = Telemetry::builder("sampled")
            .with_sampling_ratio(0.0)
            .with_endpoint(Endpoint::Grpc(addr))
            .build()
            .unwrap();
        let caller = TraceContext::new_root();
        let unsampled_caller = TraceContext {
            flags: 0,
            ..TraceContext::new_root()
        };
        let subscriber = tracing_subscriber::registry().with(telemetry.layer());
        tracing::subscriber::with_default(subscriber, || {
            // A new trace: the ratio says no, for it and its children.
            let root = tracing::info_span!("wego.serve", otel.kind = "server");
            root.in_scope(|| drop(tracing::info_span!("wego.call", status = "ok")));
            drop(root);
            // A caller's sampled traceparent: followed, children too.
            let server = tracing::info_span!(
                "wego.serve",
                trace_id = %caller.trace_id_hex(),
                parent_span_id = %caller.span_id_hex(),
                otel.kind = "server",
            );
            server.in_scope(|| {
                drop(tracing::info_span!(
                    "wego.call",
                    otel.kind = "client",
                    status = "timeout",
                    span_id = %"00f067aa0ba902b7",
                ))
            });
            drop(server);
            // A caller that did not sample: not exported.
            drop(tracing::info_span!(
                "wego.serve",
                trace_id = %unsampled_caller.trace_id_hex(),
                parent_span_id = %unsampled_caller.span_id_hex(),
                trace_flags = %unsampled_caller.flags_hex(),
            ));
            // Not a wego span: never exported.
            drop(tracing::info_span!("other", trace_id = %caller.trace_id_hex()));
        });
        telemetry.flush().await.unwrap();
        let spans = collector.take_spans(|_| true);
        assert_eq!(spans.len(), 2, "{spans:#?}");
        let server = &spans
            .iter()
            .find(|(_, s)| s.name == "wego.serve")
            .unwrap()
            .1;
        let call = &spans.iter().find(|(_, s)| s.name == "wego.call").unwrap().1;
        assert_eq!(hex(&server.trace_id), caller.trace_id_hex());
        assert_eq!(hex(&server.parent_span_id), caller.span_id_hex());
        assert_eq!(server.kind, SpanKind::Server as i32);
        // The client span keeps the id it recorded, under its parent.
        assert_eq!(hex(&call.span_id), "00f067aa0ba902b7");
        assert_eq!(call.parent_span_id, server.span_id);
        assert_eq!(call.kind, SpanKind::Client as i32);
        let status = call.status.clone().unwrap();
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "timeout");
        assert_eq!(attr(call, "wego.status").as_deref(), Some("timeout"));
        telemetry.shutdown().await.unwrap();
    })
    .unwrap();
}

/// `TraceContext::new_root` under the layer's subscriber carries the
/// layer's decision, so a trace the ratio drops is sent on as unsampled
/// and a kept one as sampled, and exactly the kept ones are exported.
#[test]
fn new_roots_carry_the_layers_sampling_decision() {
    rt::block_on(async {
        let (collector, addr) = collector::start().await;
        let telemetry = Telemetry::builder("roots")
            .with_sampling_ratio(0.5)
            .with_endpoint(Endpoint::Grpc(addr))
            .build()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(telemetry.layer());
        let roots: Vec<TraceContext> = tracing::subscriber::with_default(subscriber, || {
            (0..200)
                .map(|_| {
                    let root = TraceContext::new_root();
                    drop(tracing::info_span!(
                        "wego.serve",
                        trace_id = %root.trace_id_hex(),
                        otel.kind = "server",
                    ));
                    root
                })
                .collect()
        });
        telemetry.flush().await.unwrap();
        let mut exported: Vec<String> = collector
            .take_spans(|_| true)
            .iter()
            .map(|(_, s)| hex(&s.trace_id))
            .collect();
        exported.sort();
        let mut sampled: Vec<String> = roots
            .iter()
            .filter(|r| r.is_sampled())
            .map(TraceContext::trace_id_hex)
            .collect();
        sampled.sort();
        // Both decisions exist at a ratio of one half.
        assert!(!sampled.is_empty() && sampled.len() < roots.len());
        assert_eq!(exported, sampled);
        // Without the layer, a new trace is sampled.
        assert!(TraceContext::new_root().is_sampled());
        telemetry.shutdown().await.unwrap();
    })
    .unwrap();
}
