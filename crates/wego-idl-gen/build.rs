//! Runs wego-build on the repository's IDL folder (`idl/` at the root),
//! as a user's `build.rs` does: Thrift output goes to `OUT_DIR/thrift/`,
//! protobuf output (one file per package) to `OUT_DIR/proto/`.

use std::path::{Path, PathBuf};

fn main() {
    if let Err(e) = generate() {
        // A build script reports failure by exiting non-zero with a message.
        eprintln!("wego-idl-gen: {e}");
        std::process::exit(1);
    }
}

fn generate() -> Result<(), Box<dyn std::error::Error>> {
    // Read when the script runs, not baked in when it is compiled: a
    // target dir moved with its workspace reuses the compiled script.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?;
    let idl = Path::new(&manifest).join("../../idl");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    // Cargo rescans a directory named here, so any IDL change regenerates.
    println!("cargo:rerun-if-changed={}", idl.display());

    let thrift_out = out.join("thrift");
    std::fs::create_dir_all(&thrift_out)?;
    wego_build::thrift().out_dir(&thrift_out).compile(&[
        idl.join("echo.thrift"),
        idl.join("ThriftTest.thrift"),
        idl.join("store.thrift"),
    ])?;

    let proto_out = out.join("proto");
    std::fs::create_dir_all(&proto_out)?;
    let grpc = idl.join("grpc/testing");
    wego_build::proto::Builder::new()
        .file(idl.join("echo.proto"))
        .include(&idl)
        .out_dir(&proto_out)
        .compile()?;
    wego_build::proto::Builder::new()
        .file(grpc.join("test.proto"))
        .include(&grpc)
        .out_dir(&proto_out)
        .compile()?;
    Ok(())
}
