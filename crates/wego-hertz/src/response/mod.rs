//! Turning handler results into HTTP responses.
//!
//! A handler returns anything that implements [`IntoResponse`]: text
//! (`&'static str`, `String`), bytes (`Bytes`, `Vec<u8>`), [`Json`], [`Html`],
//! [`Redirect`], [`File`] (and [`ServeDir`] for a directory), [`Sse`], a bare [`http::StatusCode`],
//! a full `http::Response<B>` for any bytes body, `(StatusCode, body)`,
//! `(headers, body)` and `(StatusCode, headers, body)` tuples, and
//! `Result<T, E>` where both sides render. Rendering never fails: a value that
//! cannot be encoded (JSON serialisation error, invalid header) becomes a 500
//! with a short text body.

use std::any::Any;
use std::borrow::Cow;
use std::convert::Infallible;

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::Body;
use crate::BoxError;

mod conditional;
mod file;
mod flush_head;
mod html;
mod json;
#[cfg(feature = "protobuf")]
mod protobuf;
mod range;
mod redirect;
mod serve_dir;
mod sse;

pub use file::{File, FileError};
pub use flush_head::FlushHead;
pub use html::Html;
pub use json::Json;
#[cfg(feature = "protobuf")]
pub use protobuf::Protobuf;
pub use range::{ByteRanges, MAX_RANGES};
pub use redirect::Redirect;
pub use serve_dir::ServeDir;
pub use sse::{Event, Sse, SseKeepAlive};

/// The response type handlers produce: `http::Response<Body>`.
pub type Response<B = Body> = http::Response<B>;

/// Converts a value into a [`Response`].
///
/// Implemented for the common body types, status codes, tuples adding a
/// status and headers, and `Result`. Implement it for your error types so a
/// handler can return `Result<T, YourError>`.
pub trait IntoResponse {
    /// Renders `self` as a response.
    fn into_response(self) -> Response;
}

/// Adds headers to a response; the middle elements of response tuples.
///
/// Implemented for [`HeaderMap`] and for arrays of `(name, value)` pairs whose
/// items convert into [`HeaderName`] and [`HeaderValue`]. An invalid name or
/// value makes the whole response a 500.
pub trait IntoResponseParts {
    /// Adds the parts to `res`.
    ///
    /// # Errors
    ///
    /// [`PartsError`] (rendered as a 500) when a part is invalid.
    fn into_response_parts(self, res: &mut Response) -> Result<(), PartsError>;
}

/// An invalid response part (header name or value); renders as a 500 with
/// the message as body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsError(&'static str);

impl PartsError {
    /// A part error with a short, static message.
    pub fn new(msg: &'static str) -> Self {
        Self(msg)
    }
}

impl std::fmt::Display for PartsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for PartsError {}

impl IntoResponse for PartsError {
    fn into_response(self) -> Response {
        text(StatusCode::INTERNAL_SERVER_ERROR, self.0)
    }
}

/// A plain-text response with `status`, used for internal failures.
pub(crate) fn text(status: StatusCode, msg: impl Into<Cow<'static, str>>) -> Response {
    let mut res = match msg.into() {
        Cow::Borrowed(s) => s.into_response(),
        Cow::Owned(s) => s.into_response(),
    };
    *res.status_mut() = status;
    res
}

fn with_content_type(body: Body, ct: HeaderValue) -> Response {
    let mut res = Response::new(body);
    // A recycled map (`crate::recycle`): the insert below need not allocate.
    crate::recycle::clear_headers(res.headers_mut());
    res.headers_mut().insert(header::CONTENT_TYPE, ct);
    res
}

// Constants, so that the values are checked once at compile time rather
// than byte by byte on every response.
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

impl IntoResponse for Body {
    fn into_response(self) -> Response {
        Response::new(self)
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(Body::empty())
    }
}

impl IntoResponse for Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self;
        res
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_content_type(Body::from(self), TEXT_PLAIN)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_content_type(Body::from(self), TEXT_PLAIN)
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        match self {
            Cow::Borrowed(s) => s.into_response(),
            Cow::Owned(s) => s.into_response(),
        }
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        with_content_type(Body::from(self), OCTET_STREAM)
    }
}

impl IntoResponse for BytesMut {
    fn into_response(self) -> Response {
        self.freeze().into_response()
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        with_content_type(Body::from(self), OCTET_STREAM)
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        with_content_type(Body::from(self), OCTET_STREAM)
    }
}

impl IntoResponse for HeaderMap {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.headers_mut() = self;
        res
    }
}

impl<T, E> IntoResponse for Result<T, E>
where
    T: IntoResponse,
    E: IntoResponse,
{
    fn into_response(self) -> Response {
        match self {
            Ok(v) => v.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// Any `http::Response<B>` whose body yields [`Bytes`]: the body is wrapped
/// in a [`Body`] (a `Response<Body>` is passed through unchanged).
impl<B> IntoResponse for http::Response<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn into_response(self) -> Response {
        let (parts, body) = self.into_parts();
        Response::from_parts(parts, into_body(body))
    }
}

/// Converts any bytes body into [`Body`] without boxing a `Body` twice.
pub(crate) fn into_body<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut slot = Some(body);
    if let Some(own) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Body>>() {
        return own.take().unwrap_or_default();
    }
    match slot {
        Some(b) => Body::new(b),
        None => Body::empty(),
    }
}

impl IntoResponseParts for HeaderMap {
    fn into_response_parts(self, res: &mut Response) -> Result<(), PartsError> {
        // `extend` keeps every value of a repeated name (Set-Cookie).
        res.headers_mut().extend(self);
        Ok(())
    }
}

impl<K, V, const N: usize> IntoResponseParts for [(K, V); N]
where
    K: TryInto<HeaderName>,
    V: TryInto<HeaderValue>,
{
    fn into_response_parts(self, res: &mut Response) -> Result<(), PartsError> {
        for (k, v) in self {
            let Ok(name) = k.try_into() else {
                return Err(PartsError::new("invalid header name"));
            };
            let Ok(value) = v.try_into() else {
                return Err(PartsError::new("invalid header value"));
            };
            res.headers_mut().insert(name, value);
        }
        Ok(())
    }
}

impl IntoResponseParts for http::Extensions {
    fn into_response_parts(self, res: &mut Response) -> Result<(), PartsError> {
        res.extensions_mut().extend(self);
        Ok(())
    }
}

macro_rules! tuple_responses {
    ($($p:ident),*) => {
        #[allow(non_snake_case)]
        impl<R, $($p,)*> IntoResponse for (StatusCode, $($p,)* R)
        where
            R: IntoResponse,
            $($p: IntoResponseParts,)*
        {
            fn into_response(self) -> Response {
                let (status, $($p,)* body) = self;
                let mut res = body.into_response();
                $(
                    if let Err(e) = $p.into_response_parts(&mut res) {
                        return e.into_response();
                    }
                )*
                *res.status_mut() = status;
                res
            }
        }

        #[allow(non_snake_case)]
        impl<R, $($p,)*> IntoResponse for ($($p,)* R,)
        where
            R: IntoResponse,
            $($p: IntoResponseParts,)*
        {
            fn into_response(self) -> Response {
                let ($($p,)* body,) = self;
                #[allow(unused_mut)]
                let mut res = body.into_response();
                $(
                    if let Err(e) = $p.into_response_parts(&mut res) {
                        return e.into_response();
                    }
                )*
                res
            }
        }
    };
}

tuple_responses!();
tuple_responses!(P1);
tuple_responses!(P1, P2);
tuple_responses!(P1, P2, P3);

#[cfg(test)]
mod tests;
