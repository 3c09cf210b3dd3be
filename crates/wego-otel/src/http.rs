//! OTLP/HTTP (protobuf) transport: `opentelemetry-otlp`'s HTTP exporters
//! over wego-hertz's client.
//!
//! [`HertzHttpClient`] implements `opentelemetry_http::HttpClient`, so
//! `opentelemetry_otlp::SpanExporter::builder().with_http()
//! .with_http_client(..)` sends with wego-hertz instead of reqwest or
//! hyper. The exporter calls the client from the SDK's threads; the
//! client runs each request on the wego runtime it was built on.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use wego_hertz::Body;
use wego_hertz::client::Client;
use wego_netpoll::rt;

use crate::dispatch::Dispatcher;

/// The largest collector response read (a partial-success message).
const MAX_RESPONSE: usize = 1 << 20;

/// An `opentelemetry_http::HttpClient` on wego-hertz's client.
#[derive(Debug, Clone)]
pub struct HertzHttpClient {
    client: Client,
    dispatch: Dispatcher,
    timeout: Duration,
}

impl HertzHttpClient {
    /// Sends with `client`; each request (response body included) is
    /// bounded by `timeout`.
    ///
    /// # Panics
    ///
    /// Outside a wego runtime.
    pub fn new(client: Client, timeout: Duration) -> HertzHttpClient {
        HertzHttpClient {
            client,
            dispatch: Dispatcher::start(),
            timeout,
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for HertzHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let request = request.map(Body::from);
        let sent = self
            .dispatch
            .run(async move {
                rt::timeout(timeout, async move {
                    let resp = client.request(request).await?;
                    let (parts, body) = resp.into_parts();
                    let body = body.collect_limited(MAX_RESPONSE).await?;
                    Ok::<_, HttpError>(Response::from_parts(parts, body))
                })
                .await
            })
            .await?;
        match sent {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no answer within {timeout:?}").into()),
        }
    }
}
