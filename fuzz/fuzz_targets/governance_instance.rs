//! Decodes registry values (etcd contents written by other processes);
//! whatever decodes must re-encode to something that decodes to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wego_governance::discovery::codec::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(inst) = decode(data) {
        let again = decode(encode(&inst).as_bytes()).expect("invariant: encode output decodes");
        assert_eq!(again, inst);
    }
});
