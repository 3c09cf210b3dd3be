//! Extractors: typed values a handler takes from the request.
//!
//! A handler's arguments implement [`FromRequestParts`] (they read the head:
//! [`Path`], [`Query`], `HeaderMap`, [`CookieJar`], [`ClientAddr`],
//! [`State`], ...), except the last, which may implement [`FromRequest`] and
//! consume the body ([`Json`], [`Form`], [`Multipart`], `Bytes`, `String`,
//! [`Body`], the whole `Request`, [`RequestContext`]). A failed extraction
//! answers with its rejection (400, 408, 413, 415, 422 or 500, with a short
//! text body) and the handler is not called. Wrap an extractor in `Option<T>` or
//! `Result<T, T::Rejection>` to handle failures yourself.
//!
//! Buffered body extractors read at most [`DEFAULT_BODY_LIMIT`] bytes (4 MiB)
//! unless a [`RequestBodyLimit`] request extension (set by
//! [`crate::middleware::BodyLimitLayer`]) says otherwise; past it they answer
//! 413.

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use http::request::Parts;
use http::{Extensions, HeaderMap, Method, Uri, Version};

use crate::Body;
use crate::response::IntoResponse;

mod client_addr;
mod context;
mod cookie;
mod form;
mod json;
mod multipart;
mod path;
#[cfg(feature = "protobuf")]
mod protobuf;
mod query;
mod rejection;
pub(crate) mod state;
#[cfg(feature = "validator")]
mod valid;

pub use client_addr::ClientAddr;
pub use context::RequestContext;
pub use cookie::{Cookie, CookieJar, SameSite};
pub use form::Form;
pub use multipart::{Field, Multipart, MultipartError};
pub use path::{Path, PathParams};
pub use query::Query;
pub use rejection::Rejection;
pub use state::State;
#[cfg(feature = "validator")]
pub use valid::{FieldError, Valid, Validated, ValidationRejection};

pub use crate::response::Json;
#[cfg(feature = "protobuf")]
pub use crate::response::Protobuf;

/// The request type handlers see: `http::Request<Body>`.
pub type Request<B = Body> = http::Request<B>;

/// The default limit of buffered body extractors: 4 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The request extension that sets the limit of buffered body extractors:
/// the server inserts it from its configured body limit, and
/// [`crate::middleware::BodyLimitLayer`] replaces it; without it the limit
/// is [`DEFAULT_BODY_LIMIT`].
pub use crate::server::RequestBodyLimit;

pub(crate) fn body_limit(ext: &Extensions) -> usize {
    ext.get::<RequestBodyLimit>()
        .map_or(DEFAULT_BODY_LIMIT, |l| l.0)
}

mod private {
    /// Marks extractors that consume the whole request.
    #[derive(Debug, Clone, Copy)]
    pub enum ViaRequest {}
    /// Marks extractors that read only the request head.
    #[derive(Debug, Clone, Copy)]
    pub enum ViaParts {}
}

/// Extracts a value from the request head (method, URI, headers,
/// extensions). Any number of these may precede a handler's last argument.
pub trait FromRequestParts: Sized {
    /// What the handler answers when extraction fails.
    type Rejection: IntoResponse;

    /// Extracts `Self`.
    fn from_request_parts(
        parts: &mut Parts,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send;
}

/// Extracts a value from the whole request, body included; only a handler's
/// last argument may do that.
///
/// The type parameter only tells the blanket implementation for
/// [`FromRequestParts`] types apart; name it never.
pub trait FromRequest<M = private::ViaRequest>: Sized {
    /// What the handler answers when extraction fails.
    type Rejection: IntoResponse;

    /// Extracts `Self`, consuming the request.
    fn from_request(req: Request) -> impl Future<Output = Result<Self, Self::Rejection>> + Send;
}

impl<T: FromRequestParts> FromRequest<private::ViaParts> for T {
    type Rejection = T::Rejection;

    async fn from_request(req: Request) -> Result<Self, Self::Rejection> {
        let (mut parts, _body) = req.into_parts();
        let value = T::from_request_parts(&mut parts).await;
        crate::recycle::give_back_parts(parts);
        value
    }
}

impl<T: FromRequestParts + Send> FromRequestParts for Option<T> {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Infallible> {
        Ok(T::from_request_parts(parts).await.ok())
    }
}

impl<T: FromRequestParts + Send> FromRequestParts for Result<T, T::Rejection> {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Infallible> {
        Ok(T::from_request_parts(parts).await)
    }
}

impl FromRequestParts for HeaderMap {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Infallible> {
        Ok(parts.headers.clone())
    }
}

impl FromRequestParts for Method {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Infallible> {
        Ok(parts.method.clone())
    }
}

impl FromRequestParts for Uri {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Infallible> {
        Ok(parts.uri.clone())
    }
}

impl FromRequestParts for Version {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Infallible> {
        Ok(parts.version)
    }
}

impl FromRequestParts for Extensions {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts) -> Result<Self, Infallible> {
        Ok(parts.extensions.clone())
    }
}

impl FromRequest for Request {
    type Rejection = Infallible;

    async fn from_request(req: Request) -> Result<Self, Infallible> {
        Ok(req)
    }
}

impl FromRequest for Body {
    type Rejection = Infallible;

    async fn from_request(req: Request) -> Result<Self, Infallible> {
        Ok(req.into_body())
    }
}

impl FromRequest for Bytes {
    type Rejection = Rejection;

    async fn from_request(req: Request) -> Result<Self, Rejection> {
        read_request_body(req).await
    }
}

impl FromRequest for String {
    type Rejection = Rejection;

    async fn from_request(req: Request) -> Result<Self, Rejection> {
        let bytes = Bytes::from_request(req).await?;
        String::from_utf8(bytes.into()).map_err(|_| Rejection::InvalidUtf8)
    }
}

/// Reads a request's body up to its limit ([`RequestBodyLimit`]), mapping
/// errors to rejections. The head's maps go back to the thread's pool
/// (`crate::recycle`) before the body is read.
pub(crate) async fn read_request_body(req: Request) -> Result<Bytes, Rejection> {
    let (parts, body) = req.into_parts();
    let limit = body_limit(&parts.extensions);
    crate::recycle::give_back_parts(parts);
    read_body(body, limit).await
}

/// Reads a body up to `limit`, mapping errors to rejections.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Rejection> {
    body.collect_limited(limit).await.map_err(|e| {
        if e.is_too_large() {
            Rejection::PayloadTooLarge { limit }
        } else if e.is_timeout() {
            Rejection::BodyTimeout
        } else {
            Rejection::BodyRead(e.to_string())
        }
    })
}

/// Whether the request's `Content-Type` essence is `expected` or
/// `type/*+suffix` (for example `application/problem+json` for JSON).
pub(crate) fn has_content_type(headers: &HeaderMap, expected: &str, suffix: Option<&str>) -> bool {
    let Some(ct) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case(expected) {
        return true;
    }
    match (suffix, essence.rsplit_once('+')) {
        (Some(sfx), Some((_, got))) => got.eq_ignore_ascii_case(sfx),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
