//! Golden files for `.proto` generation: the echo and gRPC interop IDL.
//!
//! Run with `WEGO_BLESS=1` to rewrite the golden files after an intended
//! change. The `wego-idl-gen` crate generates the same IDL in its build
//! script and wego-kitex's examples and tests compile and run that output.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(name: &str, code: &str) {
    let bless = std::env::var_os("WEGO_BLESS").is_some();
    let path = root()
        .join("crates/wego-build/tests/golden/proto")
        .join(name);
    if bless {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, code).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "missing golden file {}: {e} (run with WEGO_BLESS=1)",
            path.display()
        )
    });
    assert!(
        want == code,
        "{} differs from the generated code (run with WEGO_BLESS=1 after checking)",
        path.display()
    );
}

#[test]
fn echo_proto_matches_golden() {
    let idl = root().join("idl");
    let out = wego_build::proto::Builder::new()
        .file(idl.join("echo.proto"))
        .include(&idl)
        .generate()
        .unwrap();
    assert_eq!(out.keys().collect::<Vec<_>>(), ["echo.rs"]);
    let code = &out["echo.rs"];
    // prost-build pretty-prints; compare without whitespace.
    let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    for needle in [
        "pub trait EchoServerHandler",
        "fn echo_bidi_stream(&self, request: ::wego_kitex::grpc::Request<::wego_kitex::grpc::RequestStream<Request>>,)",
        "pub fn echo_server_router<S: EchoServerHandler>",
        ".client_streaming(\"/echo.EchoServer/EchoClientStream\"",
        "pub struct EchoServerClient",
    ] {
        let needle: String = needle.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(flat.contains(&needle), "missing {needle:?}");
    }
    check("echo.rs", code);
}

#[test]
fn grpc_testing_proto_matches_golden() {
    let idl = root().join("idl/grpc/testing");
    let out = wego_build::proto::Builder::new()
        .file(idl.join("test.proto"))
        .include(&idl)
        .generate()
        .unwrap();
    assert_eq!(out.keys().collect::<Vec<_>>(), ["grpc.testing.rs"]);
    let code = &out["grpc.testing.rs"];
    assert!(code.contains("pub trait TestServiceHandler"));
    assert!(code.contains("pub trait UnimplementedService"));
    assert!(code.contains("pub struct ReconnectServiceClient"));
    check("grpc.testing.rs", code);
}

#[test]
fn broken_proto_is_a_parse_error() {
    let dir = std::env::temp_dir().join(format!("wego-build-proto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.proto");
    std::fs::write(&f, "syntax = \"proto3\"; message M { string a = ; }").unwrap();
    let err = wego_build::proto::Builder::new()
        .file(&f)
        .include(&dir)
        .generate()
        .unwrap_err();
    assert!(
        matches!(err, wego_build::proto::ProtoError::Parse(_)),
        "{err}"
    );
    let err = wego_build::proto::Builder::new()
        .file(dir.join("missing.proto"))
        .include(&dir)
        .generate()
        .unwrap_err();
    assert!(
        matches!(err, wego_build::proto::ProtoError::Parse(_)),
        "{err}"
    );
}
