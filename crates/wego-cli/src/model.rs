//! What the renderers need from an IDL, independent of Thrift or protobuf.

/// The IDL language of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum IdlKind {
    /// `.thrift`: wego-build's Thrift generator, served over TTHeader.
    Thrift,
    /// `.proto`: wego-build's protobuf generator, served over gRPC.
    Proto,
}

impl IdlKind {
    /// The kind of `path`, from its extension.
    pub(crate) fn of(path: &std::path::Path) -> Option<IdlKind> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("thrift") => Some(IdlKind::Thrift),
            Some("proto") => Some(IdlKind::Proto),
            _ => None,
        }
    }
}

/// An IDL file to copy into the project, relative to the project's `idl/`.
#[derive(Debug, Clone)]
pub(crate) struct IdlFile {
    /// Path under `idl/`.
    pub(crate) rel: String,
    /// The text.
    pub(crate) text: String,
}

/// One RPC method as the handler file writes it.
#[derive(Debug, Clone)]
pub(crate) struct RpcMethod {
    /// The IDL name (`Echo`).
    pub(crate) idl_name: String,
    /// The Rust method name (`echo`).
    pub(crate) rust_name: String,
    /// `async fn ...(&self, ...) -> ...` without a body.
    pub(crate) signature: String,
    /// The stub body: a "not implemented" error.
    pub(crate) body: String,
    /// For the generated test: a call on the typed client `client`
    /// returning the error to check, when the method can be called with
    /// default arguments.
    pub(crate) test_call: Option<String>,
}

/// An RPC service.
#[derive(Debug, Clone)]
pub(crate) struct RpcService {
    /// Thrift or protobuf.
    pub(crate) kind: IdlKind,
    /// The IDL's file name (`echo.thrift`).
    pub(crate) idl_file: String,
    /// The files to copy into `idl/` (the main file first).
    pub(crate) files: Vec<IdlFile>,
    /// The service's IDL name (`EchoServer`, `echo.EchoServer` for gRPC).
    pub(crate) idl_name: String,
    /// The handler trait (`EchoServerHandler`).
    pub(crate) handler_trait: String,
    /// `src/generated/mod.rs`.
    pub(crate) gen_mod: String,
    /// The methods.
    pub(crate) methods: Vec<RpcMethod>,
}

/// Where an HTTP-bound field comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Source {
    /// A key of the JSON body (`api.body`, and fields without annotation).
    Body,
    /// `api.query`.
    Query,
    /// `api.path`.
    Path,
    /// `api.header`.
    Header,
    /// `api.cookie`.
    Cookie,
    /// `api.form`: a key of an urlencoded body.
    Form,
}

impl Source {
    /// The name used in 400 answers.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Source::Body => "body",
            Source::Query => "query",
            Source::Path => "path",
            Source::Header => "header",
            Source::Cookie => "cookie",
            Source::Form => "form",
        }
    }
}

/// A field's Rust type in the HTTP models.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum FieldTy {
    /// `bool`.
    Bool,
    /// An integer type (`i8` ... `i64`) or `f64`, by name; enums are `i32`.
    Num(&'static str),
    /// `String`.
    Str,
    /// `Vec<u8>`.
    Bytes,
    /// `Vec<T>` (lists and sets).
    List(Box<FieldTy>),
    /// `BTreeMap<K, V>`.
    Map(Box<FieldTy>, Box<FieldTy>),
    /// Another model.
    Model(String),
}

impl FieldTy {
    /// The Rust type.
    pub(crate) fn rust(&self) -> String {
        match self {
            FieldTy::Bool => "bool".into(),
            FieldTy::Num(n) => (*n).into(),
            FieldTy::Str => "String".into(),
            FieldTy::Bytes => "Vec<u8>".into(),
            FieldTy::List(t) => format!("Vec<{}>", t.rust()),
            FieldTy::Map(k, v) => {
                format!("::std::collections::BTreeMap<{}, {}>", k.rust(), v.rust())
            }
            FieldTy::Model(m) => m.clone(),
        }
    }

    /// Whether the value is parsed from one string (query, path, header,
    /// cookie, form).
    pub(crate) fn is_scalar(&self) -> bool {
        matches!(self, FieldTy::Bool | FieldTy::Num(_) | FieldTy::Str)
    }
}

/// Whether a field must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Presence {
    /// Absent → 400.
    Required,
    /// `Option<T>`.
    Optional,
    /// Absent → `Default::default()`.
    Default,
}

/// One field of an HTTP model.
#[derive(Debug, Clone)]
pub(crate) struct ModelField {
    /// The Rust field name.
    pub(crate) rust: String,
    /// The JSON key.
    pub(crate) json: String,
    /// Where binding reads it, and under which name.
    pub(crate) source: Source,
    /// The key in that source.
    pub(crate) key: String,
    /// The type.
    pub(crate) ty: FieldTy,
    /// Whether it must be present.
    pub(crate) presence: Presence,
    /// The compiled `api.vd` rule and the text a failure reports.
    pub(crate) vd: Option<(String, String)>,
}

/// A struct of the HTTP API.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// The Rust name.
    pub(crate) name: String,
    /// The fields.
    pub(crate) fields: Vec<ModelField>,
}

/// An enum of the HTTP API (carried as `i32`).
#[derive(Debug, Clone)]
pub(crate) struct EnumModel {
    /// The Rust name.
    pub(crate) name: String,
    /// Values.
    pub(crate) values: Vec<(String, i32)>,
}

/// One route.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// `GET`, `POST`, ...
    pub(crate) method: String,
    /// The path pattern (`/users/:id`).
    pub(crate) path: String,
    /// The IDL method.
    pub(crate) idl_name: String,
    /// The handler function's name.
    pub(crate) handler: String,
    /// The request model, if the method takes one.
    pub(crate) request: Option<String>,
    /// The response model, if the method returns one.
    pub(crate) response: Option<String>,
}

/// An HTTP API.
#[derive(Debug, Clone)]
pub(crate) struct HttpApi {
    /// The IDL's file name.
    pub(crate) idl_file: String,
    /// The files to copy into `idl/`.
    pub(crate) files: Vec<IdlFile>,
    /// The service's IDL name.
    pub(crate) service: String,
    /// Models in dependency-free order.
    pub(crate) models: Vec<Model>,
    /// Enums.
    pub(crate) enums: Vec<EnumModel>,
    /// Routes in IDL order.
    pub(crate) routes: Vec<Route>,
}
