//! Compiles the vendored OpenTelemetry protocol definitions (`proto/`)
//! with wego-build: prost messages plus wego-kitex gRPC clients and
//! servers for the trace and metrics collector services.

use std::path::{Path, PathBuf};

fn main() {
    if let Err(e) = generate() {
        eprintln!("wego-otel: {e}");
        std::process::exit(1);
    }
}

fn generate() -> Result<(), Box<dyn std::error::Error>> {
    // The generated services call wego-kitex, a dependency of `grpc` only.
    if std::env::var_os("CARGO_FEATURE_GRPC").is_none() {
        return Ok(());
    }
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    println!("cargo:rerun-if-changed={}", proto.display());
    let collector = proto.join("opentelemetry/proto/collector");
    wego_build::proto::Builder::new()
        .file(collector.join("trace/v1/trace_service.proto"))
        .file(collector.join("metrics/v1/metrics_service.proto"))
        .include(&proto)
        .out_dir(&out)
        .compile()?;
    Ok(())
}
