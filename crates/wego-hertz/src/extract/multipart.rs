//! `multipart/form-data` bodies, parsed by the `multer` crate.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;

use super::{FromRequest, Rejection, Request, body_limit};
use crate::response::{IntoResponse, Response, text};

/// A `multipart/form-data` body, read field by field as it streams in.
///
/// The whole body and each field are limited to the body limit
/// ([`super::DEFAULT_BODY_LIMIT`] unless a [`super::RequestBodyLimit`] extension
/// says otherwise); exceeding it fails with a [`MultipartError`] that renders
/// 413. A request that is not multipart, or has no boundary, answers 400.
///
/// ```
/// # use wego_hertz::extract::{Multipart, MultipartError};
/// async fn upload(mut form: Multipart) -> Result<String, MultipartError> {
///     let mut total = 0;
///     while let Some(field) = form.next_field().await? {
///         total += field.bytes().await?.len();
///     }
///     Ok(format!("{total} bytes"))
/// }
/// # let _ = wego_hertz::Router::new().post("/upload", upload);
/// ```
pub struct Multipart {
    inner: multer::Multipart<'static>,
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart").finish_non_exhaustive()
    }
}

impl FromRequest for Multipart {
    type Rejection = Rejection;

    async fn from_request(req: Request) -> Result<Self, Rejection> {
        let boundary = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| {
                Rejection::Multipart("expected multipart/form-data with a boundary".into())
            })?;
        let limit = body_limit(req.extensions()) as u64;
        let constraints = multer::Constraints::new().size_limit(
            multer::SizeLimit::new()
                .whole_stream(limit)
                .per_field(limit),
        );
        let stream = req.into_body().into_data_stream();
        Ok(Self {
            inner: multer::Multipart::with_constraints(stream, boundary, constraints),
        })
    }
}

impl Multipart {
    /// The next field, or `None` after the last one.
    ///
    /// # Errors
    ///
    /// A malformed body, a read failure, or a size limit exceeded.
    pub async fn next_field(&mut self) -> Result<Option<Field>, MultipartError> {
        Ok(self
            .inner
            .next_field()
            .await
            .map_err(MultipartError)?
            .map(|inner| Field { inner }))
    }
}

/// One field of a [`Multipart`] body.
pub struct Field {
    inner: multer::Field<'static>,
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Field")
            .field("name", &self.name())
            .field("file_name", &self.file_name())
            .finish_non_exhaustive()
    }
}

impl Field {
    /// The field's form name.
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// The uploaded file's name, for file fields.
    pub fn file_name(&self) -> Option<&str> {
        self.inner.file_name()
    }

    /// The field's `Content-Type`, if it has one.
    pub fn content_type(&self) -> Option<&str> {
        self.inner.content_type().map(|m| m.essence_str())
    }

    /// The field's part headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// Reads the whole field.
    ///
    /// # Errors
    ///
    /// A malformed body, a read failure, or a size limit exceeded.
    pub async fn bytes(self) -> Result<Bytes, MultipartError> {
        self.inner.bytes().await.map_err(MultipartError)
    }

    /// Reads the whole field as text (UTF-8, or the field's charset).
    ///
    /// # Errors
    ///
    /// As [`Field::bytes`].
    pub async fn text(self) -> Result<String, MultipartError> {
        self.inner.text().await.map_err(MultipartError)
    }

    /// The next chunk of the field, or `None` at its end; for streaming
    /// large uploads.
    ///
    /// # Errors
    ///
    /// As [`Field::bytes`].
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, MultipartError> {
        self.inner.chunk().await.map_err(MultipartError)
    }
}

/// Why reading a multipart body failed; renders 413 for a size limit, 408
/// for the server's body-read timeout, and 400 otherwise.
#[derive(Debug)]
pub struct MultipartError(multer::Error);

impl MultipartError {
    /// Whether a size limit was exceeded.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self.0,
            multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. }
        ) || self
            .body_error()
            .is_some_and(crate::BodyError::is_too_large)
    }

    /// Whether the client sent no body bytes within the server's body-read
    /// timeout.
    pub fn is_timeout(&self) -> bool {
        self.body_error().is_some_and(crate::BodyError::is_timeout)
    }

    fn body_error(&self) -> Option<&crate::BodyError> {
        match &self.0 {
            multer::Error::StreamReadFailed(e) => e.downcast_ref::<crate::BodyError>(),
            _ => None,
        }
    }

    /// The status this error renders with.
    pub fn status(&self) -> StatusCode {
        if self.is_too_large() {
            StatusCode::PAYLOAD_TOO_LARGE
        } else if self.is_timeout() {
            StatusCode::REQUEST_TIMEOUT
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid multipart body: {}", self.0)
    }
}

impl std::error::Error for MultipartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl IntoResponse for MultipartError {
    fn into_response(self) -> Response {
        text(self.status(), self.to_string())
    }
}
