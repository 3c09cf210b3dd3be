//! The TJSON payload protocol of wego-codec-seams, through wego-kitex's
//! payload seam: arbitrary bytes as an unframed stream (message ends),
//! as a whole message (envelope, body transcoded to binary, end) and as a
//! binary body transcoded to TJSON never panic; a body that decodes
//! transcodes back to TJSON that decodes to the same binary body.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use wego_codec_seams::TJson;
use wego_kitex::thrift::transcode::BodyLimits;
use wego_kitex::thrift::{MessageCodec, PayloadProtocol};
use wego_kitex::transport::{BufferedCodec, FrameCodec};

fuzz_target!(|data: &[u8]| {
    let t = TJson::new().with_limits(
        BodyLimits::default()
            .with_max_len(4096)
            .with_max_elements(4096),
    );
    let _ = t.detect(data);
    let codec = BufferedCodec::new(t);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = codec.decode(&mut buf, 4096) {
        assert!(frame.payload.len() <= 4096);
    }
    let mut msg = Bytes::copy_from_slice(data);
    if t.decode_begin(&mut msg).is_ok() {
        let mut body = BytesMut::new();
        if t.decode_body(&mut msg, &mut body).is_ok() {
            let _ = t.decode_end(&mut msg);
            // What was read writes back and reads again to the same body.
            let mut json = BytesMut::new();
            t.encode_body(&body, &mut json)
                .expect("a decoded body encodes");
            let mut again = BytesMut::new();
            t.decode_body(&mut json.freeze(), &mut again)
                .expect("an encoded body decodes");
            assert_eq!(again, body);
        }
    }
    let mut json = BytesMut::new();
    let _ = t.encode_body(data, &mut json);
});
