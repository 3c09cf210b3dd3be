//! The methods registered on one path.

use http::Method;

use super::Route;

/// Which methods a route answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MethodFilter {
    /// Exactly this method.
    One(Method),
    /// Every method without a route of its own.
    Any,
}

impl std::fmt::Display for MethodFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::One(m) => f.write_str(m.as_str()),
            Self::Any => f.write_str("ANY"),
        }
    }
}

/// The routes of one path, by method.
#[derive(Debug, Clone, Default)]
pub(crate) struct MethodRoutes {
    routes: Vec<(Method, Route)>,
    any: Option<Route>,
}

/// What the method table says about a request.
pub(crate) enum Found<'a> {
    /// A route for the method (or an `any` route).
    Route(&'a Route),
    /// A `HEAD` request served by the `GET` route.
    HeadFromGet(&'a Route),
    /// The path exists, but not for this method.
    NotAllowed,
}

impl MethodRoutes {
    /// Adds a route; `false` when the filter is already taken.
    pub(crate) fn insert(&mut self, filter: MethodFilter, route: Route) -> bool {
        match filter {
            MethodFilter::Any if self.any.is_some() => false,
            MethodFilter::Any => {
                self.any = Some(route);
                true
            }
            MethodFilter::One(m) if self.routes.iter().any(|(have, _)| *have == m) => false,
            MethodFilter::One(m) => {
                self.routes.push((m, route));
                true
            }
        }
    }

    pub(crate) fn find(&self, method: &Method) -> Found<'_> {
        if let Some((_, r)) = self.routes.iter().find(|(m, _)| m == method) {
            return Found::Route(r);
        }
        if *method == Method::HEAD
            && let Some((_, r)) = self.routes.iter().find(|(m, _)| *m == Method::GET)
        {
            return Found::HeadFromGet(r);
        }
        match &self.any {
            Some(r) => Found::Route(r),
            None => Found::NotAllowed,
        }
    }

    /// The value of an `Allow` header: registered methods, plus `HEAD` when
    /// `GET` is there.
    pub(crate) fn allow(&self) -> String {
        let mut names: Vec<&str> = self.routes.iter().map(|(m, _)| m.as_str()).collect();
        if names.contains(&"GET") && !names.contains(&"HEAD") {
            names.push("HEAD");
        }
        names.sort_unstable();
        names.join(", ")
    }
}
