//! Generates the etcd v3 client (feature `etcd`) from `proto/etcd.proto`.
//!
//! protox parses the file in Rust, so the build needs no `protoc` and does
//! not depend on whether the machine has one (or its well-known includes).

fn main() {
    #[cfg(feature = "etcd")]
    etcd();
}

#[cfg(feature = "etcd")]
fn etcd() {
    println!("cargo:rerun-if-changed=proto/etcd.proto");
    let fds = match protox::compile(["etcd.proto"], ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("proto/etcd.proto does not compile: {e}"),
    };
    if let Err(e) = tonic_prost_build::configure()
        .build_server(false)
        .build_transport(true)
        .compile_fds(fds)
    {
        panic!("cannot generate the etcd client: {e}");
    }
}
