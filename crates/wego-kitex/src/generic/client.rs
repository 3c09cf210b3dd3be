//! Generic clients: JSON or dynamic values through a descriptor, or whole
//! Thrift messages forwarded untouched.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::codec::{self, DecodeLimits};
use super::json::{self, UnknownFields};
use super::{CallError, Descriptor, DescriptorHandle, Outcome, StructValue, Value, ValueError};
use crate::Error;
use crate::client::{Client, ClientRequest, ClientResponse};
use crate::codegen;
use crate::thrift::{self, ApplicationException, MessageHeader, MessageType, Protocol};

/// Calls any method of a descriptor's service with JSON or a dynamic
/// [`Value`], over any client stack generated clients take.
///
/// Clones share the client stack and the descriptor handle: replacing the
/// descriptor ([`update_descriptor`](Self::update_descriptor)) affects
/// every clone, and a call in flight finishes with the descriptor it
/// started with.
///
/// ```no_run
/// use wego_kitex::client::Client;
/// use wego_kitex::generic::{GenericClient, Idl, Outcome};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let desc = Idl::parse_file("idl/ThriftTest.thrift")?.service("ThriftTest")?;
/// let client = Client::builder("127.0.0.1:9090".parse()?).build()?;
/// let generic = GenericClient::new(client, desc);
/// let reply = generic.call_json("testI32", r#"{"thing": 7}"#).await?;
/// assert_eq!(reply, Outcome::Success(Some("7".to_owned())));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GenericClient<S = Client> {
    inner: S,
    desc: DescriptorHandle,
    callee: Arc<str>,
    unknown: UnknownFields,
    limits: DecodeLimits,
}

impl<S> GenericClient<S>
where
    S: tower_service::Service<ClientRequest, Response = ClientResponse, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    /// Wraps a client stack; the callee is the descriptor's service name.
    pub fn new(inner: S, desc: Descriptor) -> Self {
        Self::with_handle(inner, DescriptorHandle::new(desc))
    }

    /// Wraps a client stack with a descriptor handle shared with others
    /// (one swap updates them all).
    pub fn with_handle(inner: S, desc: DescriptorHandle) -> Self {
        let callee = Arc::from(desc.load().service_name());
        Self {
            inner,
            desc,
            callee,
            unknown: UnknownFields::Reject,
            limits: DecodeLimits::default(),
        }
    }

    /// Names the callee for governance (default: the IDL service name).
    pub fn with_callee(mut self, callee: &str) -> Self {
        self.callee = Arc::from(callee);
        self
    }

    /// Sets what happens to JSON members the IDL does not declare
    /// (default: refused).
    pub fn with_unknown_fields(mut self, policy: UnknownFields) -> Self {
        self.unknown = policy;
        self
    }

    /// Sets the limits on decoding replies.
    pub fn with_decode_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// What happens to JSON members the IDL does not declare.
    pub fn unknown_fields(&self) -> UnknownFields {
        self.unknown
    }

    /// The descriptor handle.
    pub fn descriptor_handle(&self) -> &DescriptorHandle {
        &self.desc
    }

    /// The current descriptor.
    pub fn descriptor(&self) -> Arc<Descriptor> {
        self.desc.load()
    }

    /// Replaces the descriptor for calls started from now on (on every
    /// clone); calls in flight keep the one they started with.
    pub fn update_descriptor(&self, desc: Descriptor) {
        self.desc.store(desc);
    }

    /// Encodes `method`'s arguments from a JSON object in `proto`, as
    /// [`call_json`](Self::call_json) would send them: for transports of
    /// one's own (a message queue, a test recorder).
    ///
    /// # Errors
    ///
    /// [`ValueError`] when the JSON does not match the IDL.
    pub fn encode_json(
        &self,
        method: &str,
        args: &str,
        proto: Protocol,
    ) -> Result<Bytes, ValueError> {
        let d = self.desc.load();
        let m = d
            .method(method)
            .ok_or_else(|| ValueError::UnknownMethod(method.to_owned()))?;
        let j = json::parse(args)?;
        let v = json::struct_from_json(&d, m.args, &j, self.unknown)?;
        codec::encode_struct(&d, m.args, &v, proto)
    }

    /// Calls `method` with its arguments as a JSON object (argument names
    /// as keys); the result, or a declared exception, comes back as JSON
    /// text (`None` for `void` and `oneway` methods).
    ///
    /// # Errors
    ///
    /// [`CallError::Request`] when the JSON does not match the IDL (nothing
    /// is sent), [`CallError::Call`] when the call fails,
    /// [`CallError::Reply`] when the reply does not match the IDL.
    pub async fn call_json(&self, method: &str, args: &str) -> Result<Outcome<String>, CallError> {
        let d = self.desc.load();
        let m = d
            .method(method)
            .ok_or_else(|| CallError::Request(ValueError::UnknownMethod(method.to_owned())))?;
        let j = json::parse(args).map_err(CallError::Request)?;
        let v = json::struct_from_json(&d, m.args, &j, self.unknown).map_err(CallError::Request)?;
        let out = self.send(d.clone(), method, v).await?;
        let res = d.struct_desc(m.result);
        Ok(out.map(|v| {
            let ty = match &v.0 {
                Some(id) => res.field_by_id(*id).map(|f| &f.ty),
                None => None,
            };
            match ty {
                Some(ty) => json::to_json(&d, ty, &v.1).to_string(),
                None => serde_json::Value::Null.to_string(),
            }
        }))
    }

    /// Calls `method` with its argument struct as a dynamic value (field
    /// ids as the IDL declares them); the result, or a declared exception,
    /// comes back as a value.
    ///
    /// # Errors
    ///
    /// As [`call_json`](Self::call_json).
    pub async fn call_value(
        &self,
        method: &str,
        args: StructValue,
    ) -> Result<Outcome<Value>, CallError> {
        let d = self.desc.load();
        let Some(m) = d.method(method) else {
            return Err(CallError::Request(ValueError::UnknownMethod(
                method.to_owned(),
            )));
        };
        codec::validate(&d, m.args, &args).map_err(CallError::Request)?;
        let out = self.send(d.clone(), method, args).await?;
        Ok(out.map(|(_, v)| v))
    }

    /// [`call_value`](Self::call_value) through a descriptor the caller
    /// already holds (the one its arguments were built with), whatever
    /// the handle holds now.
    pub(crate) async fn call_value_in(
        &self,
        d: Arc<Descriptor>,
        method: &str,
        args: StructValue,
    ) -> Result<Outcome<Value>, CallError> {
        let Some(m) = d.method(method) else {
            return Err(CallError::Request(ValueError::UnknownMethod(
                method.to_owned(),
            )));
        };
        codec::validate(&d, m.args, &args).map_err(CallError::Request)?;
        let out = self.send(d, method, args).await?;
        Ok(out.map(|(_, v)| v))
    }

    /// Sends validated arguments; the outcome's values carry the result
    /// field id they came from.
    async fn send(
        &self,
        d: Arc<Descriptor>,
        method: &str,
        args: StructValue,
    ) -> Result<Outcome<(Option<i16>, Value)>, CallError> {
        let m = d
            .method(method)
            .ok_or_else(|| CallError::Request(ValueError::UnknownMethod(method.to_owned())))?;
        let (sid, oneway, res_id) = (m.args, m.oneway, m.result);
        let args = Arc::new(args);
        let enc_desc = d.clone();
        let mut req = ClientRequest::encode_with(method, move |proto| {
            codec::encode_struct(&enc_desc, sid, &args, proto).map_err(Error::protocol)
        })
        .with_oneway(oneway);
        req.callee = Some(self.callee.clone());
        let resp = codegen::call(self.inner.clone(), req)
            .await
            .map_err(CallError::Call)?;
        if oneway {
            return Ok(Outcome::Success(None));
        }
        let (res, _) = codec::decode_struct(&d, res_id, &resp.body, resp.protocol, self.limits)
            .map_err(CallError::Reply)?;
        let out = super::result_outcome(&d, m, res).map_err(CallError::Call)?;
        let rdesc = d.struct_desc(res_id);
        Ok(match out {
            Outcome::Success(v) => Outcome::Success(v.map(|v| (Some(0), v))),
            Outcome::Exception { name, value } => {
                let id = rdesc.field_by_name(&name).map(|f| f.id);
                Outcome::Exception {
                    name,
                    value: (id, value),
                }
            }
        })
    }
}

/// Forwards whole Thrift messages (envelope and body, binary or compact)
/// through a client stack without decoding their bodies: the proxy half
/// of Kitex's binary generic.
///
/// The reply is a whole message too, with the caller's sequence id: a
/// reply, or an exception message when the callee answered with a
/// `TApplicationException`. The client must speak the protocol of the
/// messages it forwards; a message in another protocol is refused before
/// anything is sent.
#[derive(Debug, Clone)]
pub struct BinaryClient<S = Client> {
    inner: S,
    callee: Option<Arc<str>>,
}

impl<S> BinaryClient<S>
where
    S: tower_service::Service<ClientRequest, Response = ClientResponse, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    /// Wraps a client stack.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            callee: None,
        }
    }

    /// Names the callee for governance.
    pub fn with_callee(mut self, callee: &str) -> Self {
        self.callee = Some(Arc::from(callee));
        self
    }

    /// Forwards `message`; returns the whole reply message (empty for a
    /// oneway call).
    ///
    /// # Errors
    ///
    /// [`CallError::Request`] when `message` is not a Thrift call (its
    /// envelope does not decode, it is not a call, or its protocol is not
    /// the client's); [`CallError::Call`] when the call fails other than
    /// with a `TApplicationException`.
    pub async fn call(&self, message: Bytes) -> Result<Bytes, CallError> {
        let malformed = |reason| {
            CallError::Request(ValueError::Malformed {
                path: String::new(),
                reason,
            })
        };
        let proto = Protocol::sniff(&message).unwrap_or(Protocol::Binary);
        let mut body = message;
        let (header, _) = thrift::decode_header(proto, &mut body)
            .map_err(|_| malformed("not a thrift message envelope"))?;
        let oneway = match header.kind {
            MessageType::Call => false,
            MessageType::Oneway => true,
            _ => return Err(malformed("not a call or oneway message")),
        };
        let mut req = ClientRequest::encode_with(header.name.clone(), move |p| {
            if p == proto {
                Ok(body.clone())
            } else {
                Err(Error::protocol(ProtocolMismatch))
            }
        })
        .with_oneway(oneway);
        req.callee = self.callee.clone();
        let reply = codegen::call(self.inner.clone(), req).await;
        let mut out = BytesMut::new();
        let mut h = MessageHeader {
            name: header.name,
            kind: MessageType::Reply,
            seq_id: header.seq_id,
        };
        match reply {
            Ok(_) if oneway => Ok(Bytes::new()),
            Ok(resp) => {
                thrift::encode_header(resp.protocol, &h, true, &mut out);
                out.extend_from_slice(&resp.body);
                Ok(out.freeze())
            }
            Err(e) => match e.application_exception() {
                Some(ae) => {
                    h.kind = MessageType::Exception;
                    encode_exception(proto, &h, ae, &mut out);
                    Ok(out.freeze())
                }
                None if e.is_protocol()
                    && std::error::Error::source(&e)
                        .is_some_and(|s| s.downcast_ref::<ProtocolMismatch>().is_some()) =>
                {
                    Err(malformed("message protocol differs from the client's"))
                }
                None => Err(CallError::Call(e)),
            },
        }
    }
}

fn encode_exception(
    proto: Protocol,
    h: &MessageHeader,
    e: &ApplicationException,
    out: &mut BytesMut,
) {
    // An ApplicationException always encodes (two fields of plain types).
    if thrift::encode_message(proto, h, e, out).is_err() {
        out.clear();
    }
}

/// The message forwarded is in another protocol than the client's.
#[derive(Debug)]
struct ProtocolMismatch;

impl std::fmt::Display for ProtocolMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("message protocol differs from the client's")
    }
}

impl std::error::Error for ProtocolMismatch {}
