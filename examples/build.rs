//! Generates the echo service's Rust code from the repository's
//! `idl/echo.thrift`, as a wego user's `build.rs` does.

fn main() {
    println!("cargo:rerun-if-changed=../idl/echo.thrift");
    if let Err(e) = wego_build::thrift().compile(&["../idl/echo.thrift"]) {
        // A build script reports failure by exiting non-zero with a message.
        eprintln!("wego-build failed on ../idl/echo.thrift: {e}");
        std::process::exit(1);
    }
}
