//! Generates tonic's echo client and server from idl/echo.proto, and its
//! interop TestService (idl/grpc/testing) for the interop tests, parsed by
//! protox so that no protoc is needed.

fn main() {
    let idl = "../../../idl";
    let fds = protox::compile([format!("{idl}/echo.proto")], [idl]).expect("echo.proto compiles");
    tonic_prost_build::configure()
        .compile_fds(fds)
        .expect("tonic codegen");
    let testing = format!("{idl}/grpc/testing");
    let fds = protox::compile([format!("{testing}/test.proto")], [testing.as_str()])
        .expect("test.proto compiles");
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(fds)
        .expect("tonic codegen for grpc.testing");
    println!("cargo:rerun-if-changed={idl}/echo.proto");
    println!("cargo:rerun-if-changed={testing}");
}
