//! Request ids: keep the client's `x-request-id` or make one, and echo it.

use std::convert::Infallible;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::extract::{FromRequestParts, Rejection, Request};
use crate::response::IntoResponse;

/// The request's id, as a request extension and an extractor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// The id as text (ids are visible ASCII; otherwise empty).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl FromRequestParts for RequestId {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Rejection> {
        parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .ok_or(Rejection::MissingExtension("RequestId"))
    }
}

/// Sets a request id header (default `x-request-id`): a client-sent value of
/// at most 128 visible ASCII characters is kept, anything else is replaced
/// by a fresh 32-hex-digit id. The id is inserted into the request headers
/// and extensions ([`RequestId`]) and echoed on the response.
#[derive(Debug, Clone)]
pub struct RequestIdLayer {
    header: HeaderName,
}

impl Default for RequestIdLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestIdLayer {
    /// Uses `x-request-id`.
    pub fn new() -> Self {
        Self {
            header: HeaderName::from_static("x-request-id"),
        }
    }

    /// Uses another header name.
    pub fn with_header(mut self, header: HeaderName) -> Self {
        self.header = header;
        self
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> RequestIdService<S> {
        RequestIdService {
            inner,
            header: self.header.clone(),
        }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
    header: HeaderName,
}

impl<S> Service<Request> for RequestIdService<S>
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
        let id = req
            .headers()
            .get(&self.header)
            .filter(|v| is_acceptable(v))
            .cloned()
            .unwrap_or_else(generate);
        req.headers_mut().insert(self.header.clone(), id.clone());
        req.extensions_mut().insert(RequestId(id.clone()));
        let header = self.header.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut res = match fut.await {
                Ok(res) => res.into_response(),
                Err(e) => match e {},
            };
            res.headers_mut().insert(header, id);
            Ok(res)
        })
    }
}

fn is_acceptable(v: &HeaderValue) -> bool {
    !v.is_empty() && v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
}

/// A 128-bit id: a per-process random key hashed with a counter.
fn generate() -> HeaderValue {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let key = KEY.get_or_init(Default::default);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut a = key.build_hasher();
    a.write_u64(n);
    let mut b = key.build_hasher();
    b.write_u64(!n);
    let s = format!("{:016x}{:016x}", a.finish(), b.finish());
    HeaderValue::try_from(s).expect("invariant: hex digits are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_hex() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
    }

    #[test]
    fn rejects_unusable_client_ids() {
        assert!(is_acceptable(&HeaderValue::from_static("abc-123")));
        assert!(!is_acceptable(&HeaderValue::from_static("")));
        assert!(!is_acceptable(&HeaderValue::from_static("a b")));
        assert!(!is_acceptable(
            &HeaderValue::try_from("x".repeat(129)).unwrap()
        ));
    }
}
