//! One call on the server: its headers checked, the service run against
//! the deadline and the client's reset, the answer sent (Trailers-Only
//! when the status comes first).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use h2::server::SendResponse;
use http::{HeaderMap, HeaderValue, StatusCode};
use tower_service::Service;
use wego_netpoll::rt;

use super::config::Config;
use super::router::{RawRequest, RawResponse};
use super::stream::RequestStream;
use crate::grpc::codec::timeout::parse_timeout;
use crate::grpc::codec::{self, Decoder, Encoding, message_status};
use crate::grpc::conn::send::send_all;
use crate::grpc::metadata::Metadata;
use crate::grpc::status::Status;

/// Runs a call on its connection's task, containing a handler's panic to
/// that call (its stream is reset) as a task per call would.
pub(super) fn contain<F: Future<Output = ()>>(call: F) -> impl Future<Output = ()> {
    crate::contain::contain(call).map(|r| {
        if r.is_none() {
            tracing::error!("grpc handler panicked; its stream is reset");
        }
    })
}

fn trailers_only(
    status: &Status,
    extra: Option<(&'static str, HeaderValue)>,
) -> http::Response<()> {
    let mut resp = http::Response::new(());
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    if let Some((k, v)) = extra {
        headers.insert(k, v);
    }
    status.write_to(headers);
    resp
}

/// Reads the call's headers into what the service needs, or the status that
/// ends the call right away.
/// What a call's headers say: deadline, request encoding, response encoding.
type CallHead = (Option<Instant>, Option<Encoding>, Option<Encoding>);

fn parse_call(
    parts: &http::request::Parts,
    cfg: &Config,
) -> Result<CallHead, (StatusCode, Status)> {
    let ct = parts
        .headers
        .get("content-type")
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if !ct.starts_with(b"application/grpc") {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Status::internal("content-type is not application/grpc"),
        ));
    }
    if parts.method != http::Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            Status::internal("method is not POST"),
        ));
    }
    let deadline = match parts.headers.get("grpc-timeout") {
        None => None,
        Some(v) => {
            let d = parse_timeout(v.as_bytes()).map_err(|e| {
                (
                    StatusCode::OK,
                    Status::internal(format!("malformed grpc-timeout: {e}")),
                )
            })?;
            rt::now().checked_add(d)
        }
    };
    let recv_enc = match parts
        .headers
        .get("grpc-encoding")
        .map(HeaderValue::as_bytes)
    {
        None | Some(b"identity") => None,
        Some(token) => match Encoding::from_token(token) {
            Some(e) if cfg.accept_compressed => Some(e),
            _ => {
                return Err((
                    StatusCode::OK,
                    Status::unimplemented(format!(
                        "unsupported grpc-encoding {}",
                        String::from_utf8_lossy(token)
                    )),
                ));
            }
        },
    };
    let accept = parts
        .headers
        .get("grpc-accept-encoding")
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    let send_enc = cfg.send_compressed.filter(|e| e.is_accepted_by(accept));
    Ok((deadline, recv_enc, send_enc))
}

/// What a connection's IO told about it when it was handed over.
pub(super) struct ConnFacts {
    pub(super) peer: Option<wego_netpoll::Address>,
    pub(super) tls: Option<wego_netpoll::net::TlsInfo>,
}

pub(super) async fn handle_call<S>(
    req: http::Request<h2::RecvStream>,
    mut respond: SendResponse<Bytes>,
    mut service: S,
    cfg: Arc<Config>,
    facts: Arc<ConnFacts>,
) where
    S: Service<RawRequest, Response = RawResponse, Error = Status> + Send + 'static,
    S::Future: Send + 'static,
{
    let (parts, body) = req.into_parts();
    let (deadline, recv_enc, default_send_enc) = match parse_call(&parts, &cfg) {
        Ok(v) => v,
        Err((http_status, status)) => {
            let mut resp =
                trailers_only(&status, Some(("grpc-accept-encoding", accept_header(&cfg))));
            *resp.status_mut() = http_status;
            let _ = respond.send_response(resp, true);
            return;
        }
    };
    let accept = parts
        .headers
        .get("grpc-accept-encoding")
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    // The response names the request's message codec (`application/grpc`,
    // `application/grpc+json`, ...): `parse_call` checked the prefix.
    let content_type = parts
        .headers
        .get("content-type")
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/grpc"));
    let mut metadata = Metadata::from_headers(parts.headers);
    metadata.remove_reserved();
    let stream = RequestStream::new(body, Decoder::new(cfg.max_recv, recv_enc));
    let mut request = RawRequest::from_parts(stream, metadata, deadline);
    request.set_path(parts.uri.path().to_owned());
    request.set_conn_facts(facts.peer.as_ref(), facts.tls.as_ref());

    let ctx =
        match crate::grpc::metainfo::context_from(request.path(), request.metadata(), deadline) {
            Ok(ctx) => Arc::new(ctx),
            Err(status) => {
                let _ = respond.send_response(trailers_only(&status, None), true);
                return;
            }
        };
    let call = crate::metainfo::scope(ctx.clone(), async {
        std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
        service.call(request).await
    });
    let outcome = tokio::select! {
        r = call => r,
        () = sleep_opt(deadline) => Err(Status::deadline_exceeded("deadline exceeded")),
        _ = std::future::poll_fn(|cx| respond.poll_reset(cx)) => return,
    };
    let response = match outcome {
        Ok(r) => r,
        Err(status) => {
            let _ = respond.send_response(trailers_only(&status, None), true);
            return;
        }
    };
    let send_enc = match response.compression() {
        Some(e) if e.is_accepted_by(&accept) => Some(e),
        _ => default_send_enc,
    };
    let mut head = http::Response::new(());
    {
        let h = head.headers_mut();
        response.metadata().merge_into(h);
        h.insert("content-type", content_type);
        h.insert("grpc-accept-encoding", accept_header(&cfg));
        if let Some(e) = send_enc {
            h.insert("grpc-encoding", HeaderValue::from_static(e.as_str()));
        }
    }
    let trailers = response.trailers().clone();
    let has_metadata = !response.metadata().is_empty();
    let early = response.has_early_headers();
    let mut messages = response.into_inner();
    // The headers wait for the first message unless the handler asked.
    let mut head = Some(head);
    let mut out = None;
    if early && let Some(h) = head.take() {
        match respond.send_response(h, false) {
            Ok(s) => out = Some(s),
            Err(_) => return,
        }
    }
    let mut buf = BytesMut::new();
    let mut sent_any = false;
    let status = loop {
        let reset = std::future::poll_fn(|cx| match out.as_mut() {
            Some(s) => s.poll_reset(cx),
            None => respond.poll_reset(cx),
        });
        let next = tokio::select! {
            n = crate::metainfo::scope(ctx.clone(), messages.next()) => n,
            () = sleep_opt(deadline) => break Status::deadline_exceeded("deadline exceeded"),
            _ = reset => return,
        };
        match next {
            None => break Status::ok().with_metadata(trailers),
            Some(Err(s)) => break s,
            Some(Ok(payload)) => {
                if sent_any {
                    // A stream: frame into shared blocks, not one
                    // allocation per message (a unary answer stays exact).
                    buf.reserve((codec::HEADER_LEN + payload.len()).max(FRAME_BLOCK));
                }
                sent_any = true;
                if let Err(e) = codec::encode(&payload, send_enc, cfg.max_send, &mut buf) {
                    break message_status(e);
                }
                let frame = buf.split().freeze();
                let out = match (out.as_mut(), head.take()) {
                    (Some(s), _) => s,
                    (None, Some(h)) => match respond.send_response(h, false) {
                        Ok(s) => out.insert(s),
                        Err(_) => return,
                    },
                    (None, None) => return,
                };
                let sent = tokio::select! {
                    r = send_all(out, frame, false) => r,
                    () = sleep_opt(deadline) => break Status::deadline_exceeded("deadline exceeded"),
                };
                if sent.is_err() {
                    return;
                }
            }
        }
    };
    drop(messages);
    let mut out = match (out, head) {
        (Some(s), _) => s,
        // The status came first: Trailers-Only.
        (None, _) if !has_metadata => {
            let _ = respond.send_response(trailers_only(&status, None), true);
            return;
        }
        // Initial metadata stays initial: headers, then trailers.
        (None, Some(h)) => match respond.send_response(h, false) {
            Ok(s) => s,
            Err(_) => return,
        },
        (None, None) => return,
    };
    let mut map = HeaderMap::new();
    status.write_to(&mut map);
    let _ = out.send_trailers(map);
}

/// The block size streamed response frames are cut from.
const FRAME_BLOCK: usize = 8 * 1024;

/// What this server accepts, for `grpc-accept-encoding`.
fn accept_header(cfg: &Config) -> HeaderValue {
    if cfg.accept_compressed {
        HeaderValue::from_static("gzip")
    } else {
        HeaderValue::from_static("identity")
    }
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => rt::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
