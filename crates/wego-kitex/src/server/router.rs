//! The [`ThriftRouter`]: dispatches calls to services by method name.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use pilota::FastStr;

use super::{ThriftReply, ThriftRequest};
use crate::thrift::{ApplicationException, ExceptionKind};
use crate::{BoxError, BoxFuture};

/// The tables' hasher: foldhash rather than SipHash, since every call looks
/// a method up and the keys are the server's own names, not the peer's.
type Hasher = foldhash::fast::RandomState;

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
    name: FastStr,
    svc: Arc<dyn Erased>,
}

/// Dispatches calls to services by method name (or `service:method`).
///
/// Handler errors become `TApplicationException`s of kind
/// `InternalError`; a method no service routes goes to the fallback
/// service when there is one, and otherwise gets `UnknownMethod`.
#[derive(Clone, Default)]
pub struct ThriftRouter {
    /// Shared by clones: the server clones the router for every call.
    table: Arc<Table>,
}

#[derive(Clone, Default)]
struct Table {
    entries: Vec<Arc<Entry>>,
    /// A method's entry, and its name to share with each call's `RpcInfo`.
    by_method: HashMap<String, (usize, FastStr), Hasher>,
    by_service: HashMap<String, usize, Hasher>,
    fallback: Option<usize>,
}

impl std::fmt::Debug for ThriftRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.table.entries.iter().map(|e| &e.name))
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
        let t = Arc::make_mut(&mut self.table);
        let idx = t.entries.len();
        t.entries.push(Arc::new(Entry {
            name: FastStr::new(name),
            svc: Arc::new(Adapter(svc)),
        }));
        for m in methods {
            t.by_method
                .entry((*m).to_owned())
                .or_insert_with(|| (idx, FastStr::new(m)));
        }
        t.by_service.entry(name.to_owned()).or_insert(idx);
    }

    /// Sets the service that receives every method no other service
    /// routes (a generic service whose IDL can change at run time); the
    /// first fallback set stays.
    pub fn set_fallback<S>(&mut self, name: &str, svc: S)
    where
        S: tower_service::Service<ThriftRequest, Response = ThriftReply>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        if self.table.fallback.is_some() {
            return;
        }
        self.add(name, &[], svc);
        let t = Arc::make_mut(&mut self.table);
        t.fallback = Some(t.entries.len() - 1);
    }

    /// Whether no service is registered.
    pub fn is_empty(&self) -> bool {
        self.table.entries.is_empty()
    }

    /// Where the envelope name `name` (a method, or `service:method`) is
    /// served: looked up once per call, by the server before it builds the
    /// call's `RpcInfo` and by [`Service::call`](tower_service::Service::call).
    pub(crate) fn route(&self, name: &str) -> Option<Routed> {
        let t = &*self.table;
        let (idx, method, prefixed) = match name.split_once(':') {
            Some((svc, m)) => (*t.by_service.get(svc)?, FastStr::new(m), true),
            None => match t.by_method.get(name) {
                Some((idx, m)) => (*idx, m.clone(), false),
                None => (t.fallback?, FastStr::new(name), false),
            },
        };
        let entry = t.entries[idx].clone();
        Some(Routed {
            callee: entry.name.clone(),
            entry,
            method,
            prefixed,
        })
    }

    /// Serves `req` where [`route`](Self::route) sent it; `None` answers
    /// `UnknownMethod`. Boxed, for the router's own `Service` impl.
    pub(crate) fn serve(
        routed: Option<Routed>,
        req: ThriftRequest,
    ) -> BoxFuture<'static, Result<ThriftReply, Infallible>> {
        Box::pin(Self::serve_inline(routed, req))
    }

    /// [`serve`](Self::serve) as a plain future, for a caller that is a
    /// boxed future already (the server's per-frame future): one
    /// allocation fewer per call.
    pub(crate) async fn serve_inline(
        routed: Option<Routed>,
        mut req: ThriftRequest,
    ) -> Result<ThriftReply, Infallible> {
        let Some(routed) = routed else {
            return Ok(ThriftReply::Exception(ApplicationException::new(
                ExceptionKind::UnknownMethod,
                format!("unknown method {}", req.header.name),
            )));
        };
        if routed.prefixed {
            req.header.name = routed.method.to_string();
        }
        match routed.entry.svc.call(req).await {
            Ok(r) => Ok(r),
            Err(e) => Ok(ThriftReply::Exception(handler_error(&e))),
        }
    }
}

/// A call's route: the service serving it, and the names its `RpcInfo`
/// carries.
pub(crate) struct Routed {
    entry: Arc<Entry>,
    /// The serving service's name.
    pub(crate) callee: FastStr,
    /// The method, without a `service:` prefix.
    pub(crate) method: FastStr,
    /// Whether the envelope's name carried a `service:` prefix.
    prefixed: bool,
}

impl tower_service::Service<ThriftRequest> for ThriftRouter {
    type Response = ThriftReply;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<ThriftReply, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ThriftRequest) -> Self::Future {
        Self::serve(self.route(&req.header.name), req)
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
