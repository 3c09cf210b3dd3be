//! Generic (descriptor-driven) decoding of arbitrary bytes against
//! ThriftTest's descriptor: every method's argument and result struct, in
//! binary and compact. Never panics, never allocates beyond the input's
//! bounds; whatever decodes re-encodes and decodes to the same value.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wego_kitex::generic::{DecodeLimits, Descriptor, Idl, decode_struct, encode_struct};
use wego_kitex::thrift::Protocol;

const THRIFT_TEST: &str = include_str!("../../idl/ThriftTest.thrift");

fn descriptor() -> &'static Descriptor {
    static D: OnceLock<Descriptor> = OnceLock::new();
    D.get_or_init(|| {
        Idl::parse_str("ThriftTest.thrift", THRIFT_TEST)
            .and_then(|idl| idl.service("ThriftTest"))
            .expect("invariant: ThriftTest.thrift is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let d = descriptor();
    // The first byte picks the method and the protocol.
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let methods = d.methods();
    let m = &methods[usize::from(sel >> 1) % methods.len()];
    let proto = if sel & 1 == 0 {
        Protocol::Binary
    } else {
        Protocol::Compact
    };
    for sid in [m.args, m.result] {
        if let Ok((v, _)) = decode_struct(d, sid, rest, proto, DecodeLimits::default()) {
            let bytes = encode_struct(d, sid, &v, proto).expect("a decoded value re-encodes");
            let (again, used) = decode_struct(d, sid, &bytes, proto, DecodeLimits::default())
                .expect("a re-encoded value decodes");
            assert_eq!(used, bytes.len());
            // NaN doubles compare unequal; compare the bytes instead.
            let bytes2 = encode_struct(d, sid, &again, proto).expect("re-encodes");
            assert_eq!(bytes, bytes2);
        }
    }
});
