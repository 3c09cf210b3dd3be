//! Fuzzes the Kitex Protobuf payload decoder: no input may panic, and a
//! decoded message re-encodes to the same bytes.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use wego_kitex::protobuf::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = codec::decode(Bytes::copy_from_slice(data)) {
        let mut out = BytesMut::new();
        codec::encode(m.kind, &m.method, m.seq_id, &m.body, &mut out).unwrap();
        assert_eq!(&out[..], data);
    }
});
