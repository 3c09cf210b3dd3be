//! The request policies around one exchange: following redirects
//! ([`redirect`](super::redirect)), and per hop the cookie jar and
//! response decompression when they are on.
//!
//! One call of [`Shared::execute`] is one logical request: every hop
//! shares its deadline, and only the last response reaches the caller.

use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, Uri};

use super::pool::Origin;
use super::{Shared, redirect};
use crate::{Body, Error, Result};

/// How much of a redirect's own body is read (and dropped) so that its
/// connection can be reused; a longer one closes the connection instead.
const REDIRECT_BODY_DRAIN: usize = 64 * 1024;

impl Shared {
    /// Sends `req`, following redirects up to the configured limit.
    pub(super) async fn execute(
        &self,
        req: Request<Body>,
        deadline: Option<Instant>,
    ) -> Result<Response<Body>> {
        if self.redirects == 0 {
            return self.hop(req, deadline).await;
        }
        let (mut parts, body) = req.into_parts();
        // A body in memory can follow a 307/308; a stream cannot.
        let (mut body, mut replay): (Body, Option<Bytes>) = if body.in_memory().is_some() {
            let data = body
                .collect_limited(usize::MAX)
                .await
                .map_err(Error::body)?;
            (Body::from(data.clone()), Some(data))
        } else {
            (body, None)
        };
        let mut followed = 0;
        loop {
            let method = parts.method.clone();
            let uri = parts.uri.clone();
            let resp = self
                .hop(Request::from_parts(parts.clone(), body), deadline)
                .await?;
            let Some(next) = redirect::next(resp.status(), &method, &uri, resp.headers()) else {
                return Ok(resp);
            };
            if next.keep_body && replay.is_none() {
                // RFC 9110 §15.4.8: the body must be sent again, and a
                // stream already sent cannot be.
                return Ok(resp);
            }
            if followed == self.redirects {
                return Err(Error::too_many_redirects(self.redirects));
            }
            if next.downgrade && !self.redirect_downgrade {
                return Err(Error::redirect_downgrade());
            }
            // Reading the rest of a short redirect body returns its
            // connection to the pool; a failure only costs the connection.
            let _ = resp.into_body().collect_limited(REDIRECT_BODY_DRAIN).await;
            redirect::strip(&mut parts.headers, &next);
            if !next.keep_body {
                replay = Some(Bytes::new());
            }
            body = replay.clone().map_or_else(Body::empty, Body::from);
            tracing::debug!(method = %next.method, to = %next.uri, "following a redirect");
            parts.method = next.method;
            parts.uri = next.uri;
            followed += 1;
        }
    }

    /// One exchange: `req` to its origin and the response back, with
    /// the jar's cookies and decompression when they are on.
    async fn hop(&self, req: Request<Body>, deadline: Option<Instant>) -> Result<Response<Body>> {
        let origin = Origin::from_uri(req.uri())?;
        let req = self.before(req);
        let method = req.method().clone();
        let uri = req.uri().clone();
        let resp = self.dispatch(origin, req, deadline).await?;
        self.after(&method, &uri, resp)
    }

    /// Adds the jar's cookies and asks for compression, when on.
    // Without the `cookies` feature or a codec there is nothing to add.
    #[allow(unused_mut)]
    fn before(&self, mut req: Request<Body>) -> Request<Body> {
        #[cfg(feature = "cookies")]
        if let Some(jar) = &self.cookies {
            add_cookies(jar, &mut req);
        }
        #[cfg(any(feature = "gzip", feature = "br", feature = "zstd"))]
        if self.decompression {
            super::decompress::prepare(req.headers_mut());
        }
        req
    }

    /// Stores the response's cookies and decodes its body, when on.
    // Without the `cookies` feature or a codec the response goes as is.
    #[allow(unused_variables)]
    fn after(&self, method: &Method, uri: &Uri, resp: Response<Body>) -> Result<Response<Body>> {
        #[cfg(feature = "cookies")]
        if let Some(jar) = &self.cookies {
            jar.store(uri, resp.headers());
        }
        #[cfg(any(feature = "gzip", feature = "br", feature = "zstd"))]
        if self.decompression {
            return super::decompress::decode(resp, method, self.settings.max_body);
        }
        Ok(resp)
    }
}

/// Appends the jar's cookies for the request's URI to its `Cookie`
/// field (RFC 6265 §5.4: one field).
#[cfg(feature = "cookies")]
fn add_cookies(jar: &super::CookieJar, req: &mut Request<Body>) {
    let Some(from_jar) = jar.header_for(req.uri()) else {
        return;
    };
    let headers = req.headers_mut();
    let joined = match headers.get(http::header::COOKIE) {
        Some(own) => {
            let mut both = own.as_bytes().to_vec();
            both.extend_from_slice(b"; ");
            both.extend_from_slice(from_jar.as_bytes());
            http::HeaderValue::from_bytes(&both).unwrap_or(from_jar)
        }
        None => from_jar,
    };
    headers.insert(http::header::COOKIE, joined);
}
