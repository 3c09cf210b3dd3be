//! Route groups: a shared prefix and middleware for a set of routes.

use std::convert::Infallible;

use http::Method;
use tower_service::Service;

use super::Route;
use super::method::MethodFilter;
use super::route::{LayerFn, layer_fn};
use crate::extract::Request;
use crate::handler::Handler;
use crate::response::IntoResponse;

/// Routes under one prefix sharing middleware; built inside
/// [`super::Router::group`].
///
/// The group's layers wrap every route of the group (whenever it was added)
/// and nothing else; the first layer added is the innermost. Nested groups
/// join prefixes, and the outer group's layers wrap the inner group's.
///
/// ```
/// # use wego_hertz::Router;
/// # use wego_hertz::middleware::BasicAuthLayer;
/// let app = Router::new().group("/admin", |g| {
///     g.get("/stats", || async { "ok" })
///         .layer(BasicAuthLayer::new("admin area").with_user("root", "secret"))
/// });
/// # drop(app);
/// ```
#[must_use]
pub struct Group {
    prefix: String,
    routes: Vec<(MethodFilter, String, Route)>,
    layers: Vec<LayerFn>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("prefix", &self.prefix)
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

macro_rules! method_fns {
    ($($(#[$doc:meta])* $name:ident => $method:ident,)*) => {$(
        $(#[$doc])*
        pub fn $name<H: Handler<T>, T: 'static>(self, path: &str, handler: H) -> Self {
            self.route(Method::$method, path, handler)
        }
    )*};
}

impl Group {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_owned(),
            routes: Vec::new(),
            layers: Vec::new(),
        }
    }

    fn join(&self, path: &str) -> String {
        match path {
            "" => {
                if self.prefix.is_empty() {
                    "/".to_owned()
                } else {
                    self.prefix.clone()
                }
            }
            p if p.starts_with('/') => format!("{}{p}", self.prefix),
            p => format!("{}/{p}", self.prefix),
        }
    }

    method_fns! {
        /// Adds a `GET` route under the prefix.
        get => GET,
        /// Adds a `POST` route under the prefix.
        post => POST,
        /// Adds a `PUT` route under the prefix.
        put => PUT,
        /// Adds a `DELETE` route under the prefix.
        delete => DELETE,
        /// Adds a `PATCH` route under the prefix.
        patch => PATCH,
        /// Adds a `HEAD` route under the prefix.
        head => HEAD,
        /// Adds an `OPTIONS` route under the prefix.
        options => OPTIONS,
    }

    /// Adds a route for `method` under the prefix. Errors surface when the
    /// group is added to the router.
    pub fn route<H: Handler<T>, T: 'static>(
        mut self,
        method: Method,
        path: &str,
        handler: H,
    ) -> Self {
        let path = self.join(path);
        self.routes.push((
            MethodFilter::One(method),
            path,
            Route::from_handler(handler),
        ));
        self
    }

    /// Adds a route for any method under the prefix.
    pub fn any<H: Handler<T>, T: 'static>(mut self, path: &str, handler: H) -> Self {
        let path = self.join(path);
        self.routes
            .push((MethodFilter::Any, path, Route::from_handler(handler)));
        self
    }

    /// Adds any `tower::Service` as a route under the prefix.
    pub fn route_service<S>(mut self, method: Method, path: &str, svc: S) -> Self
    where
        S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        let path = self.join(path);
        self.routes
            .push((MethodFilter::One(method), path, Route::new(svc)));
        self
    }

    /// Adds a nested group.
    pub fn group(mut self, prefix: &str, build: impl FnOnce(Group) -> Group) -> Self {
        let nested = build(Group::new(&self.join(prefix)));
        self.routes.extend(nested.finish());
        self
    }

    /// Wraps every route of this group in a `tower::Layer`.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower_layer::Layer<Route> + Send + Sync + 'static,
        L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.layers.push(layer_fn(layer));
        self
    }

    /// The group's routes with its layers applied.
    pub(crate) fn finish(self) -> Vec<(MethodFilter, String, Route)> {
        let layers = self.layers;
        self.routes
            .into_iter()
            .map(|(filter, path, mut route)| {
                for layer in &layers {
                    route = layer(route);
                }
                (filter, path, route)
            })
            .collect()
    }
}
