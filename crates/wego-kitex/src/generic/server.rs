//! Generic services: one handler for every method of a descriptor, fed
//! dynamic values, or raw Thrift messages for proxies.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};

use super::codec::{self, DecodeLimits};
use super::{Descriptor, DescriptorHandle, Outcome, StructValue, Value};
use crate::codegen;
use crate::metainfo::CallContext;
use crate::server::{ThriftReply, ThriftRequest};
use crate::thrift::{self, ApplicationException, ExceptionKind, MessageHeader, MessageType};
use crate::{BoxError, BoxFuture};

/// Answers any method of a descriptor with dynamic values.
pub trait GenericHandler: Send + Sync + 'static {
    /// Answers `method` called with `args` (its argument struct): the
    /// result (`None` for `void`), or a declared exception by its field
    /// name. An `Err` becomes a `TApplicationException` of kind
    /// `INTERNAL_ERROR`.
    fn call(
        &self,
        method: &str,
        args: StructValue,
        ctx: Arc<CallContext>,
    ) -> impl Future<Output = Result<Outcome<Value>, BoxError>> + Send;
}

/// A `tower::Service` serving every method of a descriptor with a
/// [`GenericHandler`]; add it with
/// `Server::builder().service(name, &methods, svc)`, the names from
/// [`GenericService::method_names`].
///
/// Arguments are decoded against the descriptor (a mismatch is answered
/// with a `PROTOCOL_ERROR` exception); the handler's answer is checked
/// and encoded in the caller's protocol.
pub struct GenericService<H> {
    desc: DescriptorHandle,
    handler: Arc<H>,
    limits: DecodeLimits,
}

impl<H> Clone for GenericService<H> {
    fn clone(&self) -> Self {
        Self {
            desc: self.desc.clone(),
            handler: self.handler.clone(),
            limits: self.limits,
        }
    }
}

impl<H> std::fmt::Debug for GenericService<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenericService")
            .field("service", &self.desc.load().service_name())
            .finish()
    }
}

impl<H: GenericHandler> GenericService<H> {
    /// Serves `desc` with `handler`.
    pub fn new(desc: Descriptor, handler: H) -> Self {
        Self::with_handle(DescriptorHandle::new(desc), handler)
    }

    /// Serves the descriptor behind `desc` (swappable at run time; a call
    /// keeps the descriptor it started with) with `handler`.
    pub fn with_handle(desc: DescriptorHandle, handler: H) -> Self {
        Self {
            desc,
            handler: Arc::new(handler),
            limits: DecodeLimits::default(),
        }
    }

    /// Sets the limits on decoding arguments.
    pub fn with_decode_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The service name, to register under.
    pub fn service_name(&self) -> String {
        self.desc.load().service_name().to_owned()
    }

    /// The methods of the current descriptor, to register.
    pub fn method_names(&self) -> Vec<String> {
        self.desc
            .load()
            .methods()
            .iter()
            .map(|m| m.name.clone())
            .collect()
    }
}

fn protocol_error(msg: String) -> ThriftReply {
    ThriftReply::Exception(ApplicationException::new(ExceptionKind::ProtocolError, msg))
}

impl<H: GenericHandler> tower_service::Service<ThriftRequest> for GenericService<H> {
    type Response = ThriftReply;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<ThriftReply, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ThriftRequest) -> Self::Future {
        let d = self.desc.load();
        let handler = self.handler.clone();
        let limits = self.limits;
        Box::pin(async move {
            let name = req.header.name.as_str();
            let Some(m) = d.method(name) else {
                return Ok(codegen::unknown_method(name));
            };
            let args = match codec::decode_struct(&d, m.args, &req.args, req.protocol, limits) {
                Ok((a, _)) => a,
                Err(e) => return Ok(protocol_error(e.to_string())),
            };
            let out = handler.call(name, args, req.context.clone()).await?;
            if m.oneway {
                return Ok(ThriftReply::None);
            }
            let res = result_struct(&d, m.result, m.void, out)?;
            let body = codec::encode_struct(&d, m.result, &res, req.protocol)?;
            Ok(ThriftReply::Result(body))
        })
    }
}

/// The result struct of an outcome.
fn result_struct(
    d: &Descriptor,
    res: super::StructId,
    void: bool,
    out: Outcome<Value>,
) -> Result<StructValue, BoxError> {
    match out {
        Outcome::Success(Some(_)) if void => Err("a void method returned a value".into()),
        Outcome::Success(Some(v)) => Ok(StructValue::new().with(0, v)),
        Outcome::Success(None) if void => Ok(StructValue::new()),
        Outcome::Success(None) => Err("the handler returned no result".into()),
        Outcome::Exception { name, value } => {
            match d
                .struct_desc(res)
                .field_by_name(&name)
                .filter(|f| f.id != 0)
            {
                Some(f) => Ok(StructValue::new().with(f.id, value)),
                None => Err(format!("exception {name:?} is not declared").into()),
            }
        }
    }
}

/// Answers whole Thrift messages without decoding them: the proxy half
/// of a binary generic server.
pub trait RawHandler: Send + Sync + 'static {
    /// Answers `message` (envelope and argument struct, in the caller's
    /// protocol) with a whole reply message: a reply, or an exception
    /// message carrying a `TApplicationException`. For a oneway call the
    /// answer is ignored.
    fn call(
        &self,
        message: Bytes,
        ctx: Arc<CallContext>,
    ) -> impl Future<Output = Result<Bytes, BoxError>> + Send;
}

/// A `tower::Service` handing every call, as a whole Thrift message, to a
/// [`RawHandler`]; register it for the methods it answers, or under a
/// service name (Apache's multiplexed `service:method` routes by service).
pub struct RawService<H> {
    handler: Arc<H>,
}

impl<H> Clone for RawService<H> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
        }
    }
}

impl<H> std::fmt::Debug for RawService<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawService").finish_non_exhaustive()
    }
}

impl<H: RawHandler> RawService<H> {
    /// Serves calls with `handler`.
    pub fn new(handler: H) -> Self {
        Self {
            handler: Arc::new(handler),
        }
    }
}

impl<H: RawHandler> tower_service::Service<ThriftRequest> for RawService<H> {
    type Response = ThriftReply;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<ThriftReply, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ThriftRequest) -> Self::Future {
        let handler = self.handler.clone();
        Box::pin(async move {
            let proto = req.protocol;
            let oneway = req.header.kind == MessageType::Oneway;
            let mut msg = BytesMut::new();
            thrift::encode_header(proto, &req.header, true, &mut msg);
            msg.extend_from_slice(&req.args);
            let mut reply = handler.call(msg.freeze(), req.context.clone()).await?;
            if oneway {
                return Ok(ThriftReply::None);
            }
            let rproto = thrift::Protocol::sniff(&reply).unwrap_or(proto);
            let (h, _): (MessageHeader, bool) = thrift::decode_header(rproto, &mut reply)?;
            match h.kind {
                MessageType::Reply if rproto == proto => Ok(ThriftReply::Result(reply)),
                MessageType::Reply => Err("reply protocol differs from the call's".into()),
                MessageType::Exception => {
                    let e: ApplicationException = thrift::decode_body(rproto, &mut reply)?;
                    Ok(ThriftReply::Exception(e))
                }
                _ => Err("the raw handler answered with a non-reply message".into()),
            }
        })
    }
}
