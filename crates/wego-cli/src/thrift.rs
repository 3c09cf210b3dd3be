//! Thrift IDL: checked and resolved by wego-kitex's generic loader (which
//! reports file, line and column), annotations read from pilota's parser.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path};

use pilota_thrift_parser as ast;
use wego_kitex::generic::{Descriptor, Idl, IdlError, Requiredness, StructId, Type};

use crate::error::{Error, Result, line_col};
use crate::model::{
    EnumModel, FieldTy, HttpApi, IdlFile, IdlKind, Model, ModelField, Presence, Route, RpcMethod,
    RpcService, Source, VdCheck, VdRefused, check_binding, compile_vd,
};
use crate::names::{camel, is_ident, snake, snake_raw, thrift_ident, upper_first};

/// One parsed file.
struct File {
    /// The name errors use.
    name: String,
    /// Path relative to the main file's directory.
    rel: String,
    /// Include scope (the file stem).
    scope: String,
    src: String,
    ast: ast::File,
}

/// A loaded Thrift IDL: the main file, its includes and the service.
pub(crate) struct Thrift {
    files: Vec<File>,
    desc: Descriptor,
    stem: String,
}

fn map_idl_error(e: IdlError) -> Error {
    match e {
        IdlError::Syntax {
            file,
            line,
            column,
            message,
        }
        | IdlError::Resolve {
            file,
            line,
            column,
            message,
        } => Error::Idl {
            file,
            line,
            column,
            message,
        },
        IdlError::Io { file, source } => Error::Read {
            path: file.into(),
            source,
        },
        other => Error::Usage(other.to_string()),
    }
}

fn parse_ast(name: &str, src: &str) -> Result<ast::File> {
    ast::FileParser::new(ast::FileSource::new(src))
        .parse()
        .map_err(|e| Error::Idl {
            file: name.to_owned(),
            line: 1,
            column: 1,
            message: e.to_string(),
        })
}

fn scope_of(rel: &str) -> String {
    let base = rel.rsplit(['/', '\\']).next().unwrap_or(rel);
    base.strip_suffix(".thrift").unwrap_or(base).to_owned()
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads `path` and its includes; `service` picks the service (default:
/// the file's last, as Kitex does).
pub(crate) fn load(path: &Path, service: Option<&str>) -> Result<Thrift> {
    let idl = Idl::parse_file(path).map_err(map_idl_error)?;
    let main_name = path.display().to_string();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    if !is_ident(&stem) {
        return Err(Error::Usage(format!(
            "the IDL file name {stem:?} must be a Rust identifier (letters, digits, `_`): \
             wego-build names modules after it"
        )));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let src = read(path)?;
    let mut files = vec![File {
        ast: parse_ast(&main_name, &src)?,
        name: main_name,
        rel: path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned(),
        scope: stem.clone(),
        src,
    }];
    let mut i = 0;
    while i < files.len() {
        let includes: Vec<String> = files[i]
            .ast
            .items
            .iter()
            .filter_map(|it| match it {
                ast::Item::Include(inc) => Some(inc.path.0.clone()),
                _ => None,
            })
            .collect();
        for inc in includes {
            let base = Path::new(&files[i].rel)
                .parent()
                .unwrap_or(Path::new(""))
                .join(&inc);
            if base
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
            {
                let f = &files[i];
                let at = f.src.find(&inc).unwrap_or(0);
                return Err(Error::idl_at(
                    &f.name,
                    &f.src,
                    at,
                    format!("include {inc:?} leaves the IDL's directory, expected a path below it"),
                ));
            }
            let rel = base.display().to_string();
            if files.iter().any(|f| f.rel == rel) {
                continue;
            }
            let full = dir.join(&rel);
            let text = read(&full)?;
            let name = full.display().to_string();
            files.push(File {
                ast: parse_ast(&name, &text)?,
                name,
                scope: scope_of(&rel),
                rel,
                src: text,
            });
        }
        i += 1;
    }
    let service = match service {
        Some(s) => s.to_owned(),
        None => idl
            .services()
            .last()
            .map(|s| (*s).to_owned())
            .ok_or_else(|| Error::Idl {
                file: files[0].name.clone(),
                line: 1,
                column: 1,
                message: "no service in the file, expected at least one `service`".into(),
            })?,
    };
    let desc = idl.service(&service).map_err(map_idl_error)?;
    Ok(Thrift { files, desc, stem })
}

impl Thrift {
    fn idl_files(&self) -> Vec<IdlFile> {
        self.files
            .iter()
            .map(|f| IdlFile {
                rel: f.rel.clone(),
                text: f.src.clone(),
            })
            .collect()
    }

    fn main_service(&self) -> Option<&ast::Service> {
        self.files[0].ast.items.iter().find_map(|i| match i {
            ast::Item::Service(s) if s.name.as_str() == self.desc.service_name() => Some(s),
            _ => None,
        })
    }

    /// The pilota module a file's types live in: its `namespace rs` (first
    /// segment), else its lower-cased stem (wego-build's rule).
    fn module_of(&self, f: &File) -> String {
        f.ast
            .items
            .iter()
            .find_map(|i| match i {
                ast::Item::Namespace(n) if n.scope.0 == "rs" => {
                    n.name.segments.first().map(|s| s.as_str().to_owned())
                }
                _ => None,
            })
            .unwrap_or_else(|| f.scope.to_lowercase())
    }

    /// The RPC service model.
    pub(crate) fn rpc(&self) -> Result<RpcService> {
        let svc = self.main_service().ok_or_else(|| {
            Error::Usage(format!(
                "service {} is declared in an included file; run wego on that file",
                self.desc.service_name()
            ))
        })?;
        let sname = svc.name.as_str();
        let name = camel(sname);
        let mut methods = Vec::new();
        for f in &svc.functions {
            let m = f.name.as_str();
            let prefix = format!("{name}{}", upper_first(m));
            let params: Vec<String> = f
                .arguments
                .iter()
                .map(|a| format!("_{}: {}", snake_raw(a.name.as_str()), rust_ty(&a.ty.0)))
                .collect();
            let ret = rust_ty(&f.result_type.0);
            let (err, body) = if f.throws.is_empty() {
                (
                    "::wego_kitex::BoxError".to_owned(),
                    format!("Err(crate::generated::not_implemented(\"{sname}.{m}\"))"),
                )
            } else {
                (
                    format!("{prefix}Error"),
                    format!(
                        "Err({prefix}Error::Other(crate::generated::not_implemented(\"{sname}.{m}\")))"
                    ),
                )
            };
            let params = if params.is_empty() {
                String::new()
            } else {
                format!(", {}", params.join(", "))
            };
            let rust_name = thrift_ident(m);
            let defaults = vec!["Default::default()"; f.arguments.len()].join(", ");
            methods.push(RpcMethod {
                idl_name: m.to_owned(),
                signature: format!(
                    "async fn {rust_name}(&self{params}) -> ::std::result::Result<{ret}, {err}>"
                ),
                body,
                test_call: (!f.oneway)
                    .then(|| format!("client.{rust_name}({defaults}).await.map(|_| ())")),
                rust_name,
            });
        }
        let stem = &self.stem;
        let main_mod = self.module_of(&self.files[0]);
        let mut aliases = String::new();
        for f in &self.files[1..] {
            if is_ident(&f.scope) {
                aliases.push_str(&format!(
                    "/// Types of the included `{}`.\npub use out::{stem}_types::{} as {};\n",
                    f.rel,
                    self.module_of(f),
                    f.scope
                ));
            }
        }
        let gen_mod = crate::render::rpc::thrift_gen_mod(stem, &main_mod, &aliases, sname, &name);
        Ok(RpcService {
            kind: IdlKind::Thrift,
            idl_file: self.files[0].rel.clone(),
            files: self.idl_files(),
            idl_name: sname.to_owned(),
            handler_trait: format!("{name}Handler"),
            gen_mod,
            methods,
        })
    }

    /// Where `needles` (searched one after the other) start in file `fi`.
    fn locate(&self, fi: usize, needles: &[&str]) -> usize {
        let src = &self.files[fi].src;
        let mut pos = 0;
        for n in needles {
            match src[pos..].find(n) {
                Some(p) => pos += p,
                None => break,
            }
        }
        pos
    }

    fn err(&self, fi: usize, needles: &[&str], extra: usize, message: String) -> Error {
        let f = &self.files[fi];
        let at = self.locate(fi, needles) + extra;
        let (line, column) = line_col(&f.src, at);
        Error::Idl {
            file: f.name.clone(),
            line,
            column,
            message,
        }
    }

    /// The file index and AST of a struct named as the descriptor names it
    /// (`Name`, or `scope.Name` when included).
    fn find_struct(&self, qualified: &str) -> Option<(usize, &ast::StructLike)> {
        let (fi, local) = match qualified.split_once('.') {
            Some((scope, local)) => (self.files.iter().position(|f| f.scope == scope)?, local),
            None => (0, qualified),
        };
        self.files[fi].ast.items.iter().find_map(|i| {
            let s = match i {
                ast::Item::Struct(s) => &s.struct_like,
                ast::Item::Union(s) => &s.struct_like,
                ast::Item::Exception(s) => &s.struct_like,
                _ => return None,
            };
            (s.name.as_str() == local).then_some((fi, s))
        })
    }

    /// The HTTP API model: routes from method annotations, models from the
    /// structs they reach.
    pub(crate) fn http(&self) -> Result<HttpApi> {
        let svc = self.main_service().ok_or_else(|| {
            Error::Usage(format!(
                "service {} is declared in an included file; run wego on that file",
                self.desc.service_name()
            ))
        })?;
        let mut b = HttpBuilder {
            idl: self,
            models: BTreeMap::new(),
            order: Vec::new(),
            enums: BTreeMap::new(),
        };
        let mut routes = Vec::new();
        for f in &svc.functions {
            let m = f.name.as_str();
            let verbs: Vec<(String, String)> = f
                .annotations
                .iter()
                .chain(f.result_type.1.iter())
                .filter_map(|a| {
                    let verb = a.key.strip_prefix("api.")?.to_ascii_uppercase();
                    matches!(
                        verb.as_str(),
                        "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS" | "ANY"
                    )
                    .then(|| (verb, a.value.0.clone()))
                })
                .collect();
            if verbs.is_empty() {
                continue;
            }
            let Some(md) = self.desc.method(m) else {
                continue;
            };
            let args = &self.desc.struct_desc(md.args).fields;
            if args.len() > 1 {
                return Err(self.err(
                    0,
                    &["service", svc.name.as_str(), m, "("],
                    1,
                    format!(
                        "{m} has {} arguments, expected at most one request struct",
                        args.len()
                    ),
                ));
            }
            let request = match args.first() {
                None => None,
                Some(a) => match &a.ty {
                    Type::Struct(id) => Some(b.model(*id)?),
                    _ => {
                        return Err(self.err(
                            0,
                            &["service", svc.name.as_str(), m, "("],
                            1,
                            format!(
                                "the argument of {m} is not a struct, expected a request struct"
                            ),
                        ));
                    }
                },
            };
            let response = if md.void {
                None
            } else {
                match self
                    .desc
                    .struct_desc(md.result)
                    .fields
                    .first()
                    .map(|f| f.ty.clone())
                {
                    Some(Type::Struct(id)) => Some(b.model(id)?),
                    _ => {
                        return Err(self.err(
                            0,
                            &["service", svc.name.as_str(), m],
                            0,
                            format!("{m} returns a value that is not a struct, expected a response struct or void"),
                        ));
                    }
                }
            };
            for (verb, path) in verbs {
                if !path.starts_with('/') {
                    return Err(self.err(
                        0,
                        &["service", svc.name.as_str(), m, &path],
                        0,
                        format!("route {path:?} of {m} does not start with `/`"),
                    ));
                }
                routes.push(Route {
                    method: verb,
                    path,
                    idl_name: m.to_owned(),
                    handler: snake(m),
                    request: request.clone(),
                    response: response.clone(),
                });
            }
        }
        if routes.is_empty() {
            return Err(self.err(
                0,
                &["service", svc.name.as_str()],
                0,
                format!(
                    "service {} has no method with an HTTP annotation, expected e.g. (api.get=\"/path\")",
                    svc.name.as_str()
                ),
            ));
        }
        let models = b
            .order
            .iter()
            .filter_map(|n| b.models.get(n).cloned().flatten())
            .collect();
        Ok(HttpApi {
            idl_file: self.files[0].rel.clone(),
            files: self.idl_files(),
            service: svc.name.as_str().to_owned(),
            models,
            enums: b.enums.into_values().collect(),
            routes,
        })
    }
}

struct HttpBuilder<'a> {
    idl: &'a Thrift,
    /// Rust name → model (None while being built).
    models: BTreeMap<String, Option<Model>>,
    order: Vec<String>,
    enums: BTreeMap<String, EnumModel>,
}

fn rust_type_name(qualified: &str) -> String {
    qualified.split('.').map(camel).collect::<Vec<_>>().join("")
}

impl HttpBuilder<'_> {
    fn model(&mut self, id: StructId) -> Result<String> {
        let sd = self.idl.desc.struct_desc(id);
        let name = rust_type_name(&sd.name);
        if self.models.contains_key(&name) {
            return Ok(name);
        }
        self.models.insert(name.clone(), None);
        let (fi, ast_s) = self.idl.find_struct(&sd.name).ok_or_else(|| {
            Error::Usage(format!("struct {} not found in the parsed files", sd.name))
        })?;
        let ast_fields: HashMap<&str, &ast::Field> =
            ast_s.fields.iter().map(|f| (f.name.as_str(), f)).collect();
        let mut fields = Vec::new();
        let mut vd_srcs = Vec::new();
        for fd in &sd.fields {
            let af = ast_fields.get(fd.name.as_str()).copied();
            let ty = self.field_ty(&fd.ty)?;
            let mut source = Source::Body;
            let mut key = fd.name.clone();
            let mut json = fd.name.clone();
            let mut vd_src: Option<String> = None;
            if let Some(af) = af {
                for a in af.annotations.iter().chain(af.ty.1.iter()) {
                    let v = a.value.0.clone();
                    match a.key.as_str() {
                        "api.query" => (source, key) = (Source::Query, v),
                        "api.path" => (source, key) = (Source::Path, v),
                        "api.header" => (source, key) = (Source::Header, v),
                        "api.cookie" => (source, key) = (Source::Cookie, v),
                        "api.form" => (source, key) = (Source::Form, v),
                        "api.body" => {
                            source = Source::Body;
                            key = v.clone();
                            json = v;
                        }
                        "api.vd" => vd_src = Some(v),
                        _ => {}
                    }
                }
            }
            let owner = ast_s.name.as_str();
            if let Err(message) = check_binding(owner, &fd.name, &source, &ty) {
                return Err(self.idl.err(fi, &[owner, fd.name.as_str()], 0, message));
            }
            vd_srcs.push(vd_src);
            fields.push(ModelField {
                idl: fd.name.clone(),
                rust: snake(&fd.name),
                json,
                source,
                key,
                ty,
                presence: match fd.requiredness {
                    Requiredness::Required => Presence::Required,
                    Requiredness::Optional => Presence::Optional,
                    _ => Presence::Default,
                },
                vd: None,
            });
        }
        // Rules may read any field of the struct, so they compile last.
        let owner = ast_s.name.as_str();
        for (i, text) in vd_srcs.iter().enumerate() {
            if let Some(text) = text {
                let check = self.vd(fi, owner, &fields, i, text)?;
                fields[i].vd = Some(check);
            }
        }
        self.models.insert(
            name.clone(),
            Some(Model {
                name: name.clone(),
                fields,
            }),
        );
        self.order.push(name.clone());
        Ok(name)
    }

    fn vd(
        &self,
        fi: usize,
        owner: &str,
        fields: &[ModelField],
        idx: usize,
        text: &str,
    ) -> Result<VdCheck> {
        let field = fields[idx].idl.as_str();
        match compile_vd(owner, fields, idx, text) {
            Ok(check) => Ok(check),
            Err(VdRefused::OnStruct) => Err(self.idl.err(
                fi,
                &[owner, field, "api.vd"],
                0,
                format!("api.vd on {owner}.{field}, a struct: expected it on a scalar, string or container field (the struct's own fields are validated)"),
            )),
            Err(VdRefused::Invalid(e)) => {
                // Point into the annotation's value when it is written as parsed.
                let base = self.idl.locate(fi, &[owner, field, "api.vd"]);
                let src = &self.idl.files[fi].src;
                let start = src[base..]
                    .find(text)
                    .map(|p| base + p + e.offset)
                    .unwrap_or(base);
                let (line, column) = line_col(src, start);
                Err(Error::Idl {
                    file: self.idl.files[fi].name.clone(),
                    line,
                    column,
                    message: format!("in api.vd of {owner}.{field}: {}", e.message),
                })
            }
        }
    }

    fn field_ty(&mut self, t: &Type) -> Result<FieldTy> {
        Ok(match t {
            Type::Bool => FieldTy::Bool,
            Type::I8 => FieldTy::Num("i8"),
            Type::I16 => FieldTy::Num("i16"),
            Type::I32 => FieldTy::Num("i32"),
            Type::I64 => FieldTy::Num("i64"),
            Type::Double => FieldTy::Num("f64"),
            Type::String => FieldTy::Str,
            Type::Binary | Type::Uuid => FieldTy::Bytes,
            Type::List(v) | Type::Set(v) => FieldTy::List(Box::new(self.field_ty(v)?)),
            Type::Map(k, v) => {
                FieldTy::Map(Box::new(self.field_ty(k)?), Box::new(self.field_ty(v)?))
            }
            Type::Struct(id) => FieldTy::Model(self.model(*id)?),
            Type::Enum(id) => {
                let e = self.idl.desc.enum_desc(*id);
                let name = rust_type_name(&e.name);
                self.enums.entry(name.clone()).or_insert_with(|| EnumModel {
                    name,
                    values: e.values.clone(),
                });
                FieldTy::Num("i32")
            }
            _ => FieldTy::Bytes,
        })
    }
}

/// The Rust type wego-build (pilota) generates for a Thrift type.
fn rust_ty(t: &ast::Ty) -> String {
    match t {
        ast::Ty::Void => "()".into(),
        ast::Ty::Bool => "bool".into(),
        ast::Ty::Byte | ast::Ty::I8 => "i8".into(),
        ast::Ty::I16 => "i16".into(),
        ast::Ty::I32 => "i32".into(),
        ast::Ty::I64 => "i64".into(),
        ast::Ty::Double => "f64".into(),
        ast::Ty::String => "::pilota::FastStr".into(),
        ast::Ty::Binary => "::pilota::Bytes".into(),
        ast::Ty::Uuid => "[u8; 16]".into(),
        ast::Ty::List { value, .. } => format!("::std::vec::Vec<{}>", rust_ty(&value.0)),
        ast::Ty::Set { value, .. } => format!("::pilota::AHashSet<{}>", rust_ty(&value.0)),
        ast::Ty::Map { key, value, .. } => format!(
            "::pilota::AHashMap<{}, {}>",
            rust_ty(&key.0),
            rust_ty(&value.0)
        ),
        ast::Ty::Path(p) => {
            let segs: Vec<&str> = p.segments.iter().map(|s| s.as_str()).collect();
            match segs.as_slice() {
                [scope, name] => format!("crate::generated::{scope}::{}", camel(name)),
                _ => camel(segs.last().copied().unwrap_or_default()),
            }
        }
    }
}
