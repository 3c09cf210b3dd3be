//! Generates tonic's echo client and server from idl/echo.proto, parsed by
//! protox so that no protoc is needed.

fn main() {
    let idl = "../../../crates/wego-kitex/idl";
    let fds = protox::compile([format!("{idl}/echo.proto")], [idl]).expect("echo.proto compiles");
    tonic_prost_build::configure()
        .compile_fds(fds)
        .expect("tonic codegen");
    println!("cargo:rerun-if-changed={idl}/echo.proto");
}
