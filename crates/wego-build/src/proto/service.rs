//! The service generator: from a protobuf service `S` to a trait `SHandler`
//! (the Thrift side's name), a router
//! registration and a typed client over `wego_kitex::grpc`.
//!
//! The generated code names `::wego_kitex::grpc` items, the support items
//! of `::wego_kitex::codegen` (`Bytes`, `Stream`, `Service`) and the
//! message types prost generates next to it.

use std::fmt::Write;

use prost_build::{Method, Service, ServiceGenerator};

use crate::names::proto_service_stem as snake;

/// Generates wego's service code for prost-build.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WegoServiceGenerator;

const G: &str = "::wego_kitex::grpc";
/// The support module for generated code.
const C: &str = "::wego_kitex::codegen";

fn path_of(service: &Service, method: &Method) -> String {
    let full = if service.package.is_empty() {
        service.proto_name.clone()
    } else {
        format!("{}.{}", service.package, service.proto_name)
    };
    format!("/{full}/{}", method.proto_name)
}

/// The request and response types a handler sees for a method.
fn signature(m: &Method) -> (String, String) {
    let input = if m.client_streaming {
        format!("{G}::Request<{G}::RequestStream<{}>>", m.input_type)
    } else {
        format!("{G}::Request<{}>", m.input_type)
    };
    let output = if m.server_streaming {
        format!("{G}::Response<{G}::BoxStream<{}>>", m.output_type)
    } else {
        format!("{G}::Response<{}>", m.output_type)
    };
    (input, output)
}

fn registration(m: &Method) -> &'static str {
    match (m.client_streaming, m.server_streaming) {
        (false, false) => "unary",
        (false, true) => "server_streaming",
        (true, false) => "client_streaming",
        (true, true) => "streaming",
    }
}

fn write_trait(s: &Service, buf: &mut String) {
    s.comments.append_with_indent(0, buf);
    let _ = writeln!(
        buf,
        "pub trait {}Handler: ::core::marker::Send + ::core::marker::Sync + 'static {{",
        s.name
    );
    for m in &s.methods {
        let (input, output) = signature(m);
        m.comments.append_with_indent(1, buf);
        let _ = writeln!(
            buf,
            "    fn {}(&self, request: {input}) -> impl ::core::future::Future<Output = ::core::result::Result<{output}, {G}::Status>> + ::core::marker::Send;",
            m.name
        );
    }
    buf.push_str("}\n\n");
}

fn write_router(s: &Service, buf: &mut String) {
    let f = snake(&s.name);
    let _ = writeln!(
        buf,
        "/// Registers every method of [`{name}Handler`] on a router.\npub fn {f}_router<S: {name}Handler>(service: S) -> {G}::GrpcRouter {{\n    let service = ::std::sync::Arc::new(service);\n    {G}::GrpcRouter::new()",
        name = s.name
    );
    for m in &s.methods {
        let (input, _) = signature(m);
        let _ = writeln!(
            buf,
            "        .{kind}(\"{path}\", {{\n            let s = service.clone();\n            move |request: {input}| {{\n                let s = s.clone();\n                async move {{ s.{name}(request).await }}\n            }}\n        }})",
            kind = registration(m),
            path = path_of(s, m),
            name = m.name,
        );
    }
    buf.push_str("}\n\n");
}

fn write_client(s: &Service, buf: &mut String) {
    let client = format!("{}Client", s.name);
    let _ = writeln!(
        buf,
        "/// A typed client for `{pkg}{dot}{proto}`, generic over the unary client\n/// stack: a [`Channel`]({G}::Channel), or governance layers over per-instance\n/// channels (any `Service<GrpcCall, Response = Response<Bytes>, Error = Status>`).\n/// Streaming methods need a plain `Channel`.\n#[derive(Debug, Clone)]\npub struct {client}<S = {G}::Channel> {{\n    inner: S,\n    idempotent: bool,\n}}\n\nimpl<S> {client}<S>\nwhere\n    S: {C}::Service<{G}::GrpcCall, Response = {G}::Response<{C}::Bytes>, Error = {G}::Status>\n        + ::core::clone::Clone\n        + ::core::marker::Send\n        + 'static,\n    S::Future: ::core::marker::Send,\n{{\n    /// Wraps a client stack (a connected channel, or governance layers).\n    pub fn new(inner: S) -> Self {{\n        Self {{ inner, idempotent: false }}\n    }}\n\n    /// Marks every unary call of this client idempotent (retryable).\n    pub fn with_idempotent(mut self, idempotent: bool) -> Self {{\n        self.idempotent = idempotent;\n        self\n    }}\n\n    /// The underlying client stack.\n    pub fn inner(&self) -> &S {{\n        &self.inner\n    }}",
        pkg = s.package,
        dot = if s.package.is_empty() { "" } else { "." },
        proto = s.proto_name,
    );
    let unary: Vec<_> = s
        .methods
        .iter()
        .filter(|m| !m.client_streaming && !m.server_streaming)
        .collect();
    for m in &unary {
        let path = path_of(s, m);
        let (inp, out) = (&m.input_type, &m.output_type);
        buf.push('\n');
        m.comments.append_with_indent(1, buf);
        let _ = writeln!(
            buf,
            "    pub fn {n}(&self, request: {G}::Request<{inp}>) -> impl ::core::future::Future<Output = ::core::result::Result<{G}::Response<{out}>, {G}::Status>> + ::core::marker::Send + use<S> {{\n        let mut client = {G}::GovernedClient::new(self.inner.clone()).with_idempotent(self.idempotent);\n        async move {{ client.unary(\"{path}\", request).await }}\n    }}",
            n = m.name
        );
    }
    let _ = writeln!(
        buf,
        "}}\n\nimpl {client} {{\n    /// The underlying channel.\n    pub fn channel(&self) -> &{G}::Channel {{\n        &self.inner\n    }}"
    );
    for m in &s.methods {
        if !m.client_streaming && !m.server_streaming {
            continue;
        }
        let path = path_of(s, m);
        let (inp, out) = (&m.input_type, &m.output_type);
        buf.push('\n');
        m.comments.append_with_indent(1, buf);
        let _ = match (m.client_streaming, m.server_streaming) {
            (false, false) => continue, // generated above, for any stack
            (false, true) => writeln!(
                buf,
                "    pub async fn {n}(&self, request: {G}::Request<{inp}>) -> ::core::result::Result<{G}::Response<{G}::ResponseStream<{out}>>, {G}::Status> {{\n        self.inner.server_streaming(\"{path}\", request).await\n    }}",
                n = m.name
            ),
            (true, false) => writeln!(
                buf,
                "    pub async fn {n}<St>(&self, request: {G}::Request<St>) -> ::core::result::Result<{G}::Response<{out}>, {G}::Status>\n    where\n        St: {C}::Stream<Item = {inp}> + ::core::marker::Send + 'static,\n    {{\n        self.inner.client_streaming(\"{path}\", request).await\n    }}",
                n = m.name
            ),
            (true, true) => writeln!(
                buf,
                "    pub async fn {n}<St>(&self, request: {G}::Request<St>) -> ::core::result::Result<{G}::Response<{G}::ResponseStream<{out}>>, {G}::Status>\n    where\n        St: {C}::Stream<Item = {inp}> + ::core::marker::Send + 'static,\n    {{\n        self.inner.streaming(\"{path}\", request).await\n    }}",
                n = m.name
            ),
        };
    }
    buf.push_str("}\n");
}

impl ServiceGenerator for WegoServiceGenerator {
    fn generate(&mut self, service: Service, buf: &mut String) {
        write_trait(&service, buf);
        write_router(&service, buf);
        write_client(&service, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn service_names_become_snake_case() {
        assert_eq!(snake("EchoServer"), "echo_server");
        assert_eq!(snake("TestService"), "test_service");
        assert_eq!(snake("Health"), "health");
    }
}
