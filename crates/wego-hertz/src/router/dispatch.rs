//! The router's core service: match, pick the method, or answer 404, 405
//! or a trailing-slash redirect.

use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use http_body::Body as _;

use super::method::Found;
use super::route::HandlerFn;
use super::{Inner, MatchedPath, Route, RouteFuture};
use crate::Body;
use crate::extract::state::AppState;
use crate::extract::{PathParams, Request};
use crate::response::{Response, text};

/// Dispatches one request: the router without its router-wide layers.
pub(super) fn dispatch(inner: &Inner, mut req: Request) -> RouteFuture {
    let routed = route(inner, &mut req);
    finish(inner, routed, req)
}

/// Where a request goes, decided with the request borrowed: the router's
/// `call` then moves the request once, into the handler, on the usual path
/// (each by-value pass of a request is a 260-byte copy).
pub(super) enum Routed<'a> {
    /// A plain handler route, not a HEAD answered by GET's.
    Handler(&'a HandlerFn),
    /// Any other route; `true`: a HEAD answered by the GET route.
    Route(&'a Route, bool),
    /// No route matched (404, 405 or a redirect).
    Unmatched,
    /// Answered while routing (a malformed path parameter).
    Respond(Box<Response>),
}

/// Matches `req` and adds the router's extensions to it.
pub(super) fn route<'a>(inner: &'a Inner, req: &mut Request) -> Routed<'a> {
    if let Some(states) = &inner.states {
        req.extensions_mut().insert(AppState(states.clone()));
    }
    match route_request(inner, req) {
        Ok(Some((route, false))) => match route.as_handler() {
            Some(f) => Routed::Handler(f),
            None => Routed::Route(route, false),
        },
        Ok(Some((route, true))) => Routed::Route(route, true),
        Ok(None) => Routed::Unmatched,
        Err(res) => Routed::Respond(res),
    }
}

/// Calls what [`route`] found.
pub(super) fn finish(inner: &Inner, routed: Routed<'_>, req: Request) -> RouteFuture {
    match routed {
        Routed::Handler(f) => RouteFuture::boxed(f(req)),
        Routed::Route(route, false) => route.oneshot(req),
        Routed::Route(route, true) => {
            let fut = route.oneshot(req);
            RouteFuture::boxed(Box::pin(async move {
                match fut.await {
                    Ok(res) => strip_body(res),
                    Err(e) => match e {},
                }
            }))
        }
        Routed::Unmatched => fallback(inner, req),
        Routed::Respond(res) => RouteFuture::ready(res),
    }
}

/// Finds the route; `Ok(None)` means "not matched" (404/405/redirect).
fn route_request<'a>(
    inner: &'a Inner,
    req: &mut Request,
) -> Result<Option<(&'a Route, bool)>, Box<Response>> {
    let Ok(matched) = inner.tree.at(req.uri().path()) else {
        return Ok(None);
    };
    let ep = &inner.endpoints[matched.value.endpoint];
    let (route, head_from_get) = match ep.methods.find(req.method()) {
        Found::Route(r) => (r, false),
        Found::HeadFromGet(r) => (r, true),
        Found::NotAllowed => return Ok(None),
    };
    let mut params = Vec::with_capacity(ep.params.len());
    for (name, raw) in matched.params.iter() {
        let Some(key) = ep.params.iter().find(|k| &***k == name) else {
            continue;
        };
        let Ok(value) = percent_encoding::percent_decode_str(raw).decode_utf8() else {
            return Err(Box::new(text(
                StatusCode::BAD_REQUEST,
                "path parameter is not valid percent-encoded utf-8",
            )));
        };
        params.push((key.clone(), value.into_owned()));
    }
    if let Some(name) = &matched.value.empty_catch_all {
        params.push((name.clone(), String::new()));
    }
    let ext = req.extensions_mut();
    // A route without parameters gets none: one allocation fewer per
    // request, and `Path` reads a routed request without them as empty.
    if !params.is_empty() {
        ext.insert(PathParams(params));
    }
    ext.insert(MatchedPath(ep.pattern.clone()));
    Ok(Some((route, head_from_get)))
}

/// 405, trailing-slash redirect, or 404.
fn fallback(inner: &Inner, req: Request) -> RouteFuture {
    let path = req.uri().path();
    if let Ok(matched) = inner.tree.at(path) {
        if inner.handle_method_not_allowed {
            let allow = inner.endpoints[matched.value.endpoint].methods.allow();
            return method_not_allowed(inner, req, allow);
        }
    } else if let Some(res) = redirect(inner, &req) {
        return RouteFuture::ready(Box::new(res));
    }
    match &inner.not_found {
        Some(route) => route.oneshot(req),
        None => RouteFuture::ready(Box::new(text(StatusCode::NOT_FOUND, "404 page not found"))),
    }
}

fn method_not_allowed(inner: &Inner, req: Request, allow: String) -> RouteFuture {
    let fut = inner.method_not_allowed.as_ref().map(|r| r.oneshot(req));
    RouteFuture::boxed(Box::pin(async move {
        let mut res = match fut {
            Some(fut) => match fut.await {
                Ok(res) => res,
                Err(e) => match e {},
            },
            None => text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed"),
        };
        if !res.headers().contains_key(header::ALLOW)
            && let Ok(v) = HeaderValue::try_from(allow)
        {
            res.headers_mut().insert(header::ALLOW, v);
        }
        res
    }))
}

/// Hertz's `RedirectTrailingSlash`: 301 for GET/HEAD, 308 otherwise.
fn redirect(inner: &Inner, req: &Request) -> Option<Response> {
    let path = req.uri().path();
    if !inner.redirect_trailing_slash || path == "/" || req.method() == Method::CONNECT {
        return None;
    }
    // Never build a protocol-relative `Location` (`//host`): an open redirect.
    if path.starts_with("//") {
        return None;
    }
    let twin = match path.strip_suffix('/') {
        Some(p) => p.to_owned(),
        None => format!("{path}/"),
    };
    let matched = inner.tree.at(&twin).ok()?;
    let ep = &inner.endpoints[matched.value.endpoint];
    if matches!(ep.methods.find(req.method()), Found::NotAllowed) {
        return None;
    }
    let location = match req.uri().query() {
        Some(q) => format!("{twin}?{q}"),
        None => twin,
    };
    let status = if req.method() == Method::GET || req.method() == Method::HEAD {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    let location = HeaderValue::try_from(location).ok()?;
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    res.headers_mut().insert(header::LOCATION, location);
    Some(res)
}

/// `HEAD` served by `GET`: keep the headers (with the length the body
/// would have had), drop the body.
fn strip_body(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    if !parts.headers.contains_key(header::CONTENT_LENGTH)
        && let Some(len) = body.size_hint().exact()
    {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    Response::from_parts(parts, Body::empty())
}
