//! Generic call: Thrift methods called and served with the IDL loaded at
//! run time, no generated code, as Kitex's generic call does for gateways
//! and proxies.
//!
//! ```text
//!  Idl::parse_file ─ Idl::service ─> Descriptor ─┬─ GenericClient: JSON or Value in, JSON or Value out
//!                                                └─ GenericService: a handler of any method, Value in and out
//!  BinaryClient / RawService: whole Thrift payloads forwarded without decoding
//! ```
//!
//! - [`Idl`] parses IDL (includes too) with pilota's parser, the one
//!   `wego-build` generates code from, and resolves one service into a
//!   [`Descriptor`]: methods, argument and result structs, field ids,
//!   types and requiredness, enums, typedefs resolved, exceptions.
//! - [`Value`] is a dynamic Thrift value; [`encode_struct`] and
//!   [`decode_struct`] write and read it in binary or compact through the
//!   descriptor. Encoding goes through pilota's output protocols, as
//!   generated code does, so both write the same bytes.
//! - [`GenericClient`] calls through any client stack generated clients
//!   use (a [`Client`](crate::client::Client), or one wrapped in
//!   governance layers); JSON that does not match the IDL fails with a
//!   [`ValueError`] naming the field path, before anything is sent. Its
//!   descriptor can be swapped at run time ([`DescriptorHandle`]); a call
//!   keeps the descriptor it started with.
//! - [`GenericService`] serves any method of a descriptor with one
//!   [`GenericHandler`]; [`RawService`] serves raw argument payloads.
//! - [`HttpMapper`] and [`HttpGenericClient`] map HTTP requests onto
//!   calls through the IDL's `api.*` annotations, and replies back onto
//!   HTTP responses (Kitex's HTTP generic), for gateways.
//!
//! See `docs/generic.md` for the JSON and HTTP mappings and the policies.

mod client;
mod codec;
mod descriptor;
mod error;
mod http;
mod idl;
mod json;
mod server;
mod value;

use std::sync::{Arc, RwLock};

pub use client::{BinaryClient, GenericClient};
pub use codec::{DecodeLimits, decode_struct, encode_struct, validate};
pub use descriptor::{
    Descriptor, EnumDesc, EnumId, FieldDesc, HttpRoute, HttpSource, MethodDesc, Requiredness,
    StructDesc, StructId, StructKind, Type,
};
pub use error::{CallError, ValueError};
pub use http::{HttpCall, HttpError, HttpGenericClient, HttpLimits, HttpMapper, HttpRouteError};
pub use idl::{Idl, IdlError, MAX_FILE_LEN, MAX_FILES, MAX_NESTING};
pub use json::UnknownFields;
pub use server::{GenericHandler, GenericService, RawHandler, RawService};
pub use value::{StructValue, Value};

/// What a method answered: its result, or one of its declared exceptions.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome<T> {
    /// The result; `None` for a `void` or `oneway` method.
    Success(Option<T>),
    /// A declared exception: `name` is its field name in `throws (...)`.
    Exception {
        /// The exception's field name.
        name: String,
        /// The exception struct.
        value: T,
    },
}

impl<T> Outcome<T> {
    /// Converts the carried values.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Success(v) => Outcome::Success(v.map(&mut f)),
            Outcome::Exception { name, value } => Outcome::Exception {
                name,
                value: f(value),
            },
        }
    }
}

/// A shared, replaceable descriptor: clones see the same one, and
/// [`store`](Self::store) swaps it for every later [`load`](Self::load)
/// while holders of the old `Arc` (calls in flight) keep theirs.
#[derive(Debug, Clone)]
pub struct DescriptorHandle {
    cur: Arc<RwLock<Arc<Descriptor>>>,
}

impl DescriptorHandle {
    /// A handle holding `d`.
    pub fn new(d: Descriptor) -> Self {
        Self {
            cur: Arc::new(RwLock::new(Arc::new(d))),
        }
    }

    /// The current descriptor. The lock is held only to clone the `Arc`.
    pub fn load(&self) -> Arc<Descriptor> {
        match self.cur.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the descriptor for later calls.
    pub fn store(&self, d: Descriptor) {
        self.store_arc(Arc::new(d));
    }

    /// Replaces the descriptor for later calls with one already shared.
    pub(crate) fn store_arc(&self, d: Arc<Descriptor>) {
        match self.cur.write() {
            Ok(mut g) => *g = d,
            Err(poisoned) => *poisoned.into_inner() = d,
        }
    }
}

/// Decodes a method's result struct into an [`Outcome`].
fn result_outcome(
    d: &Descriptor,
    m: &MethodDesc,
    mut res: StructValue,
) -> Result<Outcome<Value>, crate::Error> {
    if let Some(v) = res.take(0) {
        return Ok(Outcome::Success(Some(v)));
    }
    let desc = d.struct_desc(m.result);
    for f in &desc.fields {
        if f.id == 0 {
            continue;
        }
        if let Some(v) = res.take(f.id) {
            return Ok(Outcome::Exception {
                name: f.name.clone(),
                value: v,
            });
        }
    }
    if m.void {
        Ok(Outcome::Success(None))
    } else {
        Err(crate::codegen::missing_result())
    }
}

#[cfg(test)]
mod tests;
