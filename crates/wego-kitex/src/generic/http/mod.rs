//! HTTP generic call (Kitex's `HTTPThriftGeneric`): an HTTP request is
//! mapped onto a Thrift call through the IDL's hz-style `api.*`
//! annotations, and the reply back onto an HTTP response, so that a
//! gateway serves a Thrift service over HTTP from its IDL alone.
//!
//! ```text
//!  http::Request<Bytes> ─ HttpMapper::map_request ─> HttpCall (method, argument struct)
//!        routes: api.get/post/... ─┘   fields: api.query/path/header/cookie/form/body/raw_body
//!  HttpCall ─ GenericClient ─> Outcome<Value> ─ HttpMapper::map_outcome ─> http::Response<Bytes>
//!                            fields: api.http_code/header/cookie/body/raw_body ─┘
//! ```
//!
//! [`HttpMapper`] is the pure half: the route table compiled from one
//! descriptor, and the two mappings; no I/O. [`HttpGenericClient`] puts it
//! in front of a [`GenericClient`]: errors become responses with the
//! statuses of [`HttpError::status`], and a descriptor swapped in through
//! the client's [`DescriptorHandle`](super::DescriptorHandle) rebuilds the route table for the
//! requests that follow, while requests in flight finish with the
//! descriptor they were mapped with.
//!
//! The types here are the `http` crate's, so any HTTP server can sit in
//! front (wego-hertz in the `gateway` example). See `docs/generic.md` for
//! the rules and the reasons behind them.

mod error;
mod request;
mod response;
mod route;
mod text;

use std::sync::{Arc, RwLock};

use bytes::Bytes;

pub use error::HttpError;
pub use route::HttpRouteError;

use super::json::UnknownFields;
use super::{CallError, Descriptor, GenericClient, StructValue};
use crate::Error;
use crate::client::{Client, ClientRequest, ClientResponse};
use route::RouteTable;

/// Limits on what an HTTP request may carry into a Thrift call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpLimits {
    /// Largest body accepted, in bytes (1 MiB by default); a larger one is
    /// [`HttpError::BodyTooLarge`] (413).
    pub max_body: usize,
    /// Most query parameters, and separately most form members and most
    /// cookies, read from one request (256 by default); more is
    /// [`HttpError::TooMany`] (400).
    pub max_params: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body: 1 << 20,
            max_params: 256,
        }
    }
}

impl HttpLimits {
    /// Sets the largest body.
    pub fn with_max_body(mut self, n: usize) -> Self {
        self.max_body = n;
        self
    }

    /// Sets the most query parameters, form members and cookies.
    pub fn with_max_params(mut self, n: usize) -> Self {
        self.max_params = n;
        self
    }
}

/// A Thrift call an HTTP request maps onto.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpCall {
    /// The Thrift method.
    pub method: String,
    /// Its argument struct (one field: the request struct).
    pub args: StructValue,
}

/// The routes and the request and reply mappings of one descriptor.
///
/// ```
/// use bytes::Bytes;
/// use std::sync::Arc;
/// use wego_kitex::generic::{HttpMapper, Idl};
///
/// let desc = Idl::parse_str("items.thrift", r#"
///     struct GetReq { 1: required i64 id (api.path = "id"), 2: optional string q (api.query = "q") }
///     struct Item { 1: i64 id, 2: string name }
///     service Items { Item get(1: GetReq req) (api.get = "/items/:id") }
/// "#)?.service("Items")?;
/// let mapper = HttpMapper::from_descriptor(Arc::new(desc))?;
/// let req = http::Request::get("/items/7?q=x").body(Bytes::new())?;
/// let call = mapper.map_request(&req)?;
/// assert_eq!(call.method, "get");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpMapper {
    desc: Arc<Descriptor>,
    routes: RouteTable,
    limits: HttpLimits,
    unknown: UnknownFields,
}

impl HttpMapper {
    /// Compiles the routes of `desc`, with the default limits, refusing
    /// JSON members the IDL does not declare.
    ///
    /// # Errors
    ///
    /// [`HttpRouteError`] for a malformed pattern, two routes that
    /// conflict, or a routed method without one struct argument.
    pub fn from_descriptor(desc: Arc<Descriptor>) -> Result<Self, HttpRouteError> {
        let routes = RouteTable::build(&desc)?;
        Ok(Self {
            desc,
            routes,
            limits: HttpLimits::default(),
            unknown: UnknownFields::Reject,
        })
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets what happens to members of a JSON body no field reads
    /// (default: refused).
    pub fn with_unknown_fields(mut self, policy: UnknownFields) -> Self {
        self.unknown = policy;
        self
    }

    /// The descriptor the routes come from.
    pub fn descriptor(&self) -> &Arc<Descriptor> {
        &self.desc
    }

    /// The limits.
    pub fn limits(&self) -> HttpLimits {
        self.limits
    }

    /// Every route: HTTP method, pattern, Thrift method.
    pub fn routes(&self) -> impl Iterator<Item = (&http::Method, &str, &str)> {
        self.routes
            .routes()
            .map(|(v, p, mi)| (v, p, self.desc.methods()[mi].name.as_str()))
    }
}

/// Answers HTTP requests by calling a Thrift service through a
/// [`GenericClient`]: Kitex's HTTP generic client.
///
/// Clones share the client, its descriptor handle and the compiled
/// routes. When the handle holds a new descriptor (swapped through
/// [`GenericClient::update_descriptor`] on any clone, or
/// [`update_descriptor`](Self::update_descriptor) here), the next request
/// compiles its routes once; requests in flight keep the mapper they
/// started with, and are sent with its descriptor.
#[derive(Debug, Clone)]
pub struct HttpGenericClient<S = Client> {
    generic: GenericClient<S>,
    /// The mapper of the last descriptor seen; its limits are the
    /// client's.
    mapper: Arc<RwLock<Arc<HttpMapper>>>,
}

impl<S> HttpGenericClient<S>
where
    S: tower_service::Service<ClientRequest, Response = ClientResponse, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    /// Compiles the routes of `generic`'s descriptor, with the default
    /// limits. Members of a JSON body no field reads follow `generic`'s
    /// [`unknown_fields`](GenericClient::unknown_fields) policy.
    ///
    /// # Errors
    ///
    /// [`HttpRouteError`] when the routes do not compile.
    pub fn from_client(generic: GenericClient<S>) -> Result<Self, HttpRouteError> {
        let mapper = HttpMapper::from_descriptor(generic.descriptor())?
            .with_unknown_fields(generic.unknown_fields());
        Ok(Self {
            generic,
            mapper: Arc::new(RwLock::new(Arc::new(mapper))),
        })
    }

    /// Sets the limits on requests (for every clone).
    pub fn with_limits(self, limits: HttpLimits) -> Self {
        {
            let mut slot = match self.mapper.write() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            *slot = Arc::new((**slot).clone().with_limits(limits));
        }
        self
    }

    fn current(&self) -> Arc<HttpMapper> {
        match self.mapper.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The generic client calls go through.
    pub fn generic_client(&self) -> &GenericClient<S> {
        &self.generic
    }

    /// The limits.
    pub fn limits(&self) -> HttpLimits {
        self.current().limits()
    }

    /// Compiles `desc`'s routes and, if they compile, swaps it in for the
    /// requests that follow (on every clone, and for the generic client).
    ///
    /// # Errors
    ///
    /// [`HttpRouteError`] when the routes do not compile; the current
    /// descriptor stays.
    pub fn update_descriptor(&self, desc: Descriptor) -> Result<(), HttpRouteError> {
        let desc = Arc::new(desc);
        let mapper = self.compile(desc.clone())?;
        let mut slot = match self.mapper.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.generic.descriptor_handle().store_arc(desc);
        *slot = Arc::new(mapper);
        Ok(())
    }

    /// The mapper of the handle's current descriptor, compiled now if the
    /// descriptor changed since the last request.
    ///
    /// # Errors
    ///
    /// [`HttpRouteError`] when a descriptor swapped into the handle
    /// elsewhere has routes that do not compile.
    pub fn mapper(&self) -> Result<Arc<HttpMapper>, HttpRouteError> {
        let d = self.generic.descriptor_handle().load();
        let cur = self.current();
        if Arc::ptr_eq(cur.descriptor(), &d) {
            return Ok(cur);
        }
        let fresh = Arc::new(self.compile(d)?);
        let mut slot = match self.mapper.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = fresh.clone();
        Ok(fresh)
    }

    fn compile(&self, d: Arc<Descriptor>) -> Result<HttpMapper, HttpRouteError> {
        Ok(HttpMapper::from_descriptor(d)?
            .with_limits(self.limits())
            .with_unknown_fields(self.generic.unknown_fields()))
    }

    /// Answers `req`: maps it, calls the backend, maps the reply. Every
    /// failure is answered too, with [`HttpError::to_response`]; a 5xx
    /// one is logged (`tracing`, warn) with its cause chain, which the
    /// response leaves out.
    pub async fn call(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        match self.try_call(req).await {
            Ok(resp) => resp,
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::warn!(error = %e.chain(), status = e.status().as_u16(), "http generic call failed");
                }
                e.to_response()
            }
        }
    }

    /// [`call`](Self::call), with the failures as errors.
    ///
    /// # Errors
    ///
    /// An [`HttpError`]: a request that does not map (4xx, nothing sent),
    /// a backend that fails (502) or times out (504), a reply that does
    /// not map (502), routes that do not compile (500).
    pub async fn try_call(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let mapper = self.mapper().map_err(|e| HttpError::Routes(Box::new(e)))?;
        let call = mapper.map_request(&req)?;
        let out = self
            .generic
            .call_value_in(mapper.descriptor().clone(), &call.method, call.args)
            .await
            .map_err(|e| match e {
                CallError::Request(v) => HttpError::Request(v),
                CallError::Reply(v) => HttpError::Reply(v),
                CallError::Call(e) if e.is_timeout() => HttpError::Timeout(e),
                CallError::Call(e) => HttpError::Backend(e),
            })?;
        mapper.map_outcome(&call.method, out)
    }
}

#[cfg(test)]
mod tests;
