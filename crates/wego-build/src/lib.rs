//! `build.rs` code generation for wego-kitex from .thrift files.
//!
//! For every IDL file it generates, into `OUT_DIR/<stem>.rs`:
//!
//! - the types, by pilota-build 0.13 (structs, unions, enums, exceptions,
//!   typedefs, consts; unused types are skipped, pilota's default, which
//!   also sidesteps its `OptionalBinary`/`CrazyNesting` failures on
//!   ThriftTest.thrift);
//! - per service `S`: argument and result structs (`SMethodArgs`,
//!   `SMethodResult`, synthesised as IDL so that pilota encodes them), a
//!   handler trait `SHandler` with async methods, a `tower::Service`
//!   `SServer<H>` to register on `wego_kitex::server::Server`, and a typed
//!   client `SClient`.
//!
//! ```ignore
//! // build.rs
//! fn main() {
//!     wego_build::thrift().compile(&["idl/echo.thrift"]).unwrap();
//! }
//! // lib.rs
//! include!(concat!(env!("OUT_DIR"), "/echo.rs"));
//! ```

mod gen_service;
mod idl;
pub mod names;
/// Code generation from `.proto` files for `wego_kitex::grpc` (protox + prost-build).
pub mod proto;

use std::path::{Path, PathBuf};

/// The pilota module of a file: its `rs` namespace (dots become nested
/// modules; the first segment is matched), else its lower-cased stem, else
/// the first module pilota wrote.
fn module_for(modules: &[&str], ns: Option<&str>, stem: &str) -> String {
    let wanted = ns
        .map(|n| n.split('.').next().unwrap_or(n).to_owned())
        .unwrap_or_else(|| stem.to_lowercase());
    modules
        .iter()
        .find(|m| **m == wanted)
        .or_else(|| modules.first())
        .map(|m| (*m).to_owned())
        .unwrap_or(wanted)
}

/// Starts configuring Thrift code generation.
pub fn thrift() -> Builder {
    Builder {
        include_dirs: Vec::new(),
        out_dir: None,
    }
}

/// Configures and runs code generation.
#[derive(Debug, Clone)]
pub struct Builder {
    include_dirs: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
}

/// Why generation failed.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl Builder {
    /// Adds a directory searched for `include`d files.
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.include_dirs.push(dir.into());
        self
    }

    /// Writes output to `dir` instead of `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Generates code for each file; returns the written paths.
    ///
    /// # Errors
    ///
    /// Fails when a file cannot be read or parsed, or `OUT_DIR` is unset.
    pub fn compile(&self, files: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, Error> {
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => PathBuf::from(
                std::env::var_os("OUT_DIR").ok_or_else(|| Error("OUT_DIR is not set".into()))?,
            ),
        };
        files
            .iter()
            .map(|f| self.compile_one(f.as_ref(), &out_dir))
            .collect()
    }

    fn compile_one(&self, file: &Path, out_dir: &Path) -> Result<PathBuf, Error> {
        let src = std::fs::read_to_string(file)
            .map_err(|e| Error(format!("reading {}: {e}", file.display())))?;
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| Error("bad file name".into()))?;
        let services =
            idl::services(&src).map_err(|e| Error(format!("{}: {e}", file.display())))?;
        let (extra, touched) = gen_service::synthesize_idl(&services);
        let work = out_dir.join("wego_idl");
        std::fs::create_dir_all(&work).map_err(|e| Error(e.to_string()))?;
        let idl_copy = work.join(file.file_name().unwrap_or_default());
        std::fs::write(&idl_copy, format!("{src}\n{extra}")).map_err(|e| Error(e.to_string()))?;
        let types = out_dir.join(format!("{stem}_types.rs"));
        let mut dirs = self.include_dirs.clone();
        if let Some(parent) = file.parent() {
            dirs.push(parent.to_path_buf());
        }
        pilota_build::Builder::thrift()
            .include_dirs(dirs)
            .touch([(idl_copy.clone(), touched)])
            .compile([&idl_copy], pilota_build::Output::File(types.clone()));
        let types_src = std::fs::read_to_string(&types).map_err(|e| Error(e.to_string()))?;
        // pilota's decoders fill numeric vectors through raw pointers; let
        // crates that deny `unsafe_code` (as wego's workspace does) include
        // the output. Sizes reach them only after wego-kitex's checks.
        let types_src = types_src.replacen(
            "#![allow(warnings, clippy::all)]",
            "#![allow(warnings, clippy::all, unsafe_code, clippy::undocumented_unsafe_blocks)]",
            1,
        );
        // pilota names the inner module itself (from `namespace rs`, else
        // the file name): read it back from its output.
        let modules: Vec<&str> = types_src
            .lines()
            .filter(|l| l.starts_with("    pub mod "))
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("pub mod ")
                    .and_then(|r| r.strip_suffix(" {"))
            })
            .collect();
        let module = module_for(&modules, idl::rs_namespace(&src).as_deref(), stem);
        let mut includes = std::collections::HashMap::new();
        for inc in idl::includes(&src) {
            let local = file
                .parent()
                .map(|p| p.join(&inc))
                .unwrap_or_else(|| PathBuf::from(&inc));
            let inc_src = std::fs::read_to_string(&local)
                .ok()
                .or_else(|| {
                    self.include_dirs
                        .iter()
                        .find_map(|d| std::fs::read_to_string(d.join(&inc)).ok())
                })
                .ok_or_else(|| Error(format!("cannot read include {inc}")))?;
            let inc_stem = Path::new(&inc)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            let inc_module =
                module_for(&modules, idl::rs_namespace(&inc_src).as_deref(), &inc_stem);
            includes.insert(inc_stem, inc_module);
        }
        let services_src = gen_service::generate(stem, &module, includes, &services);
        let out = out_dir.join(format!("{stem}.rs"));
        std::fs::write(&out, format!("{types_src}\n{services_src}"))
            .map_err(|e| Error(e.to_string()))?;
        Ok(out)
    }
}
