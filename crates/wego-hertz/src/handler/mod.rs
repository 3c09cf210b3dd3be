//! Handlers: async functions from extractors to responses.
//!
//! Any `async fn` (or closure returning a future) whose arguments implement
//! [`FromRequestParts`] — except the last, which may implement
//! [`FromRequest`] — and whose output implements [`IntoResponse`] is a
//! [`Handler`], for up to 8 arguments. The router turns handlers into
//! services with [`HandlerService`]; [`Handler::layer`] wraps one handler in a
//! `tower::Layer`.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::ServiceExt;
use tower_layer::Layer;
use tower_service::Service;

use crate::BoxFuture;
use crate::extract::{FromRequest, FromRequestParts, Request};
use crate::response::{IntoResponse, Response};

/// An async function usable as a request handler.
///
/// `T` is a marker of the argument list; it lets one function type implement
/// `Handler` for its own argument types only. Implemented for functions
/// with up to 8 extractor arguments.
pub trait Handler<T>: Clone + Send + Sync + Sized + 'static {
    /// Runs the handler on a request.
    fn call(self, req: Request) -> BoxFuture<'static, Response>;

    /// Wraps this handler in a `tower::Layer` (route-level middleware).
    fn layer<L>(self, layer: L) -> Layered<L, Self, T> {
        Layered {
            layer,
            handler: self,
            _marker: PhantomData,
        }
    }

    /// Turns this handler into a `tower::Service`.
    fn into_service(self) -> HandlerService<Self, T> {
        HandlerService::new(self)
    }
}

impl<F, Fut, R> Handler<((),)> for F
where
    F: FnOnce() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send,
    R: IntoResponse,
{
    fn call(self, req: Request) -> BoxFuture<'static, Response> {
        crate::recycle::give_back_parts(req.into_parts().0);
        Box::pin(async move { self().await.into_response() })
    }
}

macro_rules! impl_handler {
    ([$($ty:ident),*], $last:ident) => {
        #[allow(non_snake_case, unused_mut)]
        impl<F, Fut, R, M, $($ty,)* $last> Handler<(M, $($ty,)* $last,)> for F
        where
            F: FnOnce($($ty,)* $last,) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send,
            R: IntoResponse,
            $( $ty: FromRequestParts + Send, )*
            $last: FromRequest<M> + Send,
        {
            fn call(self, req: Request) -> BoxFuture<'static, Response> {
                Box::pin(async move {
                    let (mut parts, body) = req.into_parts();
                    $(
                        let $ty = match $ty::from_request_parts(&mut parts).await {
                            Ok(v) => v,
                            Err(rejection) => return rejection.into_response(),
                        };
                    )*
                    let req = Request::from_parts(parts, body);
                    let $last = match $last::from_request(req).await {
                        Ok(v) => v,
                        Err(rejection) => return rejection.into_response(),
                    };
                    self($($ty,)* $last,).await.into_response()
                })
            }
        }
    };
}

impl_handler!([], T1);
impl_handler!([T1], T2);
impl_handler!([T1, T2], T3);
impl_handler!([T1, T2, T3], T4);
impl_handler!([T1, T2, T3, T4], T5);
impl_handler!([T1, T2, T3, T4, T5], T6);
impl_handler!([T1, T2, T3, T4, T5, T6], T7);
impl_handler!([T1, T2, T3, T4, T5, T6, T7], T8);

/// A [`Handler`] as a `tower::Service`.
pub struct HandlerService<H, T> {
    handler: H,
    _marker: PhantomData<fn() -> T>,
}

impl<H, T> HandlerService<H, T> {
    /// Wraps `handler`.
    pub fn new(handler: H) -> Self {
        Self {
            handler,
            _marker: PhantomData,
        }
    }
}

impl<H: Clone, T> Clone for HandlerService<H, T> {
    fn clone(&self) -> Self {
        Self::new(self.handler.clone())
    }
}

impl<H, T> fmt::Debug for HandlerService<H, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerService").finish_non_exhaustive()
    }
}

impl<H: Handler<T>, T> Service<Request> for HandlerService<H, T> {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        ResponseFuture {
            inner: self.handler.clone().call(req),
        }
    }
}

/// The future of [`HandlerService`].
pub struct ResponseFuture {
    inner: BoxFuture<'static, Response>,
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}

/// A handler wrapped in a layer; see [`Handler::layer`].
pub struct Layered<L, H, T> {
    layer: L,
    handler: H,
    _marker: PhantomData<fn() -> T>,
}

impl<L: Clone, H: Clone, T> Clone for Layered<L, H, T> {
    fn clone(&self) -> Self {
        Self {
            layer: self.layer.clone(),
            handler: self.handler.clone(),
            _marker: PhantomData,
        }
    }
}

impl<L, H, T> fmt::Debug for Layered<L, H, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layered").finish_non_exhaustive()
    }
}

impl<L, H, T, S> Handler<(Layered<(), (), ()>, T)> for Layered<L, H, T>
where
    L: Layer<HandlerService<H, T>, Service = S> + Clone + Send + Sync + 'static,
    H: Handler<T>,
    T: 'static,
    S: Service<Request, Error = Infallible> + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send,
{
    fn call(self, req: Request) -> BoxFuture<'static, Response> {
        let svc = self.layer.layer(HandlerService::new(self.handler));
        Box::pin(async move {
            match svc.oneshot(req).await {
                Ok(res) => res.into_response(),
                Err(e) => match e {},
            }
        })
    }
}

#[cfg(test)]
mod tests;
