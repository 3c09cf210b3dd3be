//! Answering one HTTP/2 stream: the service's response, its head sent
//! when the body yields its first frame (as on HTTP/1.1, so `100 Continue`
//! may still go out and a body that fails first gets an error status), the
//! body sent as the client's flow-control window allows, trailers last.
//!
//! The client's `RST_STREAM` drops the handler's future (how a handler
//! sees cancellation) and ends the answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, SendStream};
use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use http_body::{Body as _, Frame};
use tokio::sync::oneshot;
use wego_netpoll::rt;

use super::super::Config;
use super::super::conn::date::date_now;
use super::body::Signals;
use crate::body::{Body, BodyError};
use crate::codec::may_have_body;
use crate::response::FlushHead;

/// What answers a stream.
pub(super) enum Call<F> {
    /// The service's response future.
    Service(F),
    /// A status decided from the request head (413, an expect hook's
    /// rejection), without calling the service; a 1xx is answered 500.
    Status(StatusCode),
}

/// What the answer needs besides the call.
pub(super) struct Ctx {
    pub(super) config: Arc<Config>,
    /// Resolves when the handler first polls the request body, for a
    /// request that asked for `100 Continue`.
    pub(super) want: Option<oneshot::Receiver<()>>,
    pub(super) signals: Arc<Signals>,
    pub(super) head_request: bool,
}

impl Ctx {
    /// Sends `100 Continue` once the handler wants the body.
    fn poll_continue(&mut self, send: &mut SendResponse<Bytes>, cx: &mut Context<'_>) {
        if let Some(want) = self.want.as_mut()
            && let Poll::Ready(wanted) = std::pin::Pin::new(want).poll(cx)
        {
            self.want = None;
            if wanted.is_ok() {
                let mut info = Response::new(());
                *info.status_mut() = StatusCode::CONTINUE;
                let _ = send.send_informational(info);
            }
        }
    }
}

/// Answers one stream with `call`.
pub(super) async fn answer<F>(call: Call<F>, mut send: SendResponse<Bytes>, mut ctx: Ctx)
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    let response = match call {
        Call::Status(status) => status_response(status),
        Call::Service(fut) => {
            let mut fut = std::pin::pin!(fut);
            let called = std::future::poll_fn(|cx| {
                if send.poll_reset(cx).is_ready() {
                    return Poll::Ready(None);
                }
                ctx.poll_continue(&mut send, cx);
                fut.as_mut().poll(cx).map(|Ok(r)| Some(r))
            })
            .await;
            let Some(response) = called else {
                return;
            };
            response
        }
    };
    let response = if ctx.signals.too_large.load(Ordering::Acquire) {
        status_response(StatusCode::PAYLOAD_TOO_LARGE)
    } else if response.status().is_informational() {
        not_final(response.status())
    } else {
        response
    };
    let (mut parts, mut body) = response.into_parts();
    let bodyless = ctx.head_request || !may_have_body(parts.status, false);
    let flush_head = parts.extensions.get::<FlushHead>().is_some();
    // Read before the first frame is taken out of the body.
    let mut hint = body.size_hint().exact();
    let mut first = None;
    if !bodyless && !flush_head && !body.is_end_stream() {
        let polled = std::future::poll_fn(|cx| {
            if send.poll_reset(cx).is_ready() {
                return Poll::Ready(None);
            }
            ctx.poll_continue(&mut send, cx);
            std::pin::Pin::new(&mut body).poll_frame(cx).map(Some)
        })
        .await;
        match polled {
            None => return,
            Some(None) => {}
            Some(Some(Ok(frame))) => first = Some(frame),
            Some(Some(Err(e))) => {
                let Some(status) = failure_status(&e, &ctx) else {
                    send.send_reset(Reason::CANCEL);
                    return;
                };
                tracing::debug!(error = %e, "response body failed before its head");
                let (p, b) = status_response(status).into_parts();
                hint = b.size_hint().exact();
                (parts, body) = (p, b);
            }
        }
    }
    finish_head(
        &mut parts.headers,
        parts.status,
        &ctx.config,
        hint,
        ctx.head_request,
    );
    let ended = bodyless || (first.is_none() && body.is_end_stream());
    let head = Response::from_parts(parts, ());
    let mut stream = match send.send_response(head, ended) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::debug!(error = %e, "sending response head failed");
            return;
        }
    };
    if ended {
        return;
    }
    let timeout = ctx.config.write_timeout;
    if let Some(frame) = first
        && send_frame(&mut stream, frame, timeout).await.is_err()
    {
        return;
    }
    loop {
        let next = std::future::poll_fn(|cx| {
            if stream.poll_reset(cx).is_ready() {
                return Poll::Ready(None);
            }
            std::pin::Pin::new(&mut body).poll_frame(cx).map(Some)
        })
        .await;
        match next {
            None => return,
            Some(None) => {
                let _ = stream.send_data(Bytes::new(), true);
                return;
            }
            Some(Some(Ok(frame))) => {
                if send_frame(&mut stream, frame, timeout).await.is_err() {
                    return;
                }
            }
            Some(Some(Err(e))) => {
                tracing::debug!(error = %e, "response body failed");
                stream.send_reset(Reason::INTERNAL_ERROR);
                return;
            }
        }
    }
}

/// The status for a response body that failed before its first frame;
/// `None` when the client is gone.
fn failure_status(e: &BodyError, ctx: &Ctx) -> Option<StatusCode> {
    if e.is_too_large() || ctx.signals.too_large.load(Ordering::Acquire) {
        Some(StatusCode::PAYLOAD_TOO_LARGE)
    } else if e.is_malformed() {
        Some(StatusCode::BAD_REQUEST)
    } else if e.is_timeout() {
        Some(StatusCode::REQUEST_TIMEOUT)
    } else if e.is_incomplete() {
        None
    } else {
        Some(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Why sending stopped: the stream is over (reset, closed or timed out).
struct Stopped;

/// Sends one body frame: data as the window allows, trailers ending the
/// stream.
async fn send_frame(
    stream: &mut SendStream<Bytes>,
    frame: Frame<Bytes>,
    timeout: std::time::Duration,
) -> Result<(), Stopped> {
    match frame.into_data() {
        Ok(data) => send_data(stream, data, timeout).await,
        Err(frame) => match frame.into_trailers() {
            Ok(trailers) => {
                let _ = stream.send_trailers(trailers);
                Err(Stopped)
            }
            Err(_) => Ok(()),
        },
    }
}

/// Sends `data` in pieces the client's window allows. A client that opens
/// no window within `timeout` gets its stream reset: a zero-window client
/// holds a handler and its buffers no longer than a stalled HTTP/1.1
/// reader holds its connection.
async fn send_data(
    stream: &mut SendStream<Bytes>,
    mut data: Bytes,
    timeout: std::time::Duration,
) -> Result<(), Stopped> {
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let granted = rt::timeout(timeout, std::future::poll_fn(|cx| stream.poll_capacity(cx)));
        match granted.await {
            Ok(Some(Ok(n))) if n > 0 => {
                let chunk = data.split_to(n.min(data.len()));
                if stream.send_data(chunk, false).is_err() {
                    return Err(Stopped);
                }
            }
            // Zero capacity comes with a wake-up when more is assigned.
            Ok(Some(Ok(_))) => {}
            Ok(None | Some(Err(_))) => return Err(Stopped),
            Err(_) => {
                tracing::debug!("http/2 client opened no window in time; resetting the stream");
                stream.send_reset(Reason::CANCEL);
                return Err(Stopped);
            }
        }
    }
    Ok(())
}

/// An empty `500` in place of a response whose status, a 1xx from the
/// handler or the expect hook, is not final: a 1xx is interim (RFC 9110
/// §15.2), HTTP/2 has no `101` (RFC 9113 §8.6), and h2 would send it as
/// the stream's only head, which the client rejects as malformed. The
/// HTTP/1.1 driver answers the same; hyper's server does too.
#[cold]
fn not_final(status: StatusCode) -> Response<Body> {
    tracing::warn!(%status, "1xx is not a final response; answering 500");
    status_response(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A response with `status` and no body.
fn status_response(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2).
const CONNECTION_FIELDS: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Completes a response head for HTTP/2: drops connection-specific fields,
/// adds `date`, `server` and, for a body of known length, `content-length`,
/// as the HTTP/1.1 writer does.
fn finish_head(
    headers: &mut HeaderMap,
    status: StatusCode,
    config: &Config,
    hint: Option<u64>,
    head_request: bool,
) {
    for name in CONNECTION_FIELDS {
        headers.remove(name);
    }
    if headers.get(header::TE).is_some_and(|v| v != "trailers") {
        headers.remove(header::TE);
    }
    if !headers.contains_key(header::DATE) {
        let (date, _) = date_now();
        if let Ok(v) = HeaderValue::from_bytes(&date) {
            headers.insert(header::DATE, v);
        }
    }
    if let Some(server) = &config.server_header
        && !headers.contains_key(header::SERVER)
    {
        headers.insert(header::SERVER, server.clone());
    }
    if let Some(n) = hint
        && !headers.contains_key(header::CONTENT_LENGTH)
        && may_have_body(status, false)
        && !(head_request && n == 0)
    {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
}
