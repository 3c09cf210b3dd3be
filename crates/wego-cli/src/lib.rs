//! The `wego` command: service projects scaffolded from IDL, as Kitex's
//! `kitex -service` and Hertz's `hz new` do for Go.
//!
//! - [`new_project`] (`wego new rpc|http`) writes a complete Cargo project
//!   from a `.thrift` or `.proto` file: generated code under `src/generated/`,
//!   handler stubs that answer "not implemented", a server with metrics
//!   and graceful shutdown, a loopback test, and a README.
//! - [`update_project`] (`wego update`) regenerates `src/generated/` and appends
//!   stubs for new methods or routes, never rewriting code the user wrote.
//!
//! HTTP projects follow Hertz's annotations (`api.get`, `api.query`,
//! `api.vd`, ...), written in Thrift or as hz's `api.proto` options in
//! protobuf; [`vd`] compiles the validation expressions. See
//! `docs/cli.md` for the generated layout and the decisions behind it.

mod error;
mod model;
mod names;
mod project;
mod proto;
mod proto_http;
mod render;
mod thrift;
pub mod vd;
mod workspace;

pub use error::{Error, Result};
pub use project::{Kind, NewOptions, Report, UpdateOptions, new_project, update_project};
pub use render::Deps;
pub use workspace::find_wego_root;
