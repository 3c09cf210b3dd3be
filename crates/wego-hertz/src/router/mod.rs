//! The router: a radix tree of routes (`matchit`), groups, fallbacks and
//! router-wide middleware.
//!
//! Patterns use Hertz's syntax: static segments, `:name` parameters (one
//! whole segment) and a final `*name` catch-all. Priority is static, then
//! parameter, then catch-all, whatever the registration order. A catch-all
//! also matches its empty remainder (`/static/*path` serves `/static/`
//! with `path = ""`) unless that path has a route of its own.
//!
//! Registration checks every route: a malformed pattern or one that
//! conflicts with a registered route (`/users/:id` vs `/users/:name`, or the
//! same method and path twice) is an error naming both routes. The `try_*`
//! methods return it; the convenience methods (`get`, `post`, `group`, ...)
//! panic with it, which happens while the router is being built at startup,
//! never while serving.
//!
//! Serving (see [`Router`]'s `Service` implementation):
//! 1. the path is matched as sent (not percent-decoded), so `%2F` never
//!    splits a segment; parameter values are percent-decoded afterwards
//!    (invalid UTF-8 answers 400);
//! 2. a path that exists without the request's method answers 405 with an
//!    `Allow` header (or 404 when [`Router::with_handle_method_not_allowed`] is
//!    off); `HEAD` is served by the `GET` route with the body dropped;
//! 3. an unmatched path whose twin with/without a trailing slash matches is
//!    redirected there (301 for GET/HEAD, 308 otherwise), unless
//!    [`Router::with_redirect_trailing_slash`] is off;
//! 4. anything else goes to the 404 handler.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use http::{Extensions, Method};
use tower_service::Service;

use crate::extract::Request;
use crate::handler::Handler;
use crate::response::{IntoResponse, Response};

mod dispatch;
mod error;
mod group;
mod matched;
mod method;
mod path;
mod route;

pub use error::RouteError;
pub use group::Group;
pub use matched::MatchedPath;
pub use route::{Route, RouteFuture};

use method::{MethodFilter, MethodRoutes};
use route::{LayerFn, layer_fn};

/// Routes requests to handlers; a `tower::Service` the server serves.
///
/// ```
/// use wego_hertz::Router;
/// use wego_hertz::extract::Path;
///
/// async fn user(Path(id): Path<u64>) -> String {
///     format!("user {id}")
/// }
///
/// let app = Router::new()
///     .get("/", || async { "hello" })
///     .get("/users/:id", user)
///     .group("/api", |g| g.get("/ping", || async { "pong" }));
/// # drop(app);
/// ```
///
/// Cloning is cheap (an `Arc`); the clones share routes.
#[derive(Default)]
pub struct Router {
    inner: Arc<Inner>,
    /// The router-wide layers over the dispatch, built once and shared.
    built: Arc<OnceLock<Route>>,
    /// This clone's copy of `built` and whether `poll_ready` made it ready:
    /// a server keeps one clone per connection, so layer state is cloned
    /// per connection, not per request.
    local: Option<Route>,
    ready: bool,
}

impl Clone for Router {
    fn clone(&self) -> Self {
        // A clone of a ready service is not ready: the copy starts afresh.
        Self {
            inner: self.inner.clone(),
            built: self.built.clone(),
            local: None,
            ready: false,
        }
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let routes: Vec<&str> = self.inner.endpoints.iter().map(|e| &*e.pattern).collect();
        f.debug_struct("Router")
            .field("routes", &routes)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub(crate) struct Inner {
    tree: matchit::Router<Target>,
    endpoints: Vec<Endpoint>,
    /// Tree pattern of each registered route → endpoint index.
    paths: HashMap<String, usize>,
    /// Tree patterns inserted only as the empty-remainder twin of a
    /// catch-all; a real route may replace them.
    aliases: HashMap<String, usize>,
    not_found: Option<Route>,
    method_not_allowed: Option<Route>,
    redirect_trailing_slash: bool,
    handle_method_not_allowed: bool,
    states: Option<Arc<Extensions>>,
    layers: Vec<LayerFn>,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            tree: matchit::Router::new(),
            endpoints: Vec::new(),
            paths: HashMap::new(),
            aliases: HashMap::new(),
            not_found: None,
            method_not_allowed: None,
            redirect_trailing_slash: true,
            handle_method_not_allowed: true,
            states: None,
            layers: Vec::new(),
        }
    }
}

#[derive(Clone)]
struct Target {
    endpoint: usize,
    /// For a catch-all's empty-remainder twin: the parameter to set to "".
    empty_catch_all: Option<Arc<str>>,
}

#[derive(Clone)]
struct Endpoint {
    pattern: Arc<str>,
    params: Vec<Arc<str>>,
    methods: MethodRoutes,
}

macro_rules! method_fns {
    ($($(#[$doc:meta])* $name:ident => $method:ident,)*) => {$(
        $(#[$doc])*
        ///
        /// # Panics
        ///
        /// Panics (at startup, while building the router) when the route is
        /// invalid or conflicts with a registered one; see [`Router::try_route`].
        #[track_caller]
        pub fn $name<H: Handler<T>, T: 'static>(self, path: &str, handler: H) -> Self {
            self.route(Method::$method, path, handler)
        }
    )*};
}

impl Router {
    /// An empty router: every request gets the 404 handler.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner_mut(&mut self) -> &mut Inner {
        self.built = Arc::new(OnceLock::new());
        self.local = None;
        self.ready = false;
        Arc::make_mut(&mut self.inner)
    }

    method_fns! {
        /// Adds a `GET` route (which also serves `HEAD`).
        get => GET,
        /// Adds a `POST` route.
        post => POST,
        /// Adds a `PUT` route.
        put => PUT,
        /// Adds a `DELETE` route.
        delete => DELETE,
        /// Adds a `PATCH` route.
        patch => PATCH,
        /// Adds a `HEAD` route (overriding the one derived from `GET`).
        head => HEAD,
        /// Adds an `OPTIONS` route.
        options => OPTIONS,
    }

    /// Adds a route for any method that has no route of its own on `path`.
    ///
    /// # Panics
    ///
    /// As [`Router::get`].
    #[track_caller]
    pub fn any<H: Handler<T>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.try_insert(MethodFilter::Any, path, Route::from_handler(handler))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds a route for `method` on `path`.
    ///
    /// # Panics
    ///
    /// As [`Router::get`].
    #[track_caller]
    pub fn route<H: Handler<T>, T: 'static>(self, method: Method, path: &str, handler: H) -> Self {
        self.try_route(method, path, handler)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds a route for `method` on `path`.
    ///
    /// # Errors
    ///
    /// [`RouteError::Invalid`] for a malformed pattern;
    /// [`RouteError::Conflict`], naming both routes, when it overlaps a
    /// registered route.
    pub fn try_route<H: Handler<T>, T: 'static>(
        self,
        method: Method,
        path: &str,
        handler: H,
    ) -> Result<Self, RouteError> {
        self.try_insert(
            MethodFilter::One(method),
            path,
            Route::from_handler(handler),
        )
    }

    /// Adds any `tower::Service` as the route for `method` on `path`.
    ///
    /// # Errors
    ///
    /// As [`Router::try_route`].
    pub fn try_route_service<S>(
        self,
        method: Method,
        path: &str,
        svc: S,
    ) -> Result<Self, RouteError>
    where
        S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        self.try_insert(MethodFilter::One(method), path, Route::new(svc))
    }

    /// Adds any `tower::Service` as the route for `method` on `path`.
    ///
    /// # Panics
    ///
    /// As [`Router::get`].
    #[track_caller]
    pub fn route_service<S>(self, method: Method, path: &str, svc: S) -> Self
    where
        S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        self.try_route_service(method, path, svc)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds a group of routes under `prefix`, built by `build`; the group's
    /// layers wrap only its routes.
    ///
    /// # Panics
    ///
    /// As [`Router::get`], for any route of the group.
    #[track_caller]
    pub fn group(self, prefix: &str, build: impl FnOnce(Group) -> Group) -> Self {
        self.try_group(prefix, build)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds a group of routes under `prefix`.
    ///
    /// # Errors
    ///
    /// As [`Router::try_route`], for the first route of the group that
    /// fails.
    pub fn try_group(
        mut self,
        prefix: &str,
        build: impl FnOnce(Group) -> Group,
    ) -> Result<Self, RouteError> {
        for (filter, path, route) in build(Group::new(prefix)).finish() {
            self = self.try_insert(filter, &path, route)?;
        }
        Ok(self)
    }

    /// Wraps the whole router — every route, the redirect, 404 and 405
    /// answers — in a `tower::Layer`. Layers added later wrap earlier ones.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower_layer::Layer<Route> + Send + Sync + 'static,
        L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.inner_mut().layers.push(layer_fn(layer));
        self
    }

    /// Registers shared state for [`crate::extract::State`]`<T>` (one value
    /// per type; registering a type again replaces it).
    pub fn with_state<T: Clone + Send + Sync + 'static>(mut self, state: T) -> Self {
        let inner = self.inner_mut();
        let mut states = inner
            .states
            .take()
            .map(Arc::unwrap_or_clone)
            .unwrap_or_default();
        states.insert(state);
        inner.states = Some(Arc::new(states));
        self
    }

    /// Replaces the 404 handler (default: `404 page not found`).
    pub fn not_found<H: Handler<T>, T: 'static>(mut self, handler: H) -> Self {
        self.inner_mut().not_found = Some(Route::from_handler(handler));
        self
    }

    /// Replaces the 405 handler (default: `405 method not allowed`). The
    /// router adds the `Allow` header unless the handler sets one.
    pub fn method_not_allowed<H: Handler<T>, T: 'static>(mut self, handler: H) -> Self {
        self.inner_mut().method_not_allowed = Some(Route::from_handler(handler));
        self
    }

    /// Whether to redirect `/a/` to `/a` (and back) when only the other
    /// exists; on by default, as in Hertz.
    pub fn with_redirect_trailing_slash(mut self, on: bool) -> Self {
        self.inner_mut().redirect_trailing_slash = on;
        self
    }

    /// Whether a path registered for other methods answers 405 (on by
    /// default) or 404.
    pub fn with_handle_method_not_allowed(mut self, on: bool) -> Self {
        self.inner_mut().handle_method_not_allowed = on;
        self
    }

    /// The registered route patterns, in registration order.
    pub fn routes(&self) -> impl Iterator<Item = &str> {
        self.inner.endpoints.iter().map(|e| &*e.pattern)
    }

    fn try_insert(
        mut self,
        filter: MethodFilter,
        user_path: &str,
        route: Route,
    ) -> Result<Self, RouteError> {
        self.inner_mut().insert(filter, user_path, route)?;
        Ok(self)
    }
}

impl Inner {
    fn insert(
        &mut self,
        filter: MethodFilter,
        user_path: &str,
        route: Route,
    ) -> Result<(), RouteError> {
        let pattern = path::parse(user_path)?;
        if let Some(&idx) = self.paths.get(&pattern.tree) {
            let ep = &mut self.endpoints[idx];
            if !ep.methods.insert(filter.clone(), route) {
                return Err(RouteError::Conflict {
                    route: format!("{filter} {user_path}"),
                    existing: format!("{filter} {}", ep.pattern),
                });
            }
            return Ok(());
        }
        if self.aliases.remove(&pattern.tree).is_some() {
            self.tree.remove(pattern.tree.as_str());
        }
        let idx = self.endpoints.len();
        let target = Target {
            endpoint: idx,
            empty_catch_all: None,
        };
        self.tree
            .insert(pattern.tree.as_str(), target)
            .map_err(|e| self.insert_error(user_path, e))?;
        let mut methods = MethodRoutes::default();
        methods.insert(filter, route);
        let params = param_names(&pattern.tree);
        self.endpoints.push(Endpoint {
            pattern: Arc::from(user_path),
            params,
            methods,
        });
        self.paths.insert(pattern.tree.clone(), idx);
        if let Some(name) = pattern.catch_all {
            // `/a/{*p}` → `/a/`: serve the empty remainder too, unless a
            // route of its own exists (or a conflicting one).
            let twin = &pattern.tree[..pattern.tree.len() - name.len() - 3];
            if !self.paths.contains_key(twin) {
                let target = Target {
                    endpoint: idx,
                    empty_catch_all: Some(Arc::from(name.as_str())),
                };
                if self.tree.insert(twin, target).is_ok() {
                    self.aliases.insert(twin.to_owned(), idx);
                }
            }
        }
        Ok(())
    }

    fn insert_error(&self, user_path: &str, e: matchit::InsertError) -> RouteError {
        match e {
            matchit::InsertError::Conflict { with } => RouteError::Conflict {
                route: user_path.to_owned(),
                existing: self.paths.get(&with).map_or_else(
                    || path::to_user(&with),
                    |&i| self.endpoints[i].pattern.to_string(),
                ),
            },
            other => RouteError::Invalid {
                route: user_path.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

/// Parameter names of a tree pattern, in order.
fn param_names(tree: &str) -> Vec<Arc<str>> {
    let mut out = Vec::new();
    let mut rest = tree;
    while let Some(start) = rest.find('{') {
        if rest[start + 1..].starts_with('{') {
            rest = &rest[start + 2..];
            continue;
        }
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = rest[start + 1..start + len].trim_start_matches('*');
        out.push(Arc::from(name));
        rest = &rest[start + len + 1..];
    }
    out
}

impl Service<Request> for Router {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.inner.layers.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if self.local.is_none() {
            self.local = Some(self.layered().clone());
        }
        let Some(local) = &mut self.local else {
            return Poll::Ready(Ok(()));
        };
        let poll = local.poll_ready(cx);
        self.ready = poll.is_ready();
        poll
    }

    fn call(&mut self, mut req: Request) -> RouteFuture {
        if self.inner.layers.is_empty() {
            // Matched by reference; the request moves once, into its
            // handler (see `dispatch::Routed`).
            return match dispatch::route(&self.inner, &mut req) {
                dispatch::Routed::Handler(f) => RouteFuture::boxed(f(req)),
                routed => dispatch::finish(&self.inner, routed, req),
            };
        }
        match (&mut self.local, std::mem::take(&mut self.ready)) {
            (Some(local), true) => local.call(req),
            // Called without `poll_ready` (allowed for a lenient caller):
            // drive a fresh clone through its own readiness.
            _ => self.layered().oneshot(req),
        }
    }
}

impl Router {
    /// The dispatch wrapped in the router-wide layers (built on first use).
    fn layered(&self) -> &Route {
        let inner = &self.inner;
        self.built.get_or_init(|| {
            let core = inner.clone();
            let mut route = Route::from_fn(move |req| {
                let fut = dispatch::dispatch(&core, req);
                Box::pin(async move {
                    match fut.await {
                        Ok(res) => res,
                        Err(e) => match e {},
                    }
                })
            });
            for layer in &inner.layers {
                route = layer(route);
            }
            route
        })
    }
}

#[cfg(test)]
mod tests;
