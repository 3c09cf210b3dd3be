//! `wego new http` from `.proto`: hz's `api.proto` options (`(api.get)` on
//! methods, `(api.query)`, `(api.vd)`, ... on fields), read as extension
//! values through protox's descriptor pool, into the model the Thrift path
//! builds. An IDL that imports `api.proto` without having one next to it
//! gets wego's copy (`src/api.proto`, hz's names and numbers).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};
use protox::prost_reflect::{
    Cardinality, DescriptorPool, DynamicMessage, ExtensionDescriptor, FieldDescriptor,
    FileDescriptor, Kind, MessageDescriptor,
};

use crate::error::{Error, Result, line_col};
use crate::model::{
    EnumModel, FieldTy, HttpApi, IdlFile, Model, ModelField, Presence, Route, Source, VdRefused,
    check_binding, compile_vd,
};
use crate::names::{camel, snake};

/// wego's copy of hz's `api.proto`.
pub(crate) const API_PROTO: &str = include_str!("api.proto");

/// The name IDL imports it by.
const API_PROTO_NAME: &str = "api.proto";

/// The HTTP verbs of `api.proto`'s method options, in its order.
const VERBS: &[&str] = &[
    "get", "post", "put", "delete", "patch", "options", "head", "any",
];

/// The field options wego binds from, with their source.
const SOURCES: &[(&str, Source)] = &[
    ("api.path", Source::Path),
    ("api.query", Source::Query),
    ("api.header", Source::Header),
    ("api.cookie", Source::Cookie),
    ("api.form", Source::Form),
    ("api.body", Source::Body),
];

/// Resolves `api.proto` to wego's copy.
struct ApiProto;

impl FileResolver for ApiProto {
    fn open_file(&self, name: &str) -> std::result::Result<File, protox::Error> {
        if name == API_PROTO_NAME {
            File::from_source(name, API_PROTO)
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}

/// A string extension value of `opts`, if set.
fn ext_str(opts: &DynamicMessage, ext: Option<&ExtensionDescriptor>) -> Option<String> {
    let ext = ext?;
    if !opts.has_extension(ext) {
        return None;
    }
    opts.get_extension(ext).as_str().map(str::to_owned)
}

/// The Rust name of a message or enum: its name path within its package,
/// camel-cased and joined (`Outer.Inner` → `OuterInner`).
fn rust_type_name(full: &str, package: &str) -> String {
    let local = if package.is_empty() {
        full
    } else {
        full.strip_prefix(package)
            .and_then(|r| r.strip_prefix('.'))
            .unwrap_or(full)
    };
    local.split('.').map(camel).collect()
}

struct Builder<'a> {
    pool: &'a DescriptorPool,
    dir: &'a Path,
    /// Source text by file name, read when an error needs a position.
    sources: HashMap<String, String>,
    models: BTreeMap<String, Option<Model>>,
    order: Vec<String>,
    enums: BTreeMap<String, EnumModel>,
}

impl Builder<'_> {
    fn source(&mut self, file: &str) -> String {
        if let Some(s) = self.sources.get(file) {
            return s.clone();
        }
        let text = std::fs::read_to_string(self.dir.join(file))
            .ok()
            .or_else(|| (file == API_PROTO_NAME).then(|| API_PROTO.to_owned()))
            .unwrap_or_default();
        self.sources.insert(file.to_owned(), text.clone());
        text
    }

    /// The byte offset where the element at `path` of `file` starts (0
    /// when the descriptor has no location for it).
    fn offset_of(&mut self, file: &FileDescriptor, path: &[i32]) -> usize {
        let Some(info) = &file.file_descriptor_proto().source_code_info else {
            return 0;
        };
        let Some(loc) = info.location.iter().find(|l| l.path == path) else {
            return 0;
        };
        let (line, col) = (
            usize::try_from(loc.span.first().copied().unwrap_or(0)).unwrap_or(0),
            usize::try_from(loc.span.get(1).copied().unwrap_or(0)).unwrap_or(0),
        );
        let src = self.source(file.name());
        let mut offset = 0;
        for (i, l) in src.split_inclusive('\n').enumerate() {
            if i == line {
                return offset + l.char_indices().nth(col).map_or(l.len(), |(byte, _)| byte);
            }
            offset += l.len();
        }
        offset
    }

    fn err(&mut self, file: &FileDescriptor, path: &[i32], message: String) -> Error {
        let at = self.offset_of(file, path);
        let src = self.source(file.name());
        Error::idl_at(
            &self.dir.join(file.name()).display().to_string(),
            &src,
            at,
            message,
        )
    }

    fn field_err(&mut self, f: &FieldDescriptor, message: String) -> Error {
        let file = f.parent_file();
        self.err(&file, f.path(), message)
    }

    fn model(&mut self, m: &MessageDescriptor) -> Result<String> {
        let name = rust_type_name(m.full_name(), m.package_name());
        if self.models.contains_key(&name) {
            return Ok(name);
        }
        self.models.insert(name.clone(), None);
        let owner = m.name().to_owned();
        let mut fields = Vec::new();
        let mut rules = Vec::new();
        for f in m.fields() {
            if let Some(o) = f.containing_oneof()
                && !o.is_synthetic()
            {
                return Err(self.field_err(
                    &f,
                    format!(
                        "{owner}.{} is in oneof {}, which HTTP models do not support; expected plain or `optional` fields",
                        f.name(),
                        o.name()
                    ),
                ));
            }
            if f.is_group() {
                return Err(self.field_err(
                    &f,
                    format!("{owner}.{} is a group, expected a message field", f.name()),
                ));
            }
            let ty = self.field_ty(&f)?;
            let presence = if f.is_list() || f.is_map() {
                Presence::Default
            } else if f.cardinality() == Cardinality::Required {
                Presence::Required
            } else if f.supports_presence() {
                Presence::Optional
            } else {
                Presence::Default
            };
            if let FieldTy::Model(inner) = &ty
                && self.models.get(inner).is_some_and(Option::is_none)
            {
                return Err(self.field_err(
                    &f,
                    format!(
                        "{owner}.{} holds {inner}, which holds {owner}: recursive messages need `repeated` or a map",
                        f.name()
                    ),
                ));
            }
            let opts = f.options();
            let mut source = Source::Body;
            let mut key = f.name().to_owned();
            let mut json = f.name().to_owned();
            for (ext, s) in SOURCES {
                if let Some(v) = ext_str(&opts, self.pool.get_extension_by_name(ext).as_ref()) {
                    if *s == Source::Body {
                        json = v.clone();
                    }
                    source = s.clone();
                    key = v;
                    break;
                }
            }
            if let Err(message) = check_binding(&owner, f.name(), &source, &ty) {
                return Err(self.field_err(&f, message));
            }
            rules.push(ext_str(
                &opts,
                self.pool.get_extension_by_name("api.vd").as_ref(),
            ));
            fields.push(ModelField {
                idl: f.name().to_owned(),
                rust: snake(f.name()),
                json,
                source,
                key,
                ty,
                presence,
                vd: None,
            });
        }
        // Rules may read any field of the message, so they compile last.
        let descs: Vec<FieldDescriptor> = m.fields().collect();
        for (i, text) in rules.iter().enumerate() {
            let Some(text) = text else { continue };
            match compile_vd(&owner, &fields, i, text) {
                Ok(check) => fields[i].vd = Some(check),
                Err(VdRefused::OnStruct) => {
                    return Err(self.field_err(
                        &descs[i],
                        format!(
                            "(api.vd) on {owner}.{}, a message: expected it on a scalar, string or container field (the message's own fields are validated)",
                            fields[i].idl
                        ),
                    ));
                }
                Err(VdRefused::Invalid(e)) => {
                    // Point into the option's value when it is written as parsed.
                    let file = descs[i].parent_file();
                    let base = self.offset_of(&file, descs[i].path());
                    let src = self.source(file.name());
                    let at = src
                        .get(base..)
                        .and_then(|rest| rest.find(text.as_str()))
                        .map_or(base, |p| base + p + e.offset);
                    let (line, column) = line_col(&src, at);
                    return Err(Error::Idl {
                        file: self.dir.join(file.name()).display().to_string(),
                        line,
                        column,
                        message: format!("in (api.vd) of {owner}.{}: {}", fields[i].idl, e.message),
                    });
                }
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

    fn field_ty(&mut self, f: &FieldDescriptor) -> Result<FieldTy> {
        if f.is_map()
            && let Kind::Message(entry) = f.kind()
        {
            let k = self.single_ty(&entry.map_entry_key_field())?;
            let v = self.single_ty(&entry.map_entry_value_field())?;
            return Ok(FieldTy::Map(Box::new(k), Box::new(v)));
        }
        let t = self.single_ty(f)?;
        Ok(if f.is_list() {
            FieldTy::List(Box::new(t))
        } else {
            t
        })
    }

    fn single_ty(&mut self, f: &FieldDescriptor) -> Result<FieldTy> {
        Ok(match f.kind() {
            Kind::Double => FieldTy::Num("f64"),
            Kind::Float => FieldTy::Num("f32"),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => FieldTy::Num("i32"),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => FieldTy::Num("i64"),
            Kind::Uint32 | Kind::Fixed32 => FieldTy::Num("u32"),
            Kind::Uint64 | Kind::Fixed64 => FieldTy::Num("u64"),
            Kind::Bool => FieldTy::Bool,
            Kind::String => FieldTy::Str,
            Kind::Bytes => FieldTy::Bytes,
            Kind::Enum(e) => {
                let name = rust_type_name(e.full_name(), e.package_name());
                self.enums.entry(name.clone()).or_insert_with(|| EnumModel {
                    name,
                    values: e
                        .values()
                        .map(|v| (v.name().to_owned(), v.number()))
                        .collect(),
                });
                FieldTy::Num("i32")
            }
            Kind::Message(m) => {
                if m.package_name() == "google.protobuf" {
                    return Err(self.field_err(
                        f,
                        format!(
                            "{} is {}, a well-known type HTTP models do not support; expected a message of the IDL",
                            f.full_name(),
                            m.full_name()
                        ),
                    ));
                }
                FieldTy::Model(self.model(&m)?)
            }
        })
    }
}

/// Loads `path` (imports resolved in its directory, `api.proto` from wego
/// when it is not there) and builds the HTTP API of `service` (default:
/// the file's last).
pub(crate) fn load(path: &Path, service: Option<&str>) -> Result<HttpApi> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut resolver = ChainFileResolver::new();
    resolver.add(IncludeFileResolver::new(dir.to_path_buf()));
    resolver.add(ApiProto);
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_source_info(true);
    compiler
        .open_file(&file_name)
        .map_err(|e| crate::proto::map_error(e, path))?;
    let pool = compiler.descriptor_pool();
    let fd = pool
        .get_file_by_name(&file_name)
        .ok_or_else(|| Error::Usage(format!("{file_name} was not compiled")))?;
    let main = path.display().to_string();
    let (si, svc) = match service {
        Some(name) => fd
            .services()
            .enumerate()
            .find(|(_, s)| s.name() == name || s.full_name() == name),
        None => fd.services().enumerate().last(),
    }
    .ok_or_else(|| Error::Idl {
        file: main.clone(),
        line: 1,
        column: 1,
        message: match service {
            Some(s) => format!("no service {s:?} in the file"),
            None => "no service in the file, expected at least one `service`".into(),
        },
    })?;
    let mut b = Builder {
        pool: &pool,
        dir,
        sources: HashMap::from([(file_name.clone(), text.clone())]),
        models: BTreeMap::new(),
        order: Vec::new(),
        enums: BTreeMap::new(),
    };
    let verbs: Vec<(String, Option<ExtensionDescriptor>)> = VERBS
        .iter()
        .map(|v| {
            (
                v.to_ascii_uppercase(),
                pool.get_extension_by_name(&format!("api.{v}")),
            )
        })
        .collect();
    let mut routes = Vec::new();
    for (mi, m) in svc.methods().enumerate() {
        let opts = m.options();
        let found: Vec<(String, String)> = verbs
            .iter()
            .filter_map(|(verb, ext)| ext_str(&opts, ext.as_ref()).map(|p| (verb.clone(), p)))
            .collect();
        if found.is_empty() {
            continue;
        }
        let at = [
            6,
            i32::try_from(si).unwrap_or(0),
            2,
            i32::try_from(mi).unwrap_or(0),
        ];
        if m.is_client_streaming() || m.is_server_streaming() {
            return Err(b.err(
                &fd,
                &at,
                format!(
                    "{} streams, expected a unary method for an HTTP route",
                    m.name()
                ),
            ));
        }
        let empty = |d: &MessageDescriptor| d.full_name() == "google.protobuf.Empty";
        let request = if empty(&m.input()) {
            None
        } else {
            Some(b.model(&m.input())?)
        };
        let response = if empty(&m.output()) {
            None
        } else {
            Some(b.model(&m.output())?)
        };
        for (verb, route) in found {
            if !route.starts_with('/') {
                return Err(b.err(
                    &fd,
                    &at,
                    format!("route {route:?} of {} does not start with `/`", m.name()),
                ));
            }
            routes.push(Route {
                method: verb,
                path: route,
                idl_name: m.name().to_owned(),
                handler: snake(m.name()),
                request: request.clone(),
                response: response.clone(),
            });
        }
    }
    if routes.is_empty() {
        return Err(b.err(
            &fd,
            &[6, i32::try_from(si).unwrap_or(0)],
            format!(
                "service {} has no method with an HTTP option, expected e.g. option (api.get) = \"/path\"; (with import \"api.proto\")",
                svc.name()
            ),
        ));
    }
    let models = b
        .order
        .iter()
        .filter_map(|n| b.models.get(n).cloned().flatten())
        .collect();
    Ok(HttpApi {
        idl_file: file_name.clone(),
        files: idl_files(&fd, dir, &file_name, text)?,
        service: svc.name().to_owned(),
        models,
        enums: b.enums.into_values().collect(),
        routes,
    })
}

/// The main file and every file it imports (but `google/protobuf/…`):
/// from `dir`, or wego's `api.proto` when `dir` has none.
fn idl_files(fd: &FileDescriptor, dir: &Path, main: &str, text: String) -> Result<Vec<IdlFile>> {
    let mut files = vec![IdlFile {
        rel: main.to_owned(),
        text,
    }];
    let mut todo: Vec<FileDescriptor> = fd.dependencies().collect();
    while let Some(dep) = todo.pop() {
        let name = dep.name().to_owned();
        if name.starts_with("google/protobuf/") || files.iter().any(|f| f.rel == name) {
            continue;
        }
        let p = dir.join(&name);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(_) if name == API_PROTO_NAME => API_PROTO.to_owned(),
            Err(source) => return Err(Error::Read { path: p, source }),
        };
        files.push(IdlFile { rel: name, text });
        todo.extend(dep.dependencies());
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_drop_the_package_and_join_nesting() {
        assert_eq!(rust_type_name("shop.v1.Order.Item", "shop.v1"), "OrderItem");
        assert_eq!(rust_type_name("user_info", ""), "UserInfo");
    }

    #[test]
    fn the_shipped_api_proto_parses_with_hz_numbers() {
        let mut resolver = ChainFileResolver::new();
        resolver.add(ApiProto);
        resolver.add(GoogleFileResolver::new());
        let mut c = protox::Compiler::with_file_resolver(resolver);
        c.open_file(API_PROTO_NAME).unwrap();
        let pool = c.descriptor_pool();
        for (name, number) in [
            ("api.get", 50201),
            ("api.any", 50208),
            ("api.query", 50102),
            ("api.vd", 50107),
            ("api.form", 50108),
        ] {
            let ext = pool.get_extension_by_name(name).unwrap();
            assert_eq!(ext.number(), number, "{name}");
        }
    }
}
