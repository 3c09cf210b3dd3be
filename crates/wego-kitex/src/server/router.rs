//! Requests, replies and the [`ThriftRouter`] that dispatches by method name.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::metainfo::CallContext;
use crate::thrift::{ApplicationException, ExceptionKind, MessageHeader, Protocol};
use crate::{BoxError, BoxFuture};

/// A decoded Thrift call as it reaches a service.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ThriftRequest {
    /// The protocol of the envelope and the arguments.
    pub protocol: Protocol,
    /// The envelope; `name` is the method (a `service:` prefix is stripped).
    pub header: MessageHeader,
    /// The encoded argument struct.
    pub args: Bytes,
    /// RpcInfo and metainfo.
    pub context: Arc<CallContext>,
}

impl ThriftRequest {
    /// A request for `method` carrying encoded `args`.
    pub fn new(
        protocol: Protocol,
        header: MessageHeader,
        args: Bytes,
        context: Arc<CallContext>,
    ) -> Self {
        Self {
            protocol,
            header,
            args,
            context,
        }
    }
}

/// What a service answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ThriftReply {
    /// An encoded result struct (success or a declared exception).
    Result(Bytes),
    /// A `TApplicationException`.
    Exception(ApplicationException),
    /// No reply (oneway calls).
    None,
}

trait Erased: Send + Sync {
    fn call(&self, req: ThriftRequest) -> BoxFuture<'static, Result<ThriftReply, BoxError>>;
}

struct Adapter<S>(S);

impl<S> Erased for Adapter<S>
where
    S: tower_service::Service<ThriftRequest, Response = ThriftReply>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    fn call(&self, req: ThriftRequest) -> BoxFuture<'static, Result<ThriftReply, BoxError>> {
        let mut svc = self.0.clone();
        Box::pin(async move {
            std::future::poll_fn(|cx| svc.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            svc.call(req).await.map_err(Into::into)
        })
    }
}

struct Entry {
    name: String,
    svc: Arc<dyn Erased>,
}

/// Dispatches calls to services by method name (or `service:method`).
///
/// Handler errors become `TApplicationException`s of kind
/// `InternalError`; an unknown method gets `UnknownMethod`.
#[derive(Clone, Default)]
pub struct ThriftRouter {
    entries: Vec<Arc<Entry>>,
    by_method: HashMap<String, usize>,
    by_service: HashMap<String, usize>,
}

impl std::fmt::Debug for ThriftRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.name))
            .finish()
    }
}

impl ThriftRouter {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a service; a method already routed keeps its first service.
    pub fn add<S>(&mut self, name: &str, methods: &[&str], svc: S)
    where
        S: tower_service::Service<ThriftRequest, Response = ThriftReply>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let idx = self.entries.len();
        self.entries.push(Arc::new(Entry {
            name: name.to_owned(),
            svc: Arc::new(Adapter(svc)),
        }));
        for m in methods {
            self.by_method.entry((*m).to_owned()).or_insert(idx);
        }
        self.by_service.entry(name.to_owned()).or_insert(idx);
    }

    /// Whether no service is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The callee service name for `method`, as routed.
    pub(crate) fn route<'a>(&'a self, method: &'a str) -> Option<(&'a str, &'a str)> {
        if let Some((svc, m)) = method.split_once(':') {
            let idx = *self.by_service.get(svc)?;
            return Some((self.entries[idx].name.as_str(), m));
        }
        let idx = *self.by_method.get(method)?;
        Some((self.entries[idx].name.as_str(), method))
    }

    fn lookup(&self, method: &str) -> Option<(Arc<Entry>, String)> {
        if let Some((svc, m)) = method.split_once(':') {
            let idx = *self.by_service.get(svc)?;
            return Some((self.entries[idx].clone(), m.to_owned()));
        }
        let idx = *self.by_method.get(method)?;
        Some((self.entries[idx].clone(), method.to_owned()))
    }
}

impl tower_service::Service<ThriftRequest> for ThriftRouter {
    type Response = ThriftReply;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<ThriftReply, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: ThriftRequest) -> Self::Future {
        let Some((entry, method)) = self.lookup(&req.header.name) else {
            let e = ApplicationException::new(
                ExceptionKind::UnknownMethod,
                format!("unknown method {}", req.header.name),
            );
            return Box::pin(async move { Ok(ThriftReply::Exception(e)) });
        };
        req.header.name = method;
        Box::pin(async move {
            match entry.svc.call(req).await {
                Ok(r) => Ok(r),
                Err(e) => Ok(ThriftReply::Exception(handler_error(&e))),
            }
        })
    }
}

/// The `TApplicationException` a handler's error becomes: `INTERNAL_ERROR`
/// with its text (naming the refusal when a governance layer refused).
fn handler_error(e: &BoxError) -> ApplicationException {
    #[cfg(feature = "governance")]
    return super::governance::refusal_exception(e);
    #[cfg(not(feature = "governance"))]
    return ApplicationException::new(ExceptionKind::InternalError, e.to_string());
}
