//! Thrift compact message decoding (envelope, then a TApplicationException
//! body through the checked pilota input): arbitrary bytes never panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wego_kitex::thrift::{self, ApplicationException, Protocol};

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::copy_from_slice(data);
    if thrift::decode_header(Protocol::Compact, &mut b).is_ok() {
        let _ = thrift::decode_body::<ApplicationException>(Protocol::Compact, &mut b);
    }
    let mut b = Bytes::copy_from_slice(data);
    let _ = thrift::decode_body::<ApplicationException>(Protocol::Compact, &mut b);
});
