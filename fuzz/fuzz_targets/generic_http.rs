//! The HTTP generic call's mapper fed arbitrary requests against the
//! gateway IDL (idl/gateway.thrift): method, path and query, headers,
//! cookies and body, each part of the input split at `\n\n`. Never
//! panics; a request it maps always makes arguments that validate and
//! encode, and whatever result struct the rest of the input decodes to
//! maps onto a response or a typed error.
//!
//! Input layout: byte 0 picks the HTTP method (bits 0-2) and the content
//! type (bits 3-4); then `path?query \n\n header lines \n\n body`.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wego_kitex::generic::{
    DecodeLimits, Descriptor, HttpLimits, HttpMapper, Idl, Outcome, decode_struct, encode_struct,
    validate,
};
use wego_kitex::thrift::Protocol;

const GATEWAY: &str = include_str!("../../idl/gateway.thrift");

fn mapper() -> &'static HttpMapper {
    static M: OnceLock<HttpMapper> = OnceLock::new();
    M.get_or_init(|| {
        let d: Descriptor = Idl::parse_str("gateway.thrift", GATEWAY)
            .and_then(|idl| idl.service("ItemService"))
            .expect("invariant: gateway.thrift is valid");
        HttpMapper::from_descriptor(Arc::new(d))
            .expect("invariant: gateway.thrift's routes compile")
            .with_limits(
                HttpLimits::default()
                    .with_max_body(4096)
                    .with_max_params(32),
            )
    })
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE",
];
const TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("application/octet-stream"),
];

fn split2<'a>(data: &'a [u8], sep: &[u8]) -> (&'a [u8], &'a [u8]) {
    match data.windows(sep.len()).position(|w| w == sep) {
        Some(i) => (&data[..i], &data[i + sep.len()..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let m = mapper();
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (target, rest) = split2(rest, b"\n\n");
    let (head, body) = split2(rest, b"\n\n");
    let Ok(target) = std::str::from_utf8(target) else {
        return;
    };
    let mut b = http::Request::builder()
        .method(METHODS[usize::from(sel & 7)])
        .uri(format!("/{}", target.trim_start_matches('/')));
    if let Some(ct) = TYPES[usize::from((sel >> 3) & 3)] {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    for line in head.split(|&c| c == b'\n') {
        let (k, v) = split2(line, b":");
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k),
            http::HeaderValue::from_bytes(v.trim_ascii()),
        ) {
            b = b.header(k, v);
        }
    }
    let Ok(req) = b.body(Bytes::copy_from_slice(body)) else {
        return;
    };
    let d = m.descriptor();
    match m.map_request(&req) {
        Ok(call) => {
            let method = d.method(&call.method).expect("a routed method exists");
            validate(d, method.args, &call.args).expect("mapped arguments validate");
            encode_struct(d, method.args, &call.args, Protocol::Binary)
                .expect("mapped arguments encode");
            // The body, read as the method's result struct, maps onto a
            // response or a typed error.
            if let Ok((mut res, _)) = decode_struct(
                d,
                method.result,
                body,
                Protocol::Binary,
                DecodeLimits::default(),
            ) {
                let out = match res.take(0) {
                    Some(v) => Outcome::Success(Some(v)),
                    None => match d
                        .struct_desc(method.result)
                        .fields
                        .iter()
                        .find(|f| f.id != 0)
                    {
                        Some(f) => match res.take(f.id) {
                            Some(v) => Outcome::Exception {
                                name: f.name.clone(),
                                value: v,
                            },
                            None => Outcome::Success(None),
                        },
                        None => Outcome::Success(None),
                    },
                };
                match m.map_outcome(&call.method, out) {
                    Ok(resp) => assert!(resp.status().as_u16() >= 100),
                    Err(e) => assert_eq!(e.status(), 502),
                }
            }
        }
        Err(e) => {
            // Request errors are client errors, and every one renders.
            assert!(e.is_client_error(), "{e:?}");
            let resp = e.to_response();
            assert_eq!(resp.status(), e.status());
        }
    }
});
