//! Thrift IDL loaded at run time: files and their includes parsed with
//! pilota's parser (the one `wego-build` uses through pilota-build), then
//! resolved into a [`Descriptor`] for one service.
//!
//! Includes follow Apache Thrift: `include "dir/shared.thrift"` is read
//! relative to the including file, and its declarations are named
//! `shared.Name`. Every error names the file, a line and a column.
//!
//! Limits keep a hostile or broken IDL from exhausting memory or the
//! stack: at most [`MAX_FILES`] files of [`MAX_FILE_LEN`] bytes, and
//! brackets nested at most [`MAX_NESTING`] deep (checked before the
//! recursive-descent parser sees the text).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use pilota_thrift_parser as ast;

use super::descriptor::{
    Descriptor, EnumDesc, EnumId, FieldDesc, HttpRoute, HttpSource, MethodDesc, Requiredness,
    StructDesc, StructId, StructKind, Type,
};

/// Most files one IDL may span (the main file and its includes).
pub const MAX_FILES: usize = 256;
/// Largest IDL file read, in bytes.
pub const MAX_FILE_LEN: usize = 4 << 20;
/// Deepest nesting of `<`, `(`, `[` and `{` in an IDL file.
pub const MAX_NESTING: usize = 64;

/// Why IDL could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdlError {
    /// The text is not Thrift IDL.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file (as named by its includer, or the path given).
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was found and what was expected.
        message: String,
    },
    /// The IDL parses but does not make sense: an unknown type, a
    /// duplicate field id, an include that is missing.
    #[error("{file}:{line}:{column}: {message}")]
    Resolve {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {file}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A limit was exceeded.
    #[error("{file}: {what} exceeds the limit of {limit}")]
    Limit {
        /// The file.
        file: String,
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The IDL has no service of that name (or none at all).
    #[error("no service named {0:?} in the idl")]
    NoService(String),
}

/// Where include files come from.
enum Sources {
    /// The file system, relative to the including file.
    Disk,
    /// In memory, by the name used in `include`.
    Memory(HashMap<String, String>),
}

struct ParsedFile {
    /// The name errors use.
    name: String,
    /// The scope other files name it by (the file stem).
    scope: String,
    source: String,
    file: ast::File,
    /// Scope → index of included files.
    includes: HashMap<String, usize>,
}

/// Parsed Thrift IDL: a main file and everything it includes.
///
/// ```
/// use wego_kitex::generic::Idl;
///
/// let idl = Idl::parse_str("echo.thrift", r#"
///     struct Request { 1: required string message }
///     service Echo { Request echo(1: Request req) }
/// "#)?;
/// let desc = idl.service("Echo")?;
/// assert_eq!(desc.methods().len(), 1);
/// # Ok::<(), wego_kitex::generic::IdlError>(())
/// ```
pub struct Idl {
    files: Vec<ParsedFile>,
}

impl std::fmt::Debug for Idl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idl")
            .field(
                "files",
                &self.files.iter().map(|x| &x.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Idl {
    /// Reads and parses `path` and the files it includes, relative to each
    /// including file.
    ///
    /// This reads files with blocking calls: call it at start-up or from
    /// `wego_netpoll::rt::spawn_blocking`, not on an executor thread.
    ///
    /// # Errors
    ///
    /// [`IdlError`]: a file is missing or unreadable, a limit is exceeded,
    /// or a file is not valid IDL.
    pub fn parse_file(path: impl AsRef<Path>) -> Result<Idl, IdlError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = read_disk(path, &name)?;
        Self::load(name, text, Some(path.to_path_buf()), &Sources::Disk)
    }

    /// Parses `text` as the file `name`; it may include nothing.
    ///
    /// # Errors
    ///
    /// As [`parse_file`](Self::parse_file).
    pub fn parse_str(name: &str, text: &str) -> Result<Idl, IdlError> {
        Self::parse_sources(name, [(name.to_owned(), text.to_owned())])
    }

    /// Parses the file `main` out of `files` (name → text); includes are
    /// looked up in `files` by the path written in `include`.
    ///
    /// # Errors
    ///
    /// As [`parse_file`](Self::parse_file); an include missing from
    /// `files` is [`IdlError::Resolve`].
    pub fn parse_sources(
        main: &str,
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Idl, IdlError> {
        let files: HashMap<String, String> = files.into_iter().collect();
        let text = files.get(main).cloned().ok_or_else(|| IdlError::Io {
            file: main.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not among the sources"),
        })?;
        Self::load(main.to_owned(), text, None, &Sources::Memory(files))
    }

    fn load(
        name: String,
        text: String,
        path: Option<PathBuf>,
        sources: &Sources,
    ) -> Result<Idl, IdlError> {
        let mut files: Vec<ParsedFile> = Vec::new();
        // Key (canonical path or name) → index.
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut queue: VecDeque<(usize, Option<PathBuf>)> = VecDeque::new();
        let key = path
            .as_ref()
            .map_or_else(|| name.clone(), |p| p.display().to_string());
        files.push(parse_one(name, text)?);
        seen.insert(key, 0);
        queue.push_back((0, path));
        while let Some((idx, path)) = queue.pop_front() {
            let includes: Vec<String> = files[idx]
                .file
                .items
                .iter()
                .filter_map(|i| match i {
                    ast::Item::Include(inc) => Some(inc.path.0.clone()),
                    _ => None,
                })
                .collect();
            for inc in includes {
                let (key, child_path, text) = match sources {
                    Sources::Disk => {
                        let base = path
                            .as_ref()
                            .and_then(|p| p.parent())
                            .unwrap_or(Path::new("."));
                        let p = base.join(&inc);
                        let key = p.display().to_string();
                        if let Some(&i) = seen.get(&key) {
                            link(&mut files, idx, i);
                            continue;
                        }
                        let text = read_disk(&p, &key)?;
                        (key, Some(p), text)
                    }
                    Sources::Memory(m) => {
                        if let Some(&i) = seen.get(&inc) {
                            link(&mut files, idx, i);
                            continue;
                        }
                        let Some(text) = m.get(&inc) else {
                            let f = &files[idx];
                            let (line, column) = locate(&f.source, &[&format!("\"{inc}\"")]);
                            return Err(IdlError::Resolve {
                                file: f.name.clone(),
                                line,
                                column,
                                message: format!("include {inc:?} is not among the sources"),
                            });
                        };
                        (inc.clone(), None, text.clone())
                    }
                };
                if files.len() >= MAX_FILES {
                    return Err(IdlError::Limit {
                        file: key,
                        what: "the number of included files",
                        limit: MAX_FILES,
                    });
                }
                let child = parse_one(key.clone(), text)?;
                let i = files.len();
                files.push(child);
                seen.insert(key, i);
                link(&mut files, idx, i);
                queue.push_back((i, child_path));
            }
        }
        Ok(Idl { files })
    }

    /// The names of the main file's services.
    pub fn services(&self) -> Vec<&str> {
        self.files[0]
            .file
            .items
            .iter()
            .filter_map(|i| match i {
                ast::Item::Service(s) => Some(s.name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Builds the descriptor of the main file's service `name`, every type
    /// it reaches resolved.
    ///
    /// # Errors
    ///
    /// [`IdlError::NoService`] if there is no such service;
    /// [`IdlError::Resolve`] for an unknown type, a duplicate field id or
    /// name, or an `extends` cycle.
    pub fn service(&self, name: &str) -> Result<Descriptor, IdlError> {
        Resolver::new(self).build(name)
    }

    /// The descriptor of the main file's last service (Kitex's default).
    ///
    /// # Errors
    ///
    /// As [`service`](Self::service).
    pub fn default_service(&self) -> Result<Descriptor, IdlError> {
        let name = self
            .services()
            .last()
            .map(|s| (*s).to_owned())
            .ok_or_else(|| IdlError::NoService(String::new()))?;
        self.service(&name)
    }
}

fn link(files: &mut [ParsedFile], from: usize, to: usize) {
    let scope = files[to].scope.clone();
    files[from].includes.insert(scope, to);
}

fn read_disk(path: &Path, name: &str) -> Result<String, IdlError> {
    let io = |source| IdlError::Io {
        file: name.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_LEN as u64 {
        return Err(IdlError::Limit {
            file: name.to_owned(),
            what: "the file size",
            limit: MAX_FILE_LEN,
        });
    }
    std::fs::read_to_string(path).map_err(io)
}

fn scope_of(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.strip_suffix(".thrift").unwrap_or(base).to_owned()
}

fn parse_one(name: String, text: String) -> Result<ParsedFile, IdlError> {
    if text.len() > MAX_FILE_LEN {
        return Err(IdlError::Limit {
            file: name,
            what: "the file size",
            limit: MAX_FILE_LEN,
        });
    }
    check_nesting(&name, &text)?;
    let parsed = ast::FileParser::new(ast::FileSource::new(&text)).parse();
    let file = match parsed {
        Ok(f) => f,
        Err(e) => return Err(syntax_error(&name, &e)),
    };
    Ok(ParsedFile {
        scope: scope_of(&name),
        name,
        source: text,
        file,
        includes: HashMap::new(),
    })
}

/// Turns pilota's error into file, line, column and message. pilota
/// renders the first error as `... at line L:C - reason`, or, for several,
/// lines `  1. Line L:C - reason`; the reason says what was found and what
/// was expected.
fn syntax_error(name: &str, e: &ast::Error) -> IdlError {
    let summary = match e {
        ast::Error::Syntax { summary, .. } => summary.to_string(),
        other => other.to_string(),
    };
    let tail = summary
        .split_once(" at line ")
        .map(|(_, t)| t)
        .or_else(|| summary.split_once("1. Line ").map(|(_, t)| t));
    let parsed = tail.and_then(|t| {
        let (pos, msg) = t.split_once(" - ")?;
        let (l, c) = pos.split_once(':')?;
        let msg = msg.lines().next().unwrap_or(msg);
        Some((
            l.trim().parse().ok()?,
            c.trim().parse().ok()?,
            msg.to_owned(),
        ))
    });
    let (line, column, message) = parsed.unwrap_or((1, 1, summary));
    IdlError::Syntax {
        file: name.to_owned(),
        line,
        column,
        message,
    }
}

/// Refuses brackets nested beyond [`MAX_NESTING`] (outside comments and
/// string literals), so the recursive parser cannot exhaust the stack.
fn check_nesting(name: &str, text: &str) -> Result<(), IdlError> {
    let b = text.as_bytes();
    let (mut i, mut depth, mut line, mut col) = (0usize, 0usize, 1usize, 1usize);
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 1;
                col += 1;
            } else if c == q {
                quote = None;
            }
        } else if c == b'"' || c == b'\'' {
            quote = Some(c);
        } else if c == b'#' || (c == b'/' && b.get(i + 1) == Some(&b'/')) {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                if b[i] == b'\n' {
                    line += 1;
                    col = 0;
                }
                i += 1;
                col += 1;
            }
            i += 2;
            col += 2;
            continue;
        } else if matches!(c, b'<' | b'(' | b'[' | b'{') {
            depth += 1;
            if depth > MAX_NESTING {
                return Err(IdlError::Syntax {
                    file: name.to_owned(),
                    line,
                    column: col,
                    message: format!("brackets nested deeper than {MAX_NESTING}"),
                });
            }
        } else if matches!(c, b'>' | b')' | b']' | b'}') {
            depth = depth.saturating_sub(1);
        }
        if c == b'\n' {
            line += 1;
            col = 1;
        } else if c & 0xC0 != 0x80 {
            col += 1;
        }
        i += 1;
    }
    Ok(())
}

/// The line and column of the last of `needles`, each searched after the
/// previous one (an item's declaration, then a name inside it); (1, 1) when
/// not found.
fn locate(src: &str, needles: &[&str]) -> (usize, usize) {
    let mut pos = 0;
    for n in needles {
        match find_word(&src[pos..], n) {
            Some(p) => pos += p,
            None => break,
        }
    }
    let before = &src[..pos];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map_or(1, |l| l.chars().count() + 1);
    (line, col)
}

/// The first occurrence of `word` not inside a longer identifier.
fn find_word(hay: &str, word: &str) -> Option<usize> {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let mut from = 0;
    while let Some(p) = hay[from..].find(word) {
        let start = from + p;
        let end = start + word.len();
        let before = hay[..start].chars().next_back();
        let after = hay[end..].chars().next();
        if !before.is_some_and(ident) && !after.is_some_and(ident) {
            return Some(start);
        }
        from = start + word.len().max(1);
    }
    None
}

/// A declaration found by name.
#[derive(Clone, Copy)]
enum Decl<'a> {
    Struct(usize, &'a ast::StructLike, StructKind),
    Enum(usize, &'a ast::Enum),
    Typedef(usize, &'a ast::Typedef),
    Service(usize, &'a ast::Service),
}

struct Resolver<'a> {
    idl: &'a Idl,
    structs: Vec<StructDesc>,
    struct_ids: HashMap<(usize, String), StructId>,
    pending: VecDeque<(StructId, usize, &'a ast::StructLike, StructKind)>,
    enums: Vec<EnumDesc>,
    enum_ids: HashMap<(usize, String), EnumId>,
    http_fields: HashMap<(usize, i16), HttpSource>,
}

impl<'a> Resolver<'a> {
    fn new(idl: &'a Idl) -> Self {
        Self {
            idl,
            structs: Vec::new(),
            struct_ids: HashMap::new(),
            pending: VecDeque::new(),
            enums: Vec::new(),
            enum_ids: HashMap::new(),
            http_fields: HashMap::new(),
        }
    }

    fn err(&self, file: usize, needles: &[&str], message: String) -> IdlError {
        let f = &self.idl.files[file];
        let (line, column) = locate(&f.source, needles);
        IdlError::Resolve {
            file: f.name.clone(),
            line,
            column,
            message,
        }
    }

    /// Finds `name` (`Local` or `scope.Name`) as seen from `file`.
    fn find(&self, file: usize, name: &str) -> Option<Decl<'a>> {
        let (target, local) = match name.split_once('.') {
            Some((scope, rest)) if self.idl.files[file].includes.contains_key(scope) => {
                (self.idl.files[file].includes[scope], rest)
            }
            _ => (file, name),
        };
        let items: &'a [ast::Item] = &self.idl.files[target].file.items;
        items.iter().find_map(|i| match i {
            ast::Item::Struct(s) if s.name.as_str() == local => {
                Some(Decl::Struct(target, &s.struct_like, StructKind::Struct))
            }
            ast::Item::Union(s) if s.name.as_str() == local => {
                Some(Decl::Struct(target, &s.struct_like, StructKind::Union))
            }
            ast::Item::Exception(s) if s.name.as_str() == local => {
                Some(Decl::Struct(target, &s.struct_like, StructKind::Exception))
            }
            ast::Item::Enum(e) if e.name.as_str() == local => Some(Decl::Enum(target, e)),
            ast::Item::Typedef(t) if t.alias.as_str() == local => Some(Decl::Typedef(target, t)),
            ast::Item::Service(s) if s.name.as_str() == local => Some(Decl::Service(target, s)),
            _ => None,
        })
    }

    fn qualified(&self, file: usize, name: &str) -> String {
        if file == 0 {
            name.to_owned()
        } else {
            format!("{}.{}", self.idl.files[file].scope, name)
        }
    }

    fn build(mut self, service: &str) -> Result<Descriptor, IdlError> {
        let Some(Decl::Service(file, svc)) = self.find(0, service) else {
            return Err(IdlError::NoService(service.to_owned()));
        };
        // The service chain, base first, so that a derived method wins.
        let mut chain = vec![(file, svc)];
        let (mut f, mut s) = (file, svc);
        while let Some(ext) = &s.extends {
            let ext_name = path_str(ext);
            match self.find(f, &ext_name) {
                Some(Decl::Service(nf, ns)) => {
                    if chain.len() > MAX_FILES || chain.iter().any(|&(_, x)| std::ptr::eq(x, ns)) {
                        return Err(self.err(
                            f,
                            &["service", s.name.as_str()],
                            format!("service {} extends itself", s.name.as_str()),
                        ));
                    }
                    chain.push((nf, ns));
                    (f, s) = (nf, ns);
                }
                _ => {
                    return Err(self.err(
                        f,
                        &[s.name.as_str(), &ext_name],
                        format!("unknown service {ext_name}, expected a service to extend"),
                    ));
                }
            }
        }
        let mut methods: Vec<MethodDesc> = Vec::new();
        let mut by_method: HashMap<String, usize> = HashMap::new();
        for &(sf, s) in chain.iter().rev() {
            for func in &s.functions {
                let m = self.method(sf, s, func)?;
                match by_method.get(&m.name) {
                    Some(&i) => methods[i] = m,
                    None => {
                        by_method.insert(m.name.clone(), methods.len());
                        methods.push(m);
                    }
                }
            }
        }
        while let Some((id, file, s, kind)) = self.pending.pop_front() {
            let fields = self.fields(file, s.name.as_str(), &s.fields, id)?;
            let name = self.qualified(file, s.name.as_str());
            self.structs[id.0] = StructDesc::new(name, kind, fields);
        }
        Ok(Descriptor {
            service: service.to_owned(),
            methods,
            by_method,
            structs: self.structs,
            enums: self.enums,
            http_fields: self.http_fields,
        })
    }

    fn method(
        &mut self,
        file: usize,
        svc: &ast::Service,
        f: &'a ast::Function,
    ) -> Result<MethodDesc, IdlError> {
        let fname = f.name.as_str();
        let args_id = StructId(self.structs.len());
        self.structs.push(StructDesc::new(
            format!("{}.{fname}_args", svc.name.as_str()),
            StructKind::Args,
            Vec::new(),
        ));
        let args = self.fields(file, fname, &f.arguments, args_id)?;
        self.structs[args_id.0] = StructDesc::new(
            format!("{}.{fname}_args", svc.name.as_str()),
            StructKind::Args,
            args,
        );
        let void = matches!(f.result_type.0, ast::Ty::Void);
        let mut result = Vec::new();
        if !void {
            result.push(FieldDesc {
                id: 0,
                name: "success".to_owned(),
                requiredness: Requiredness::Optional,
                ty: self.ty(file, fname, &f.result_type)?,
            });
        }
        let res_id = StructId(self.structs.len());
        self.structs.push(StructDesc::new(
            String::new(),
            StructKind::Result,
            Vec::new(),
        ));
        let mut throws = self.fields(file, fname, &f.throws, res_id)?;
        for t in &mut throws {
            t.requiredness = Requiredness::Optional;
        }
        result.extend(throws);
        self.structs[res_id.0] = StructDesc::new(
            format!("{}.{fname}_result", svc.name.as_str()),
            StructKind::Result,
            result,
        );
        let mut http_routes = Vec::new();
        for a in f.annotations.iter() {
            if let Some(verb) = a.key.strip_prefix("api.") {
                let verb = verb.to_ascii_uppercase();
                if matches!(
                    verb.as_str(),
                    "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS"
                ) {
                    http_routes.push(HttpRoute {
                        method: verb,
                        path: a.value.0.clone(),
                    });
                }
            }
        }
        Ok(MethodDesc {
            name: fname.to_owned(),
            oneway: f.oneway,
            args: args_id,
            result: res_id,
            void,
            http_routes,
        })
    }

    fn fields(
        &mut self,
        file: usize,
        owner: &str,
        fields: &'a [ast::Field],
        sid: StructId,
    ) -> Result<Vec<FieldDesc>, IdlError> {
        let mut out: Vec<FieldDesc> = Vec::with_capacity(fields.len());
        for f in fields {
            let name = f.name.as_str();
            let id = i16::try_from(f.id).map_err(|_| {
                self.err(
                    file,
                    &[owner, name],
                    format!("field {name} has id {}, expected -32768..=32767", f.id),
                )
            })?;
            if out.iter().any(|o| o.id == id) {
                return Err(self.err(
                    file,
                    &[owner, name],
                    format!("duplicate field id {id} in {owner}"),
                ));
            }
            if out.iter().any(|o| o.name == name) {
                return Err(self.err(
                    file,
                    &[owner, name],
                    format!("duplicate field name {name} in {owner}"),
                ));
            }
            let requiredness = match f.attribute {
                ast::Attribute::Required => Requiredness::Required,
                ast::Attribute::Optional => Requiredness::Optional,
                ast::Attribute::Default => Requiredness::Default,
            };
            for a in f.annotations.iter().chain(f.ty.1.iter()) {
                // An empty name (`api.query = ""`) means the field's own.
                let key = || match a.value.0.as_str() {
                    "" => name.to_owned(),
                    v => v.to_owned(),
                };
                let src = match a.key.as_str() {
                    "api.query" => Some(HttpSource::Query(key())),
                    "api.path" => Some(HttpSource::Path(key())),
                    "api.header" => Some(HttpSource::Header(key())),
                    "api.cookie" => Some(HttpSource::Cookie(key())),
                    "api.form" => Some(HttpSource::Form(key())),
                    "api.body" => Some(HttpSource::Body(key())),
                    "api.raw_body" => Some(HttpSource::RawBody),
                    "api.http_code" => Some(HttpSource::HttpCode),
                    _ => None,
                };
                if let Some(src) = src {
                    self.http_fields.insert((sid.0, id), src);
                }
            }
            out.push(FieldDesc {
                id,
                name: name.to_owned(),
                requiredness,
                ty: self.ty(file, owner, &f.ty)?,
            });
        }
        Ok(out)
    }

    fn ty(&mut self, file: usize, owner: &str, t: &'a ast::Type) -> Result<Type, IdlError> {
        self.ty_depth(file, owner, t, 0)
    }

    fn ty_depth(
        &mut self,
        file: usize,
        owner: &str,
        t: &'a ast::Type,
        depth: usize,
    ) -> Result<Type, IdlError> {
        if depth > MAX_NESTING {
            return Err(self.err(
                file,
                &[owner],
                format!("types nested deeper than {MAX_NESTING} in {owner}"),
            ));
        }
        Ok(match &t.0 {
            ast::Ty::Bool => Type::Bool,
            ast::Ty::Byte | ast::Ty::I8 => Type::I8,
            ast::Ty::I16 => Type::I16,
            ast::Ty::I32 => Type::I32,
            ast::Ty::I64 => Type::I64,
            ast::Ty::Double => Type::Double,
            ast::Ty::String => Type::String,
            ast::Ty::Binary => Type::Binary,
            ast::Ty::Uuid => Type::Uuid,
            ast::Ty::Void => {
                return Err(self.err(
                    file,
                    &[owner, "void"],
                    format!("void used as a value type in {owner}"),
                ));
            }
            ast::Ty::List { value, .. } => {
                Type::List(Box::new(self.ty_depth(file, owner, value, depth + 1)?))
            }
            ast::Ty::Set { value, .. } => {
                Type::Set(Box::new(self.ty_depth(file, owner, value, depth + 1)?))
            }
            ast::Ty::Map { key, value, .. } => Type::Map(
                Box::new(self.ty_depth(file, owner, key, depth + 1)?),
                Box::new(self.ty_depth(file, owner, value, depth + 1)?),
            ),
            ast::Ty::Path(p) => {
                let name = path_str(p);
                match self.find(file, &name) {
                    Some(Decl::Struct(f, s, kind)) => {
                        let key = (f, s.name.as_str().to_owned());
                        if let Some(&id) = self.struct_ids.get(&key) {
                            Type::Struct(id)
                        } else {
                            let id = StructId(self.structs.len());
                            self.structs
                                .push(StructDesc::new(String::new(), kind, Vec::new()));
                            self.struct_ids.insert(key, id);
                            self.pending.push_back((id, f, s, kind));
                            Type::Struct(id)
                        }
                    }
                    Some(Decl::Enum(f, e)) => {
                        let key = (f, e.name.as_str().to_owned());
                        if let Some(&id) = self.enum_ids.get(&key) {
                            Type::Enum(id)
                        } else {
                            let desc = self.enum_desc(f, e)?;
                            let id = EnumId(self.enums.len());
                            self.enums.push(desc);
                            self.enum_ids.insert(key, id);
                            Type::Enum(id)
                        }
                    }
                    Some(Decl::Typedef(f, td)) => {
                        self.ty_depth(f, td.alias.as_str(), &td.r#type, depth + 1)?
                    }
                    Some(Decl::Service(..)) | None => {
                        return Err(self.err(
                            file,
                            &[owner, &name],
                            format!(
                                "unknown type {name} in {owner}, expected a base type, \
                                 container, struct, union, exception, enum or typedef"
                            ),
                        ));
                    }
                }
            }
        })
    }

    fn enum_desc(&self, file: usize, e: &ast::Enum) -> Result<EnumDesc, IdlError> {
        let mut values = Vec::with_capacity(e.values.len());
        let mut next: i64 = 0;
        for v in &e.values {
            let n = v.value.map_or(next, |c| c.0);
            let val = i32::try_from(n).map_err(|_| {
                self.err(
                    file,
                    &[e.name.as_str(), v.name.as_str()],
                    format!("enum value {} = {n} does not fit in i32", v.name.as_str()),
                )
            })?;
            values.push((v.name.as_str().to_owned(), val));
            next = n + 1;
        }
        Ok(EnumDesc {
            name: self.qualified(file, e.name.as_str()),
            values,
        })
    }
}

fn path_str(p: &ast::Path) -> String {
    p.segments
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(".")
}
