use proptest::prelude::*;

use super::*;

fn sample(format: HeaderFormat) -> Header {
    let mut h = Header::new(format, PROTOCOL_COMPACT, 42);
    h.flags = FLAG_SUPPORT_OUT_OF_ORDER;
    h.str_info.push(("RPCPersist-k".into(), "v".into()));
    if format == HeaderFormat::TtHeader {
        h.int_info.push((9, "Echo".into()));
        h.token = Some("t".into());
    }
    h
}

fn frame(h: &Header, payload: &[u8]) -> BytesMut {
    let mut dst = BytesMut::new();
    let start = encode(h, &mut dst).unwrap();
    dst.put_slice(payload);
    finish(&mut dst, start).unwrap();
    dst
}

#[test]
fn roundtrips_both_formats() {
    for f in [HeaderFormat::TtHeader, HeaderFormat::THeader] {
        let h = sample(f);
        let mut buf = frame(&h, b"payload");
        let (got, payload) = decode(&mut buf, 1 << 20).unwrap().unwrap();
        assert_eq!(got, h);
        assert_eq!(&payload[..], b"payload");
        assert!(buf.is_empty());
    }
}

#[test]
fn kitex_fixture_decodes() {
    // LENGTH=20, magic, flags 0, seq 1, hsize 2 words:
    // protocol 0, 0 transforms, int kv: count 1, key 9, len 1, "E", pad.
    let bytes = [
        0, 0, 0, 20, 0x10, 0x00, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0x10, 0, 1, 0, 9, 0, 1, b'E', b'p',
    ];
    // hsize=2 words covers 8 bytes: 0,0,0x10,0,1,0,9,0 -> count=1,key=9 then
    // the value length runs past the header: must be rejected, not panic.
    let mut buf = BytesMut::from(&bytes[..]);
    assert!(decode(&mut buf, 1 << 20).is_err());
    let bytes = [
        0, 0, 0, 23, 0x10, 0x00, 0, 0, 0, 0, 0, 1, 0, 3, 0, 0, 0x10, 0, 1, 0, 9, 0, 1, b'E', 0, 0,
        b'p',
    ];
    let mut buf = BytesMut::from(&bytes[..]);
    let (h, p) = decode(&mut buf, 1 << 20).unwrap().unwrap();
    assert_eq!(h.int(9), Some("E"));
    assert_eq!(h.seq_id, 1);
    assert_eq!(&p[..], b"p");
}

#[test]
fn needs_more_until_complete() {
    let full = frame(&sample(HeaderFormat::TtHeader), b"abc");
    for cut in 0..full.len() {
        let mut buf = BytesMut::from(&full[..cut]);
        assert_eq!(decode(&mut buf, 1 << 20), Ok(None), "cut at {cut}");
    }
}

#[test]
fn rejects_oversized_frames_before_buffering() {
    let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 0x10, 0][..]);
    assert!(matches!(
        decode(&mut buf, 16 << 20),
        Err(HeaderError::FrameTooLarge { .. })
    ));
}

#[test]
fn rejects_malformed_headers() {
    let cases: &[&[u8]] = &[
        // bad magic
        &[0, 0, 0, 10, 0x20, 0, 0, 0, 0, 0, 0, 1, 0, 0],
        // header size beyond the frame
        &[0, 0, 0, 10, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 9],
        // frame shorter than the fixed part
        &[0, 0, 0, 2, 0x10, 0],
        // unknown info id
        &[0, 0, 0, 14, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0x55, 0],
        // string kv count larger than the header
        &[
            0, 0, 0, 14, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0x01, 0xff,
        ],
    ];
    for c in cases {
        let mut buf = BytesMut::from(*c);
        assert!(decode(&mut buf, 1 << 20).is_err(), "{c:?} accepted");
    }
}

/// A TTHeader frame whose header holds one string info section per entry of
/// `sections`, each with that many `RPCPersist-<n>` keys and empty values.
fn frame_with_sections(sections: &[usize]) -> BytesMut {
    let mut var = vec![PROTOCOL_BINARY, 0];
    let mut key = 0usize;
    for &pairs in sections {
        var.push(INFO_KEY_VALUE);
        var.extend_from_slice(&u16::try_from(pairs).unwrap().to_be_bytes());
        for _ in 0..pairs {
            let k = format!("RPCPersist-{key:05}");
            key += 1;
            var.extend_from_slice(&u16::try_from(k.len()).unwrap().to_be_bytes());
            var.extend_from_slice(k.as_bytes());
            var.extend_from_slice(&[0, 0]);
        }
    }
    var.resize(var.len().div_ceil(4) * 4, 0);
    let mut f = BytesMut::new();
    f.put_u32(u32::try_from(10 + var.len()).unwrap());
    f.put_u16(TTHEADER_MAGIC);
    f.put_u16(0);
    f.put_i32(1);
    f.put_u16(u16::try_from(var.len() / 4).unwrap());
    f.put_slice(&var);
    f
}

#[test]
fn caps_the_pairs_of_a_frame_across_its_sections() {
    let mut buf = frame_with_sections(&[MAX_INFO_PAIRS / 2, MAX_INFO_PAIRS / 2]);
    let (h, _) = decode(&mut buf, 1 << 20).unwrap().unwrap();
    assert_eq!(h.str_info.len(), MAX_INFO_PAIRS);
    // Each section is under the cap, the frame is not.
    let mut buf = frame_with_sections(&[MAX_INFO_PAIRS / 2, MAX_INFO_PAIRS / 2, 1]);
    assert_eq!(
        decode(&mut buf, 1 << 20),
        Err(HeaderError::Invalid(
            "more than 4096 key-value pairs in the header"
        ))
    );
}

proptest! {
    #[test]
    fn roundtrip_any_header(
        theader in any::<bool>(),
        flags in any::<u16>(),
        seq in any::<i32>(),
        proto in 0u8..5,
        ints in proptest::collection::vec((any::<u16>(), ".{0,8}"), 0..4),
        strs in proptest::collection::vec((".{0,8}", ".{0,8}"), 0..4),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let format = if theader { HeaderFormat::THeader } else { HeaderFormat::TtHeader };
        let mut h = Header::new(format, proto, seq);
        h.flags = flags;
        h.str_info = strs;
        if !theader { h.int_info = ints; }
        let mut buf = frame(&h, &payload);
        let (got, p) = decode(&mut buf, 1 << 20).unwrap().unwrap();
        prop_assert_eq!(got, h);
        prop_assert_eq!(&p[..], &payload[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = decode(&mut buf, 1 << 20);
    }
}
