//! Generates volo-thrift's echo client and server from idl/echo.thrift.

fn main() {
    let idl = "../../../idl/echo.thrift";
    volo_build::Builder::thrift()
        .add_service(idl)
        .write()
        .expect("volo codegen");
    println!("cargo:rerun-if-changed={idl}");
}
