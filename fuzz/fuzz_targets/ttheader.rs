//! TTHeader / THeader frame decoder: arbitrary bytes never panic, and a
//! decoded header re-encodes to a frame that decodes to the same header.
#![no_main]

use bytes::{BufMut, BytesMut};
use libfuzzer_sys::fuzz_target;
use wego_kitex::ttheader;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    if let Ok(Some((h, payload))) = ttheader::decode(&mut buf, 1 << 20) {
        let mut out = BytesMut::new();
        if let Ok(start) = ttheader::encode(&h, &mut out) {
            out.put_slice(&payload);
            ttheader::finish(&mut out, start).unwrap();
            let (h2, p2) = ttheader::decode(&mut out, 1 << 20).unwrap().unwrap();
            assert_eq!(h2.seq_id, h.seq_id);
            assert_eq!(h2.protocol_id, h.protocol_id);
            assert_eq!(h2.str_info, h.str_info);
            assert_eq!(p2, payload);
        }
    }
});
