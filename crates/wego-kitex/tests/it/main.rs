#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! Integration tests of wego-kitex, one module per behaviour.
mod clock;
mod examples;
#[cfg(feature = "generic")]
mod generic;
mod grpc_call_tasks;
mod grpc_calls;
mod grpc_common;
mod grpc_compression;
mod grpc_deadline;
mod grpc_errors;
#[cfg(feature = "governance")]
mod grpc_generated;
#[cfg(feature = "governance")]
mod grpc_governance;
#[cfg(feature = "governance")]
mod grpc_governance_http;
#[cfg(feature = "governance")]
mod grpc_governance_streams;
mod grpc_interop;
mod grpc_lifecycle;
mod grpc_protobuf;
mod grpc_slow_clients;
#[cfg(feature = "governance")]
mod grpc_stream_spans;
mod grpc_trailers_only;
mod interop_one_port;
mod payload_panics;
mod protobuf_conn_timeouts;
mod seam;
#[cfg(feature = "governance")]
mod span_capture;
mod thrift_codec_stacks;
mod thrift_codegen;
mod thrift_common;
mod thrift_frame_deadline;
#[cfg(feature = "governance")]
mod thrift_governance;
mod thrift_interop;
mod thrift_metainfo;
mod thrift_server;
mod thrift_unknown_payload;
mod tls;
