//! Why an HTTP request could not be answered through a Thrift call, and
//! the status each reason answers with.

use std::error::Error as _;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};

use super::super::error::ValueError;
use super::route::HttpRouteError;

/// Why an HTTP request was not mapped, sent or answered. Every variant
/// has one status ([`status`](Self::status)); those about the request
/// (4xx) mean nothing was sent to the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// No route has the request's path (404).
    #[error("no route for {path}")]
    NotFound {
        /// The request path.
        path: String,
    },
    /// Routes have the path, for other methods (405, with `Allow`).
    #[error("method {method} not allowed on {path}")]
    MethodNotAllowed {
        /// The request method.
        method: Method,
        /// The request path.
        path: String,
        /// The methods that are routed there.
        allow: Vec<Method>,
    },
    /// The body is larger than [`HttpLimits::max_body`](super::HttpLimits::max_body) (413).
    #[error("body of {len} bytes exceeds the limit of {limit}")]
    BodyTooLarge {
        /// The body's length (at least `limit + 1` when it was cut short).
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// More query parameters, form members or cookies than the limit (400).
    #[error("{what}: {count} exceeds the limit of {limit}")]
    TooMany {
        /// `"query parameters"`, `"form members"` or `"cookies"`.
        what: &'static str,
        /// How many were counted (the count stops at `limit + 1`).
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A field's text (query, path, header, cookie, form, raw body) does
    /// not convert to its Thrift type (400).
    #[error("{field} (from {from}): {reason}")]
    Param {
        /// The field of the request struct.
        field: String,
        /// Where its text came from: `query "id"`, `header "x-token"`.
        from: String,
        /// Why it does not convert.
        reason: String,
    },
    /// The body is not JSON, or not a JSON object (400).
    #[error("body is not a json object (line {line} column {column})")]
    BodyNotJson {
        /// 1-based line of the error (0 when the JSON is not an object).
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The body's content type is one this route does not read: a form
    /// where the request struct takes JSON, or the reverse (415).
    #[error("content type {content_type:?} is not read by this route (it reads {reads})")]
    UnsupportedMediaType {
        /// The request's content type.
        content_type: String,
        /// What the route reads.
        reads: &'static str,
    },
    /// The request struct does not match the IDL: a required field
    /// missing, a JSON value of the wrong type, an unknown enum name (400).
    #[error("request does not match the idl")]
    Request(#[source] ValueError),
    /// The descriptor's routes cannot be compiled (500): the IDL swapped in
    /// through the [`DescriptorHandle`](super::super::DescriptorHandle)
    /// has conflicting routes.
    #[error("the idl's http routes are invalid")]
    Routes(#[source] Box<HttpRouteError>),
    /// The backend call failed: connect, transport, a
    /// `TApplicationException` (502).
    #[error("backend call failed")]
    Backend(#[source] crate::Error),
    /// The backend call timed out (504).
    #[error("backend call timed out")]
    Timeout(#[source] crate::Error),
    /// The backend's reply does not match the IDL, or cannot be written as
    /// an HTTP response (an `api.http_code` that is not a status, a header
    /// value with a newline) (502).
    #[error("backend reply does not map to http")]
    Reply(#[source] ValueError),
}

impl HttpError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::NotFound { .. } => StatusCode::NOT_FOUND,
            HttpError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            HttpError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::TooMany { .. }
            | HttpError::Param { .. }
            | HttpError::BodyNotJson { .. }
            | HttpError::Request(_) => StatusCode::BAD_REQUEST,
            HttpError::Routes(_) => StatusCode::INTERNAL_SERVER_ERROR,
            HttpError::Backend(_) | HttpError::Reply(_) => StatusCode::BAD_GATEWAY,
            HttpError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The request field the error is about, as a path from the request
    /// struct down (`item.tags[2]`), when it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            HttpError::Param { field, .. } => Some(field),
            HttpError::Request(e) if !e.path().is_empty() => Some(e.path()),
            _ => None,
        }
    }

    /// Whether nothing was sent to the backend because of the request
    /// itself (a 4xx status).
    pub fn is_client_error(&self) -> bool {
        self.status().is_client_error()
    }

    /// The message with its cause chain: `request does not match the
    /// idl: name: required field missing`.
    pub fn chain(&self) -> String {
        let mut msg = self.to_string();
        let mut cause = self.source();
        while let Some(c) = cause {
            msg.push_str(": ");
            msg.push_str(&c.to_string());
            cause = c.source();
        }
        msg
    }

    /// The error as a response: its status, and a JSON body
    /// `{"error": "...", "field": "..."}` (`field` when there is one). A
    /// 4xx message follows the cause chain, to tell the caller what to
    /// fix; a 5xx message is the summary alone (`backend call failed`),
    /// so that backend addresses and internals stay inside. A 405
    /// carries `Allow`.
    pub fn to_response(&self) -> http::Response<Bytes> {
        let msg = if self.is_client_error() {
            self.chain()
        } else {
            self.to_string()
        };
        let mut body = serde_json::json!({ "error": msg });
        if let Some(f) = self.field() {
            body["field"] = serde_json::Value::String(f.to_owned());
        }
        let mut resp = http::Response::new(Bytes::from(body.to_string()));
        *resp.status_mut() = self.status();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let HttpError::MethodNotAllowed { allow, .. } = self {
            let list: Vec<&str> = allow.iter().map(Method::as_str).collect();
            if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
        }
        resp
    }
}
