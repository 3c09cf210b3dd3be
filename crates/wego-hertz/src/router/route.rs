//! `Route`: a type-erased request service.
//!
//! Two representations behind one type: a plain handler (always ready, so
//! it is called through an `Arc` without cloning a boxed service or
//! waiting for readiness) and any other service (boxed, cloned per call and
//! driven as a `oneshot`, as tower requires). The router's hot path — a
//! handler route with no route-level layer — is the first.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use tower::ServiceExt;
use tower::util::{BoxCloneSyncService, Oneshot};
use tower_service::Service;

use crate::BoxFuture;
use crate::extract::Request;
use crate::handler::Handler;
use crate::response::{IntoResponse, Response};

type BoxService = BoxCloneSyncService<Request, Response, Infallible>;
/// A plain handler, type-erased: called with the request, it returns the
/// handler's boxed future.
pub(crate) type HandlerFn = Arc<dyn Fn(Request) -> BoxFuture<'static, Response> + Send + Sync>;

/// A type-erased, cloneable request service: what routes, fallbacks and
/// the router itself are made of, and what router and group layers wrap.
#[derive(Clone)]
pub struct Route(Kind);

#[derive(Clone)]
enum Kind {
    Handler(HandlerFn),
    Service(BoxService),
}

impl Route {
    /// Erases a service whose response renders.
    pub fn new<S>(svc: S) -> Self
    where
        S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        Self(Kind::Service(BoxCloneSyncService::new(
            svc.map_response(IntoResponse::into_response),
        )))
    }

    /// Erases a handler (the fast path: no readiness, no boxed clone).
    pub(crate) fn from_handler<H: Handler<T>, T: 'static>(handler: H) -> Self {
        Self(Kind::Handler(Arc::new(move |req| {
            handler.clone().call(req)
        })))
    }

    /// Erases an always-ready function returning a boxed future.
    pub(crate) fn from_fn<F>(f: F) -> Self
    where
        F: Fn(Request) -> BoxFuture<'static, Response> + Send + Sync + 'static,
    {
        Self(Kind::Handler(Arc::new(f)))
    }

    /// The handler, for a plain handler route (always ready: call it).
    pub(crate) fn as_handler(&self) -> Option<&HandlerFn> {
        match &self.0 {
            Kind::Handler(f) => Some(f),
            Kind::Service(_) => None,
        }
    }

    /// Calls the route once, waiting for readiness when the service needs
    /// it.
    ///
    /// A service that is ready at once (most layered routes) is called
    /// directly; only one that is not is driven as a boxed `Oneshot`, so the
    /// usual call allocates no more than the service's own future.
    pub(crate) fn oneshot(&self, req: Request) -> RouteFuture {
        match &self.0 {
            Kind::Handler(f) => RouteFuture::boxed(f(req)),
            Kind::Service(svc) => {
                let mut svc = svc.clone();
                match svc.poll_ready(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(Ok(())) => RouteFuture::boxed_result(svc.call(req)),
                    Poll::Ready(Err(e)) => match e {},
                    Poll::Pending => RouteFuture {
                        kind: FutureKind::Service {
                            fut: Box::pin(svc.oneshot(req)),
                        },
                    },
                }
            }
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
        match &mut self.0 {
            Kind::Handler(_) => Poll::Ready(Ok(())),
            Kind::Service(svc) => svc.poll_ready(cx),
        }
    }

    fn call(&mut self, req: Request) -> RouteFuture {
        match &mut self.0 {
            Kind::Handler(f) => RouteFuture::boxed(f(req)),
            // Readiness was polled on this very service: call it.
            Kind::Service(svc) => RouteFuture::boxed_result(svc.call(req)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a [`Route`] (and of the router).
    pub struct RouteFuture {
        #[pin]
        kind: FutureKind,
    }
}

pin_project_lite::pin_project! {
    #[project = FutureKindProj]
    enum FutureKind {
        // Boxed too: inline, the response would make every `RouteFuture`
        // 152 bytes where the others are 16, and the server moves the
        // future of each request several times.
        Ready { res: Option<Box<Response>> },
        Boxed { fut: BoxFuture<'static, Response> },
        BoxedResult { fut: BoxFuture<'static, Result<Response, Infallible>> },
        // Boxed: a `Oneshot` holds a whole request until it is called,
        // and every `RouteFuture` (the server keeps one per request in the
        // connection's future) would be as large.
        Service { fut: Pin<Box<Oneshot<BoxService, Request>>> },
    }
}

impl RouteFuture {
    pub(crate) fn ready(res: Box<Response>) -> Self {
        Self {
            kind: FutureKind::Ready { res: Some(res) },
        }
    }

    pub(crate) fn boxed(fut: BoxFuture<'static, Response>) -> Self {
        Self {
            kind: FutureKind::Boxed { fut },
        }
    }

    fn boxed_result(fut: BoxFuture<'static, Result<Response, Infallible>>) -> Self {
        Self {
            kind: FutureKind::BoxedResult { fut },
        }
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
        match self.project().kind.project() {
            FutureKindProj::Ready { res } => Poll::Ready(Ok(*res
                .take()
                .expect("invariant: a RouteFuture is not polled after completion"))),
            FutureKindProj::Boxed { fut } => fut.as_mut().poll(cx).map(Ok),
            FutureKindProj::BoxedResult { fut } => fut.as_mut().poll(cx),
            FutureKindProj::Service { fut } => fut.as_mut().poll(cx),
        }
    }
}

/// A layer applied to routes, kept type-erased until the router is built.
pub(crate) type LayerFn = Arc<dyn Fn(Route) -> Route + Send + Sync>;

/// Erases a `tower::Layer` over routes.
pub(crate) fn layer_fn<L>(layer: L) -> LayerFn
where
    L: tower_layer::Layer<Route> + Send + Sync + 'static,
    L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    Arc::new(move |route| Route::new(layer.layer(route)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server moves each request's `RouteFuture` several times and keeps
    /// one in every connection's future: it stays a pointer and a tag, its
    /// ready response boxed.
    #[test]
    fn a_route_future_is_small_and_a_ready_one_answers() {
        assert!(
            size_of::<RouteFuture>() <= 24,
            "{} bytes",
            size_of::<RouteFuture>()
        );
        let res = crate::response::text(http::StatusCode::IM_A_TEAPOT, "short");
        let mut fut = std::pin::pin!(RouteFuture::ready(Box::new(res)));
        let mut cx = Context::from_waker(Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(res)) => assert_eq!(res.status(), http::StatusCode::IM_A_TEAPOT),
            _ => panic!("a ready route future answers at once"),
        }
    }
}
