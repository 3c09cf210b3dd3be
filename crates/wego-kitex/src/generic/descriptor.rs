//! The descriptor of a Thrift service built from IDL at run time.
//!
//! Types refer to structs and enums by index ([`StructId`], [`EnumId`])
//! into the descriptor's tables, so recursive types (`struct Node { 1:
//! optional Node next }`) need no reference cycles. Typedefs are resolved
//! away: a field declared `UserId` has the type `UserId` stands for.

use std::collections::HashMap;

/// Index of a struct, union or exception in a [`Descriptor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StructId(pub(crate) usize);

/// Index of an enum in a [`Descriptor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnumId(pub(crate) usize);

/// A Thrift type, typedefs resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Type {
    /// `bool`.
    Bool,
    /// `i8` (also `byte`).
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `double`.
    Double,
    /// `string` (UTF-8).
    String,
    /// `binary`.
    Binary,
    /// `uuid` (16 bytes).
    Uuid,
    /// `list<T>`.
    List(Box<Type>),
    /// `set<T>`.
    Set(Box<Type>),
    /// `map<K, V>`.
    Map(Box<Type>, Box<Type>),
    /// A struct, union or exception.
    Struct(StructId),
    /// An enum (an `i32` on the wire).
    Enum(EnumId),
}

impl Type {
    /// The Thrift type code on the wire (`TType`).
    pub fn ttype(&self) -> u8 {
        match self {
            Type::Bool => 2,
            Type::I8 => 3,
            Type::Double => 4,
            Type::I16 => 6,
            Type::I32 | Type::Enum(_) => 8,
            Type::I64 => 10,
            Type::String | Type::Binary => 11,
            Type::Struct(_) => 12,
            Type::Map(..) => 13,
            Type::Set(_) => 14,
            Type::List(_) => 15,
            Type::Uuid => 16,
        }
    }
}

/// Whether a field must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requiredness {
    /// `required`: encoding and decoding fail without it.
    Required,
    /// `optional`.
    Optional,
    /// Neither keyword: written when set, accepted when absent.
    Default,
}

/// What kind of struct-like declaration a [`StructDesc`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StructKind {
    /// `struct`.
    Struct,
    /// `union`: at most one field set.
    Union,
    /// `exception`.
    Exception,
    /// The argument struct of a method (synthesised).
    Args,
    /// The result struct of a method (synthesised: field 0 `success`, then
    /// the declared exceptions).
    Result,
}

/// One field of a struct.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FieldDesc {
    /// The field id.
    pub id: i16,
    /// The field name (the JSON key).
    pub name: String,
    /// Whether it must be present.
    pub requiredness: Requiredness,
    /// Its type.
    pub ty: Type,
}

/// A struct, union, exception, or a method's argument or result struct.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StructDesc {
    /// The name (qualified with its file's name when included:
    /// `shared.Error`); `Service.method_args` / `_result` for synthesised ones.
    pub name: String,
    /// What it is.
    pub kind: StructKind,
    /// The fields in declaration order (the order they are written in).
    pub fields: Vec<FieldDesc>,
    by_id: HashMap<i16, usize>,
    by_name: HashMap<String, usize>,
}

impl StructDesc {
    pub(crate) fn new(name: String, kind: StructKind, fields: Vec<FieldDesc>) -> Self {
        let by_id = fields.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
        let by_name = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        Self {
            name,
            kind,
            fields,
            by_id,
            by_name,
        }
    }

    /// The field with id `id`.
    pub fn field_by_id(&self, id: i16) -> Option<&FieldDesc> {
        self.by_id.get(&id).map(|&i| &self.fields[i])
    }

    /// The field named `name`.
    pub fn field_by_name(&self, name: &str) -> Option<&FieldDesc> {
        self.by_name.get(name).map(|&i| &self.fields[i])
    }
}

/// An enum: names and values.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnumDesc {
    /// The name (qualified when included).
    pub name: String,
    /// The values in declaration order.
    pub values: Vec<(String, i32)>,
}

impl EnumDesc {
    /// The value named `name`.
    pub fn value_of(&self, name: &str) -> Option<i32> {
        self.values.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }

    /// The name of value `v`.
    pub fn name_of(&self, v: i32) -> Option<&str> {
        self.values
            .iter()
            .find(|&&(_, x)| x == v)
            .map(|(n, _)| n.as_str())
    }
}

/// An HTTP route taken from a method's `api.*` annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRoute {
    /// The HTTP method, upper case (`GET`, `POST`, ...).
    pub method: String,
    /// The path pattern, with `:name` segments.
    pub path: String,
}

/// One method of the service.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MethodDesc {
    /// The method name.
    pub name: String,
    /// `oneway`: no reply.
    pub oneway: bool,
    /// The argument struct.
    pub args: StructId,
    /// The result struct: field 0 `success` unless the method is `void`,
    /// then one field per declared exception.
    pub result: StructId,
    /// Whether the method returns `void`.
    pub void: bool,
    /// The routes of its `api.get` / `api.post` / ... annotations.
    pub http_routes: Vec<HttpRoute>,
}

/// Where a field of an HTTP-mapped struct comes from, or goes to: its
/// `api.*` annotation (hz's names). See [`HttpMapper`](super::HttpMapper)
/// for how each is read from a request and written to a response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpSource {
    /// `api.query = "name"`: a query parameter.
    Query(String),
    /// `api.path = "name"`: a `:name` segment of the route.
    Path(String),
    /// `api.header = "name"`: a request header, or a response header.
    Header(String),
    /// `api.cookie = "name"`: a request cookie, or a `Set-Cookie`.
    Cookie(String),
    /// `api.form = "name"`: a member of an urlencoded form body.
    Form(String),
    /// `api.body = "name"`: a key of the JSON body.
    Body(String),
    /// `api.raw_body`: the whole body, for a `binary` or `string` field.
    RawBody,
    /// `api.http_code`: the response status, for an integer field.
    HttpCode,
}

/// A Thrift service with every type it reaches, built from IDL by
/// [`Idl::service`](super::Idl::service).
///
/// Cheap to share behind an `Arc`; immutable once built.
#[derive(Debug, Clone)]
pub struct Descriptor {
    pub(crate) service: String,
    pub(crate) methods: Vec<MethodDesc>,
    pub(crate) by_method: HashMap<String, usize>,
    pub(crate) structs: Vec<StructDesc>,
    pub(crate) enums: Vec<EnumDesc>,
    /// `api.*` field annotations: (struct, field id) → source.
    pub(crate) http_fields: HashMap<(usize, i16), HttpSource>,
}

impl Descriptor {
    /// The service name.
    pub fn service_name(&self) -> &str {
        &self.service
    }

    /// The methods, those of extended services included.
    pub fn methods(&self) -> &[MethodDesc] {
        &self.methods
    }

    /// The method named `name`.
    pub fn method(&self, name: &str) -> Option<&MethodDesc> {
        self.by_method.get(name).map(|&i| &self.methods[i])
    }

    /// The struct `id` refers to.
    ///
    /// # Panics
    ///
    /// If `id` comes from another descriptor with fewer structs.
    pub fn struct_desc(&self, id: StructId) -> &StructDesc {
        &self.structs[id.0]
    }

    /// The enum `id` refers to.
    ///
    /// # Panics
    ///
    /// If `id` comes from another descriptor with fewer enums.
    pub fn enum_desc(&self, id: EnumId) -> &EnumDesc {
        &self.enums[id.0]
    }

    /// The struct named `name` (qualified for included files: `shared.Error`).
    pub fn struct_by_name(&self, name: &str) -> Option<StructId> {
        self.structs
            .iter()
            .position(|s| s.name == name)
            .map(StructId)
    }

    /// The `api.*` annotation of field `id` of struct `s`, if any.
    pub fn http_source(&self, s: StructId, id: i16) -> Option<&HttpSource> {
        self.http_fields.get(&(s.0, id))
    }

    pub(crate) fn get_struct(&self, id: StructId) -> Option<&StructDesc> {
        self.structs.get(id.0)
    }

    pub(crate) fn get_enum(&self, id: EnumId) -> Option<&EnumDesc> {
        self.enums.get(id.0)
    }
}
