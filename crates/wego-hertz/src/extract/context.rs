//! `RequestContext`: Hertz-style access to one request.

use std::borrow::Cow;
use std::net::IpAddr;

use bytes::Bytes;
use http::request::Parts;
use http::{Extensions, HeaderMap, Method, Uri};
use serde::de::DeserializeOwned;

use super::path::PathParams;
use super::state::AppState;
use super::{ClientAddr, CookieJar, FromRequest, Rejection, Request, body_limit, read_body};
use crate::Body;

/// The whole request with Hertz's `app.RequestContext` accessors:
/// `param`, `query`, `post_form`, `header`, `cookie`, `client_ip`, `method`,
/// `path`, `body`, `bind_json`, `bind_form`, `bind_query`, and `get`/`set` of
/// per-request values.
///
/// It consumes the request, so it is a handler's last (usually only)
/// argument. The body is read lazily, once, up to the body limit; later
/// calls reuse the buffered bytes.
///
/// ```
/// # use wego_hertz::extract::RequestContext;
/// async fn handler(mut c: RequestContext) -> String {
///     let id = c.param("id").unwrap_or_default().to_owned();
///     let name = c.post_form("name").await.ok().flatten().unwrap_or_default();
///     format!("{id}: {name}")
/// }
/// # let _ = wego_hertz::Router::new().post("/users/:id", handler);
/// ```
#[derive(Debug)]
pub struct RequestContext {
    parts: Parts,
    body: Option<Body>,
    buffered: Option<Bytes>,
}

impl FromRequest for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        Ok(Self {
            parts,
            body: Some(body),
            buffered: None,
        })
    }
}

impl RequestContext {
    /// The request method.
    pub fn method(&self) -> &Method {
        &self.parts.method
    }

    /// The request URI.
    pub fn uri(&self) -> &Uri {
        &self.parts.uri
    }

    /// The path, as sent (not percent-decoded).
    pub fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// The raw query string, if any.
    pub fn query_string(&self) -> Option<&str> {
        self.parts.uri.query()
    }

    /// The matched path parameter `name`, percent-decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.parts.extensions.get::<PathParams>()?.get(name)
    }

    /// The first query value for `key`, percent-decoded.
    pub fn query(&self, key: &str) -> Option<String> {
        form_value(self.parts.uri.query()?.as_bytes(), key)
    }

    /// Like [`query`](Self::query), with a default.
    pub fn default_query(&self, key: &str, default: &str) -> String {
        self.query(key).unwrap_or_else(|| default.to_owned())
    }

    /// The query string deserialised into `T`, as [`super::Query`] does.
    ///
    /// # Errors
    ///
    /// [`Rejection::InvalidQuery`] when the query does not fit `T`.
    pub fn bind_query<T: DeserializeOwned>(&self) -> Result<T, Rejection> {
        serde_urlencoded::from_str(self.parts.uri.query().unwrap_or_default())
            .map_err(|e| Rejection::InvalidQuery(e.to_string()))
    }

    /// The first value of header `name` that is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name)?.to_str().ok()
    }

    /// All request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// The essence of the `Content-Type` (no parameters), if any.
    pub fn content_type(&self) -> Option<&str> {
        let ct = self.header(http::header::CONTENT_TYPE.as_str())?;
        Some(ct.split(';').next().unwrap_or_default().trim())
    }

    /// The request's host: the URI authority or the `Host` header.
    pub fn host(&self) -> Option<&str> {
        self.parts
            .uri
            .host()
            .or_else(|| self.header(http::header::HOST.as_str()))
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        CookieJar::from_headers(&self.parts.headers)
            .get(name)
            .map(str::to_owned)
    }

    /// The connection's peer address, when the request came through the
    /// server.
    pub fn remote_addr(&self) -> Option<&wego_netpoll::Address> {
        self.parts.extensions.get::<ClientAddr>().map(|c| &c.0)
    }

    /// The client's IP, Hertz-style: the first `X-Forwarded-For` entry or
    /// `X-Real-IP`, but only when the peer is a loopback or private address
    /// (a proxy we trust); otherwise, and as fallback, the peer's IP.
    pub fn client_ip(&self) -> Option<IpAddr> {
        let peer = self.remote_addr().and_then(|a| a.as_tcp()).map(|s| s.ip());
        let trusted = match peer {
            Some(IpAddr::V4(v4)) => v4.is_loopback() || v4.is_private(),
            Some(IpAddr::V6(v6)) => v6.is_loopback() || v6.is_unique_local(),
            // Unix sockets and in-process requests come from this host.
            None => true,
        };
        if trusted {
            let forwarded = self
                .header("x-forwarded-for")
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
                .or_else(|| self.header("x-real-ip").and_then(|v| v.trim().parse().ok()));
            if forwarded.is_some() {
                return forwarded;
            }
        }
        peer
    }

    /// Reads (once) and returns the whole body, up to the body limit.
    ///
    /// # Errors
    ///
    /// [`Rejection::PayloadTooLarge`] past the limit,
    /// [`Rejection::BodyTimeout`] past the server's body-read timeout, or
    /// [`Rejection::BodyRead`] when reading fails otherwise.
    pub async fn body(&mut self) -> Result<Bytes, Rejection> {
        if let Some(b) = &self.buffered {
            return Ok(b.clone());
        }
        let body = self.body.take().unwrap_or_default();
        let bytes = read_body(body, body_limit(&self.parts.extensions)).await?;
        self.buffered = Some(bytes.clone());
        Ok(bytes)
    }

    /// The first value of form field `key` from an urlencoded body
    /// (Hertz's `PostForm`).
    ///
    /// # Errors
    ///
    /// As [`body`](Self::body).
    pub async fn post_form(&mut self, key: &str) -> Result<Option<String>, Rejection> {
        let body = self.body().await?;
        Ok(form_value(&body, key))
    }

    /// The body deserialised from JSON, whatever the content type.
    ///
    /// # Errors
    ///
    /// As [`body`](Self::body), plus JSON syntax (400) and shape (422)
    /// errors.
    pub async fn bind_json<T: DeserializeOwned>(&mut self) -> Result<T, Rejection> {
        let body = self.body().await?;
        super::json::parse_json(&body)
    }

    /// The body deserialised from an urlencoded form, whatever the content
    /// type (Hertz's `BindForm`).
    ///
    /// # Errors
    ///
    /// As [`body`](Self::body), plus [`Rejection::InvalidForm`] (422).
    pub async fn bind_form<T: DeserializeOwned>(&mut self) -> Result<T, Rejection> {
        let body = self.body().await?;
        serde_urlencoded::from_bytes(&body).map_err(|e| Rejection::InvalidForm(e.to_string()))
    }

    /// A per-request value set earlier (by middleware, say); Hertz's
    /// `c.Get`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.parts.extensions.get::<T>()
    }

    /// Stores a per-request value; Hertz's `c.Set`.
    pub fn set<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.parts.extensions.insert(value);
    }

    /// Router state of type `T` (see [`crate::Router::with_state`]).
    pub fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.parts
            .extensions
            .get::<AppState>()?
            .0
            .get::<T>()
            .cloned()
    }

    /// The request extensions.
    pub fn extensions(&self) -> &Extensions {
        &self.parts.extensions
    }

    /// Reassembles the request (with the buffered body, if it was read).
    pub fn into_request(self) -> Request {
        let body = match (self.buffered, self.body) {
            (Some(b), _) => Body::from(b),
            (None, Some(b)) => b,
            (None, None) => Body::empty(),
        };
        Request::from_parts(self.parts, body)
    }
}

/// The first value of `key` in urlencoded `data`.
fn form_value(data: &[u8], key: &str) -> Option<String> {
    form_urlencoded_pairs(data)
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn form_urlencoded_pairs(data: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    data.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            (decode_form(k), decode_form(v))
        })
}

fn decode_form(s: &[u8]) -> Cow<'_, str> {
    if !s.contains(&b'+') && !s.contains(&b'%') {
        return String::from_utf8_lossy(s);
    }
    let plus: Vec<u8> = s
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_decode() {
        assert_eq!(form_value(b"a=1&b=x+y%21&a=2", "a").as_deref(), Some("1"));
        assert_eq!(form_value(b"a=1&b=x+y%21", "b").as_deref(), Some("x y!"));
        assert_eq!(form_value(b"flag&x=", "flag").as_deref(), Some(""));
        assert_eq!(form_value(b"x=%zz", "x").as_deref(), Some("%zz"));
        assert_eq!(form_value(b"", "x"), None);
    }
}
