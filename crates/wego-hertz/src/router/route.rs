//! `Route`: a type-erased request service.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::ServiceExt;
use tower::util::BoxCloneSyncService;
use tower_service::Service;

use crate::extract::Request;
use crate::response::{IntoResponse, Response};

/// A type-erased, cloneable request service: what routes, fallbacks and
/// the router itself are made of, and what router and group layers wrap.
#[derive(Clone)]
pub struct Route(BoxCloneSyncService<Request, Response, Infallible>);

impl Route {
    /// Erases a service whose response renders.
    pub fn new<S>(svc: S) -> Self
    where
        S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        Self(BoxCloneSyncService::new(
            svc.map_response(IntoResponse::into_response),
        ))
    }

    /// Calls the route once (no readiness wait: routes are always ready).
    pub(crate) fn oneshot(&self, req: Request) -> RouteFuture {
        RouteFuture {
            inner: self.0.clone().oneshot(req),
        }
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route").finish_non_exhaustive()
    }
}

impl Service<Request> for Route {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> RouteFuture {
        RouteFuture {
            inner: self.0.clone().oneshot(req),
        }
    }
}

type Oneshot = tower::util::Oneshot<BoxCloneSyncService<Request, Response, Infallible>, Request>;

pin_project_lite::pin_project! {
    /// The future of a [`Route`] (and of the router).
    pub struct RouteFuture {
        #[pin]
        inner: Oneshot,
    }
}

impl fmt::Debug for RouteFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteFuture").finish_non_exhaustive()
    }
}

impl Future for RouteFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

/// A layer applied to routes, kept type-erased until the router is built.
pub(crate) type LayerFn = std::sync::Arc<dyn Fn(Route) -> Route + Send + Sync>;

/// Erases a `tower::Layer` over routes.
pub(crate) fn layer_fn<L>(layer: L) -> LayerFn
where
    L: tower_layer::Layer<Route> + Send + Sync + 'static,
    L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    std::sync::Arc::new(move |route| Route::new(layer.layer(route)))
}
