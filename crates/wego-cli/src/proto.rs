//! `.proto` IDL: parsed by protox (errors carry a source span), named as
//! prost and wego-build name the generated code.

use std::path::Path;

use prost_types::{FileDescriptorProto, MethodDescriptorProto};

use crate::error::{Error, Result, line_col};
use crate::model::{IdlFile, IdlKind, RpcMethod, RpcService};
use crate::names::{camel, proto_service_stem, snake, snake_raw};

/// protox's error as file, line and column.
pub(crate) fn map_error(e: protox::Error, main: &Path) -> Error {
    use miette::Diagnostic;
    let file = e
        .file()
        .map(str::to_owned)
        .unwrap_or_else(|| main.display().to_string());
    let offset = e
        .labels()
        .and_then(|mut l| l.next())
        .map(|l| l.offset())
        .or_else(|| {
            e.related()
                .and_then(|mut r| r.next())
                .and_then(|d| d.labels().and_then(|mut l| l.next()))
                .map(|l| l.offset())
        });
    let message = e.to_string();
    let path = main.parent().unwrap_or(Path::new(".")).join(&file);
    let src = std::fs::read_to_string(&path)
        .or_else(|_| std::fs::read_to_string(&file))
        .unwrap_or_default();
    let (line, column) = offset.map_or((1, 1), |o| line_col(&src, o));
    let shown = if Path::new(&file).is_absolute() || file.contains('/') {
        file
    } else {
        path.display().to_string()
    };
    Error::Idl {
        file: shown,
        line,
        column,
        message,
    }
}

/// The Rust type prost generates for message `full` (`.pkg.Outer.Inner`)
/// seen from the package `pkg`.
fn message_ty(full: &str, pkg: &str) -> std::result::Result<String, String> {
    if full == ".google.protobuf.Empty" {
        return Ok("()".into());
    }
    if let Some(wkt) = full.strip_prefix(".google.protobuf.") {
        return Ok(format!("::prost_types::{wkt}"));
    }
    let prefix = if pkg.is_empty() {
        ".".to_owned()
    } else {
        format!(".{pkg}.")
    };
    let Some(local) = full.strip_prefix(&prefix) else {
        return Err(format!(
            "message {full} is from another package, expected messages of package {pkg:?} (one package per project)"
        ));
    };
    let parts: Vec<&str> = local.split('.').collect();
    let (last, outer) = parts.split_last().unwrap_or((&local, &[]));
    let mut path = String::from("crate::generated::types::");
    for o in outer {
        path.push_str(&snake_raw(o));
        path.push_str("::");
    }
    path.push_str(&camel(last));
    Ok(path)
}

fn method(
    m: &MethodDescriptorProto,
    pkg: &str,
    full_service: &str,
) -> std::result::Result<RpcMethod, String> {
    let name = m.name();
    let input = message_ty(m.input_type(), pkg)?;
    let output = message_ty(m.output_type(), pkg)?;
    const G: &str = "::wego_kitex::grpc";
    let req = if m.client_streaming() {
        format!("{G}::Request<{G}::RequestStream<{input}>>")
    } else {
        format!("{G}::Request<{input}>")
    };
    let resp = if m.server_streaming() {
        format!("{G}::Response<{G}::BoxStream<{output}>>")
    } else {
        format!("{G}::Response<{output}>")
    };
    let rust_name = snake(name);
    let unary = !m.client_streaming() && !m.server_streaming();
    Ok(RpcMethod {
        idl_name: name.to_owned(),
        signature: format!(
            "async fn {rust_name}(&self, _request: {req}) -> ::std::result::Result<{resp}, {G}::Status>"
        ),
        body: format!("Err(crate::generated::not_implemented(\"{full_service}/{name}\"))"),
        test_call: unary.then(|| {
            format!("client.{rust_name}({G}::Request::new(Default::default())).await.map(|_| ())")
        }),
        rust_name,
    })
}

/// Loads `path` (imports resolved in its directory) and the service to
/// generate (default: the file's last).
pub(crate) fn load(path: &Path, service: Option<&str>) -> Result<RpcService> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let fds = protox::compile([&file_name], [dir]).map_err(|e| map_error(e, path))?;
    let fd: &FileDescriptorProto = fds
        .file
        .iter()
        .find(|f| f.name() == file_name)
        .ok_or_else(|| Error::Usage(format!("{file_name} was not compiled")))?;
    let pkg = fd.package().to_owned();
    let svc = match service {
        Some(name) => fd
            .service
            .iter()
            .find(|s| s.name() == name || format!("{pkg}.{}", s.name()) == name),
        None => fd.service.last(),
    }
    .ok_or_else(|| Error::Idl {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        message: match service {
            Some(s) => format!("no service {s:?} in the file"),
            None => "no service in the file, expected at least one `service`".into(),
        },
    })?;
    let full = if pkg.is_empty() {
        svc.name().to_owned()
    } else {
        format!("{pkg}.{}", svc.name())
    };
    let mut methods = Vec::new();
    for m in &svc.method {
        methods.push(method(m, &pkg, &full).map_err(|message| {
            let at = text.find(&format!("rpc {}", m.name())).unwrap_or(0);
            Error::idl_at(&path.display().to_string(), &text, at, message)
        })?);
    }
    let name = camel(svc.name());
    let package_file = if pkg.is_empty() {
        "_.rs".to_owned()
    } else {
        format!("{pkg}.rs")
    };
    let router_fn = format!("{}_router", proto_service_stem(&name));
    let gen_mod =
        crate::render::rpc::proto_gen_mod(&file_name, &package_file, &full, &name, &router_fn);
    let mut files = vec![IdlFile {
        rel: file_name.clone(),
        text,
    }];
    for dep in &fd.dependency {
        if dep.starts_with("google/protobuf/") {
            continue;
        }
        let p = dir.join(dep);
        let text = std::fs::read_to_string(&p).map_err(|source| Error::Read { path: p, source })?;
        files.push(IdlFile {
            rel: dep.clone(),
            text,
        });
    }
    Ok(RpcService {
        kind: IdlKind::Proto,
        idl_file: file_name,
        files,
        idl_name: full,
        handler_trait: format!("{name}Handler"),
        gen_mod,
        methods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types_follow_prost() {
        assert_eq!(
            message_ty(".echo.Request", "echo").unwrap(),
            "crate::generated::types::Request"
        );
        assert_eq!(
            message_ty(".a.b.Outer.Inner", "a.b").unwrap(),
            "crate::generated::types::outer::Inner"
        );
        assert_eq!(message_ty(".google.protobuf.Empty", "x").unwrap(), "()");
        assert!(message_ty(".other.M", "echo").is_err());
        assert_eq!(proto_service_stem("EchoServer"), "echo_server");
    }
}
