//! What the renderers need from an IDL, independent of Thrift or protobuf.

use crate::vd;

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
    /// The IDL field name.
    pub(crate) idl: String,
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
    /// The compiled `api.vd` rule.
    pub(crate) vd: Option<VdCheck>,
}

/// A compiled `api.vd` rule of one field.
#[derive(Debug, Clone)]
pub(crate) struct VdCheck {
    /// The condition over `__v` (the field) and `__r0`, `__r1`, ...
    pub(crate) cond: String,
    /// A Rust expression converting into `String`: the 400's reason.
    pub(crate) msg: String,
    /// The rule as the field's documentation states it.
    pub(crate) doc: String,
    /// The fields `__r0`, `__r1`, ... read: Rust name and presence.
    pub(crate) refs: Vec<(String, Presence)>,
}

/// Whether a field of type `ty` can be bound from `source`: query, path,
/// header, cookie and form values are scalars (a query may repeat a key
/// for a list of them); the JSON body takes any type.
pub(crate) fn check_binding(
    owner: &str,
    field: &str,
    source: &Source,
    ty: &FieldTy,
) -> Result<(), String> {
    let list_of_scalars = matches!(ty, FieldTy::List(t) if t.is_scalar());
    let ok = match source {
        Source::Body => true,
        Source::Query => ty.is_scalar() || list_of_scalars,
        _ => ty.is_scalar(),
    };
    if ok {
        return Ok(());
    }
    Err(format!(
        "{owner}.{field} is bound from the {} but is {}, expected bool, a number or string{}",
        source.as_str(),
        ty.rust(),
        if *source == Source::Query {
            " (or a list of them)"
        } else {
            ""
        }
    ))
}

/// The `vd` kind of a field type; `None` for structs.
fn vd_kind(ty: &FieldTy) -> Option<vd::emit::FieldKind> {
    use vd::emit::FieldKind;
    Some(match ty {
        FieldTy::Num(_) => FieldKind::Num,
        FieldTy::Str => FieldKind::Str,
        FieldTy::Bool => FieldKind::Bool,
        FieldTy::Bytes | FieldTy::List(_) | FieldTy::Map(..) => FieldKind::Seq,
        FieldTy::Model(_) => return None,
    })
}

/// Why an `api.vd` rule was refused.
#[derive(Debug)]
pub(crate) enum VdRefused {
    /// The rule is on a struct-typed field.
    OnStruct,
    /// The rule does not parse or type-check.
    Invalid(vd::VdError),
}

/// Compiles the `api.vd` rule `text` of `fields[idx]` in struct `owner`.
/// `(NAME)$` names another field of `fields` by its IDL name or by the Go
/// name hz gives it (`user_name` → `UserName`).
pub(crate) fn compile_vd(
    owner: &str,
    fields: &[ModelField],
    idx: usize,
    text: &str,
) -> Result<VdCheck, VdRefused> {
    let kind = vd_kind(&fields[idx].ty).ok_or(VdRefused::OnStruct)?;
    let find = |name: &str| {
        fields
            .iter()
            .find(|f| f.idl == name)
            .or_else(|| fields.iter().find(|f| crate::names::camel(&f.idl) == name))
    };
    let lookup = |name: &str| -> Result<(String, vd::emit::FieldKind), String> {
        if name.contains('.') {
            return Err(format!(
                "`({name})$` reaches into another struct, expected a field of {owner}"
            ));
        }
        let f = find(name).ok_or_else(|| {
            let names: Vec<&str> = fields.iter().map(|f| f.idl.as_str()).collect();
            format!(
                "no field `{name}` in {owner}, expected one of {}",
                names.join(", ")
            )
        })?;
        let kind = vd_kind(&f.ty).ok_or_else(|| {
            format!(
                "field `{name}` of {owner} is a struct, expected a number, string, bool or container field"
            )
        })?;
        Ok((f.idl.clone(), kind))
    };
    let rule = vd::parse(text).map_err(VdRefused::Invalid)?;
    let mut c = vd::emit::Compiler::new(kind, &lookup);
    let cond = c.condition(&rule.expr).map_err(VdRefused::Invalid)?;
    let (msg, doc) = match &rule.msg {
        Some(vd::Expr::Str(s, _)) => (format!("{s:?}"), s.clone()),
        Some(m) => (
            c.message(m).map_err(VdRefused::Invalid)?,
            format!("must satisfy `{text}`"),
        ),
        None => {
            let d = format!("must satisfy `{text}`");
            (format!("{d:?}"), d)
        }
    };
    let refs = c
        .refs()
        .iter()
        .filter_map(|name| find(name))
        .map(|f| (f.rust.clone(), f.presence))
        .collect();
    Ok(VdCheck {
        cond,
        msg,
        doc: doc.replace(['\n', '\r'], " "),
        refs,
    })
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
