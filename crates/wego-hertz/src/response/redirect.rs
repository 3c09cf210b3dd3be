//! Redirect responses.

use http::StatusCode;
use http::header::{self, HeaderValue};

use super::{IntoResponse, Response, text};
use crate::Body;

/// A redirect to a location, with one of the redirect status codes.
#[derive(Debug, Clone)]
pub struct Redirect {
    status: StatusCode,
    location: String,
}

impl Redirect {
    /// 303 See Other: the client follows with a GET (after a form POST, say).
    pub fn to(location: impl Into<String>) -> Self {
        Self::with_status(StatusCode::SEE_OTHER, location)
    }

    /// 307 Temporary Redirect: the client repeats the same method and body.
    pub fn temporary(location: impl Into<String>) -> Self {
        Self::with_status(StatusCode::TEMPORARY_REDIRECT, location)
    }

    /// 308 Permanent Redirect: like 307, and the client may remember it.
    pub fn permanent(location: impl Into<String>) -> Self {
        Self::with_status(StatusCode::PERMANENT_REDIRECT, location)
    }

    /// 301 Moved Permanently (clients may turn a POST into a GET).
    pub fn moved_permanently(location: impl Into<String>) -> Self {
        Self::with_status(StatusCode::MOVED_PERMANENTLY, location)
    }

    /// 302 Found.
    pub fn found(location: impl Into<String>) -> Self {
        Self::with_status(StatusCode::FOUND, location)
    }

    /// A redirect with any status; Hertz's `c.Redirect(code, url)`.
    pub fn with_status(status: StatusCode, location: impl Into<String>) -> Self {
        Self {
            status,
            location: location.into(),
        }
    }

    /// The status code this redirect answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `Location` this redirect points to.
    pub fn location(&self) -> &str {
        &self.location
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        let Ok(location) = HeaderValue::try_from(self.location) else {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "invalid redirect location",
            );
        };
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self.status;
        res.headers_mut().insert(header::LOCATION, location);
        res
    }
}
