//! HTTP Basic authentication (RFC 7617).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::extract::{FromRequestParts, Rejection, Request};
use crate::response::{IntoResponse, text};

/// The authenticated user name, inserted into request extensions by
/// [`BasicAuthLayer`] (Hertz's `c.Get("user")`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthUser(pub String);

impl FromRequestParts for AuthUser {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Rejection> {
        parts
            .extensions
            .get::<AuthUser>()
            .cloned()
            .ok_or(Rejection::MissingExtension("AuthUser"))
    }
}

/// Requires `Authorization: Basic` credentials matching one of the
/// configured accounts; otherwise answers 401 with
/// `WWW-Authenticate: Basic realm="..."`. Passwords are compared in time
/// independent of where they differ.
#[derive(Debug, Clone)]
pub struct BasicAuthLayer {
    realm: Arc<str>,
    accounts: Arc<Vec<(String, String)>>,
}

impl BasicAuthLayer {
    /// A layer with no accounts (everyone is refused) for `realm`.
    pub fn new(realm: &str) -> Self {
        let realm: String = realm.chars().filter(|c| *c != '"' && *c != '\\').collect();
        Self {
            realm: Arc::from(realm),
            accounts: Arc::new(Vec::new()),
        }
    }

    /// Adds an account.
    pub fn with_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.accounts).push((user.into(), password.into()));
        self
    }
}

impl<S> Layer<S> for BasicAuthLayer {
    type Service = BasicAuth<S>;

    fn layer(&self, inner: S) -> BasicAuth<S> {
        BasicAuth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`BasicAuthLayer`].
#[derive(Debug, Clone)]
pub struct BasicAuth<S> {
    inner: S,
    layer: BasicAuthLayer,
}

impl<S> Service<Request> for BasicAuth<S>
where
    S: Service<Request, Error = Infallible> + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = crate::response::Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> ResponseFuture {
        let Some(user) = self.authenticate(&req) else {
            let mut res = text(StatusCode::UNAUTHORIZED, "unauthorized");
            let challenge = format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.layer.realm);
            if let Ok(v) = HeaderValue::try_from(challenge) {
                res.headers_mut().insert(WWW_AUTHENTICATE, v);
            }
            return Box::pin(std::future::ready(Ok(res)));
        };
        req.extensions_mut().insert(AuthUser(user));
        let fut = self.inner.call(req);
        Box::pin(async move {
            match fut.await {
                Ok(res) => Ok(res.into_response()),
                Err(e) => match e {},
            }
        })
    }
}

impl<S> BasicAuth<S> {
    fn authenticate(&self, req: &Request) -> Option<String> {
        let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, encoded) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 4096 {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        let mut found = None;
        for (u, p) in self.layer.accounts.iter() {
            // Check every account so timing does not tell which one matched.
            let ok =
                ct_eq(u.as_bytes(), user.as_bytes()) & ct_eq(p.as_bytes(), password.as_bytes());
            if ok && found.is_none() {
                found = Some(u.clone());
            }
        }
        found
    }
}

/// Equality whose time depends only on the lengths.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
