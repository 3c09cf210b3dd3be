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
    // Read when the script runs, not baked in when it is compiled: a
    // target dir moved with its workspace reuses the compiled script.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?;
    let proto = Path::new(&manifest).join("proto");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    println!("cargo:rerun-if-changed={}", proto.display());
    let collector = proto.join("opentelemetry/proto/collector");
    wego_build::proto::Builder::new()
        .file(collector.join("trace/v1/trace_service.proto"))
        .file(collector.join("metrics/v1/metrics_service.proto"))
        .include(&proto)
        .out_dir(&out)
        .compile()?;
    for entry in std::fs::read_dir(&out)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let code = std::fs::read_to_string(&path)?;
            std::fs::write(&path, fence_indented_docs(&code))?;
        }
    }
    Ok(())
}

/// The .proto comments indent examples (JSON, key lists) by four spaces,
/// which rustdoc would compile as Rust doctests: fence them as text.
fn fence_indented_docs(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + 256);
    let mut in_block: Option<String> = None;
    for line in code.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let example = trimmed
            .strip_prefix("///")
            .is_some_and(|rest| rest.starts_with("     ") && !rest.trim().is_empty());
        match (&in_block, example) {
            (None, true) => {
                out.push_str(&format!("{indent}/// ```text\n"));
                in_block = Some(indent.to_owned());
            }
            (Some(open), false) => {
                let empty_doc = trimmed
                    .strip_prefix("///")
                    .is_some_and(|r| r.trim().is_empty());
                if !empty_doc {
                    out.push_str(&format!("{open}/// ```\n"));
                    in_block = None;
                }
            }
            _ => {}
        }
        out.push_str(line);
        out.push('\n');
    }
    if let Some(open) = in_block {
        out.push_str(&format!("{open}/// ```\n"));
    }
    out
}
