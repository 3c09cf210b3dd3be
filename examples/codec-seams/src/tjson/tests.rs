use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use wego_kitex::thrift::transcode::{BinaryWriter, BodyLimits, FieldType};
use wego_kitex::thrift::{CodecError, DecodeState, MessageCodec, MessageType, PayloadProtocol};
use wego_kitex::transport::Match;

use super::read::Scan;
use super::{TJson, TJsonError};

/// A body with every type: scalars, a string with escapes, a uuid, a
/// nested struct, a list of lists, a set, maps keyed by i32, string and
/// double.
fn rich_body() -> BytesMut {
    let mut b = BytesMut::new();
    let mut w = BinaryWriter::new(&mut b);
    w.field_begin(FieldType::Bool, 1);
    w.bool(true);
    w.field_begin(FieldType::I8, 2);
    w.i8(-128);
    w.field_begin(FieldType::I16, 3);
    w.i16(i16::MAX);
    w.field_begin(FieldType::I32, -4);
    w.i32(i32::MIN);
    w.field_begin(FieldType::I64, 5);
    w.i64(i64::MIN);
    w.field_begin(FieldType::Double, 6);
    w.double(-5.2098523);
    w.field_begin(FieldType::String, 7);
    w.bytes("q\"\\/\n\u{1}é😀".as_bytes()).unwrap();
    w.field_begin(FieldType::Uuid, 8);
    w.uuid([0xab; 16]);
    w.field_begin(FieldType::Struct, 9);
    w.field_begin(FieldType::Double, 1);
    w.double(f64::INFINITY);
    w.struct_end();
    w.field_begin(FieldType::List, 10);
    w.list_begin(FieldType::List, 2).unwrap();
    w.list_begin(FieldType::I32, 2).unwrap();
    w.i32(1);
    w.i32(-2);
    w.list_begin(FieldType::I32, 0).unwrap();
    w.field_begin(FieldType::Set, 11);
    w.list_begin(FieldType::Bool, 2).unwrap();
    w.bool(false);
    w.bool(true);
    w.field_begin(FieldType::Map, 12);
    w.map_begin(FieldType::I32, FieldType::String, 2).unwrap();
    w.i32(-1);
    w.bytes(b"a").unwrap();
    w.i32(7);
    w.bytes(b"").unwrap();
    w.field_begin(FieldType::Map, 13);
    w.map_begin(FieldType::String, FieldType::Struct, 1)
        .unwrap();
    w.bytes(b"k\"").unwrap();
    w.struct_end();
    w.field_begin(FieldType::Map, 14);
    w.map_begin(FieldType::Double, FieldType::Bool, 2).unwrap();
    w.double(0.5);
    w.bool(true);
    w.double(f64::NEG_INFINITY);
    w.bool(false);
    w.struct_end();
    b
}

const RICH_JSON: &str = concat!(
    r#"{"1":{"tf":1},"2":{"i8":-128},"3":{"i16":32767},"-4":{"i32":-2147483648},"#,
    r#""5":{"i64":-9223372036854775808},"6":{"dbl":-5.2098523},"#,
    r#""7":{"str":"q\"\\/\n\u0001é😀"},"8":{"uid":"abababab-abab-abab-abab-abababababab"},"#,
    r#""9":{"rec":{"1":{"dbl":"Infinity"}}},"10":{"lst":["lst",2,["i32",2,1,-2],["i32",0]]},"#,
    r#""11":{"set":["tf",2,0,1]},"12":{"map":["i32","str",2,{"-1":"a","7":""}]},"#,
    r#""13":{"map":["str","rec",1,{"k\"":{}}]},"14":{"map":["dbl","tf",2,{"0.5":1,"-Infinity":0}]}}"#
);

#[test]
fn writes_apache_tjson_and_reads_it_back() {
    let body = rich_body();
    let mut json = BytesMut::new();
    TJson::new().binary_to_json(&body, &mut json).unwrap();
    assert_eq!(std::str::from_utf8(&json).unwrap(), RICH_JSON);
    let mut back = BytesMut::new();
    let n = TJson::new().json_to_binary(&json, &mut back).unwrap();
    assert_eq!(n, json.len());
    assert_eq!(back, body);
}

#[test]
fn reads_a_message_as_pythons_writer_sends_it() {
    // TJSONProtocol (Python) for testString("hi"), seqid 0, and with the
    // whitespace other writers may put in.
    for wire in [
        &br#"[1,"testString",1,0,{"1":{"str":"hi"}}]"#[..],
        b"[ 1 , \"testString\" , 1 , 0 , { \"1\" : { \"str\" : \"hi\" } } ]",
    ] {
        let t = TJson::new();
        assert_eq!(t.message_len(wire, 1 << 20), Ok(Some(wire.len())));
        let mut buf = Bytes::copy_from_slice(wire);
        let (h, strict) = t.decode_begin(&mut buf).unwrap();
        assert!(strict);
        assert_eq!(
            (h.name.as_str(), h.kind, h.seq_id),
            ("testString", MessageType::Call, 0)
        );
        let mut body = BytesMut::new();
        t.decode_body(&mut buf, &mut body).unwrap();
        assert_eq!(&body[..], b"\x0b\x00\x01\x00\x00\x00\x02hi\x00");
        t.decode_end(&mut buf).unwrap();
        assert!(buf.is_empty());
    }
}

#[test]
fn encodes_a_whole_message() {
    let t = TJson::new();
    let h = wego_kitex::thrift::MessageHeader {
        name: "say \"hi\"".into(),
        kind: MessageType::Reply,
        seq_id: -3,
    };
    let mut out = BytesMut::new();
    t.encode_begin(&h, true, &mut out);
    t.encode_body(b"\x08\x00\x00\x00\x00\x00\x05\x00", &mut out)
        .unwrap();
    t.encode_end(&mut out);
    assert_eq!(&out[..], br#"[1,"say \"hi\"",2,-3,{"0":{"i32":5}}]"#);
}

#[test]
fn detects_only_its_opening() {
    let t = TJson::new();
    assert_eq!(t.detect(br#"[1,"testString",1,0,{}]"#), Match::Yes);
    assert_eq!(t.detect(b""), Match::NeedMore);
    assert_eq!(t.detect(b"[1,"), Match::NeedMore);
    assert_eq!(t.detect(b"[2,\""), Match::No);
    assert_eq!(t.detect(b"\x80\x01\x00\x01"), Match::No);
    assert_eq!(t.detect(b"{\"a\""), Match::No);
}

#[test]
fn finds_the_end_of_unframed_messages() {
    let t = TJson::new();
    let one = br#"[1,"m]",1,7,{"1":{"str":"a]}\"["},"2":{"lst":["i8",1,3]}}]"#;
    for cut in 0..one.len() {
        assert_eq!(t.message_len(&one[..cut], 1 << 20), Ok(None), "{cut}");
    }
    let mut two = one.to_vec();
    two.extend_from_slice(one);
    assert_eq!(t.message_len(&two, 1 << 20), Ok(Some(one.len())));
    assert!(matches!(
        t.message_len(&one[..20], 16),
        Err(CodecError::TooLarge { max: 16 })
    ));
    assert!(t.message_len(b"{}", 1 << 20).is_err());
    assert!(t.message_len(b"[1]]", 1 << 20).is_ok());
    let deep = "[".repeat(100);
    assert!(matches!(
        t.message_len(deep.as_bytes(), 1 << 20),
        Err(CodecError::Invalid(_))
    ));
}

/// Feeds `msg` to `message_len_resume` a growing prefix at a time, `chunk`
/// bytes more each time, with one state, as reads bring it; returns the
/// first answer that is not "need more" (or the last one).
fn resumed(t: &TJson, msg: &[u8], chunk: usize, max: usize) -> Result<Option<usize>, CodecError> {
    let mut state = DecodeState::default();
    let mut end = 0;
    loop {
        end = (end + chunk).min(msg.len());
        let r = t.message_len_resume(&msg[..end], max, &mut state);
        if r != Ok(None) || end == msg.len() {
            return r;
        }
        // The scan kept its progress: the next one goes on from here.
        assert_eq!(state.codec_state::<Scan>().pos(), end);
    }
}

#[test]
fn a_message_found_in_pieces_is_found_as_at_once() {
    let t = TJson::new();
    let one = br#"[1,"m]",1,7,{"1":{"str":"a]}\"[\\"},"2":{"lst":["i8",1,3]}}]"#;
    let mut two = one.to_vec();
    two.extend_from_slice(one);
    for msg in [&one[..], &two, &one[..one.len() - 1], b"{}", br#"[1,"x"]]"#] {
        let whole = t.message_len(msg, 1 << 20);
        for chunk in 1..=msg.len() {
            assert_eq!(resumed(&t, msg, chunk, 1 << 20), whole, "{chunk}: {msg:?}");
        }
    }
    // Limits hold across the pieces.
    let deep = "[".repeat(100);
    for chunk in [1, 7, 100] {
        assert!(matches!(
            resumed(&t, deep.as_bytes(), chunk, 1 << 20),
            Err(CodecError::Invalid(_))
        ));
        assert_eq!(
            resumed(&t, one, chunk, 16),
            Err(CodecError::TooLarge { max: 16 })
        );
    }
    // A found message leaves the state for the next one.
    let mut state = DecodeState::default();
    assert_eq!(
        t.message_len_resume(&one[..9], 1 << 20, &mut state),
        Ok(None)
    );
    assert_eq!(
        t.message_len_resume(&two, 1 << 20, &mut state),
        Ok(Some(one.len()))
    );
    assert_eq!(
        t.message_len_resume(&two[one.len()..], 1 << 20, &mut state),
        Ok(Some(one.len()))
    );
}

fn read(json: &str) -> Result<BytesMut, TJsonError> {
    read_with(json, BodyLimits::default())
}

fn read_with(json: &str, limits: BodyLimits) -> Result<BytesMut, TJsonError> {
    let mut out = BytesMut::new();
    TJson::new()
        .with_limits(limits)
        .json_to_binary(json.as_bytes(), &mut out)
        .map(|_| out)
}

#[test]
fn rejects_malformed_bodies_with_typed_errors() {
    let syntax = |e: &TJsonError| matches!(e, TJsonError::Syntax { .. });
    let range = |e: &TJsonError| matches!(e, TJsonError::OutOfRange { .. });
    let string = |e: &TJsonError| matches!(e, TJsonError::BadString { .. });
    let count = |e: &TJsonError| matches!(e, TJsonError::CountMismatch { .. });
    #[allow(clippy::type_complexity)]
    let cases: &[(&str, &dyn Fn(&TJsonError) -> bool)] = &[
        (r#"[]"#, &syntax),
        (r#"{"1":{"xyz":1}}"#, &|e| {
            matches!(e, TJsonError::UnknownType { .. })
        }),
        (r#"{"1":{"i8":128}}"#, &range),
        (r#"{"1":{"i16":-32769}}"#, &range),
        (r#"{"1":{"i32":2147483648}}"#, &range),
        (r#"{"1":{"i64":99999999999999999999}}"#, &range),
        (r#"{"1":{"tf":2}}"#, &range),
        (r#"{"40000":{"i8":1}}"#, &range),
        (r#"{"x":{"i8":1}}"#, &range),
        (r#"{"1":{"i32":"5"}}"#, &syntax),
        (r#"{"1":{"dbl":"5"}}"#, &syntax),
        (r#"{"1":{"dbl":+5}}"#, &syntax),
        (r#"{"1":{"dbl":1e}}"#, &syntax),
        (r#"{"1":{"str":"\q"}}"#, &string),
        (r#"{"1":{"str":"\ud800x"}}"#, &string),
        (r#"{"1":{"str":"\udc00"}}"#, &string),
        ("{\"1\":{\"str\":\"\u{1}\"}}", &string),
        (r#"{"1":{"uid":"not-a-uuid"}}"#, &string),
        (r#"{"1":{"lst":["i8",2,1]}}"#, &syntax),
        (r#"{"1":{"lst":["i8",1,1,2]}}"#, &count),
        (r#"{"1":{"map":["i8","i8",2,{"1":1}]}}"#, &count),
        (r#"{"1":{"map":["i8","i8",1,{"1":1,"2":2}]}}"#, &count),
        (r#"{"1":{"map":["rec","i8",1,{{}:1}]}}"#, &|e| {
            matches!(
                e,
                TJsonError::UnsupportedKey
                    | TJsonError::BadString { .. }
                    | TJsonError::Syntax { .. }
            )
        }),
        (r#"{"1":{"map":["i8","i8",1,{1:1}]}}"#, &syntax),
        (r#"{"1":{"lst":["i8",-1]}}"#, &range),
        (r#"{"1":{"i8":1}"2":{"i8":1}}"#, &syntax),
        (r#"{"1":{"i8":1},}"#, &syntax),
        (r#"{"1":{"i8":1}"#, &|e| matches!(e, TJsonError::Truncated)),
        (r#"{"1":{"str":"abc"#, &|e| {
            matches!(e, TJsonError::Truncated)
        }),
    ];
    for (json, want) in cases {
        let e = read(json).expect_err(json);
        assert!(want(&e), "{json}: {e:?}");
        // Every one is a CodecError for the server to answer with.
        let _: CodecError = e.into();
    }
}

#[test]
fn limits_bound_depth_strings_and_collections() {
    let deep = format!(
        "{}{}",
        r#"{"1":{"rec":"#.repeat(100),
        "{}".to_string() + &"}}".repeat(100)
    );
    assert!(matches!(read(&deep), Err(TJsonError::TooDeep { max: 64 })));
    let limits = BodyLimits::default().with_max_len(3).with_max_elements(2);
    assert!(read_with(r#"{"1":{"str":"abc"}}"#, limits).is_ok());
    assert_eq!(
        read_with(r#"{"1":{"str":"abcd"}}"#, limits),
        Err(TJsonError::TooLarge { max: 3 })
    );
    assert_eq!(
        read_with(r#"{"1":{"lst":["i8",3,1,2,3]}}"#, limits),
        Err(TJsonError::TooLarge { max: 2 })
    );
    // A count far beyond the input allocates nothing and fails.
    assert!(read(r#"{"1":{"lst":["i8",1000000,1]}}"#).is_err());
    // A binary body the other way: a list claiming 2^31-1 elements.
    let mut out = BytesMut::new();
    let e = TJson::new()
        .binary_to_json(b"\x0f\x00\x01\x08\x7f\xff\xff\xff", &mut out)
        .unwrap_err();
    assert!(matches!(e, TJsonError::Body(CodecError::TooLarge { .. })));
    // Bytes that are not UTF-8 in a string, and bytes after the struct.
    assert!(
        TJson::new()
            .binary_to_json(b"\x0b\x00\x01\x00\x00\x00\x01\xff\x00", &mut out)
            .is_err()
    );
    assert!(TJson::new().binary_to_json(b"\x00\x00", &mut out).is_err());
}

#[test]
fn rejects_malformed_envelopes() {
    let t = TJson::new();
    for (wire, want) in [
        (&br#"[2,"m",1,0,{}]"#[..], TJsonError::BadVersion(2)),
        (br#"[1,"m",9,0,{}]"#, TJsonError::OutOfRange { at: 7 }),
        (
            br#"[1,"m",1,2147483648,{}]"#,
            TJsonError::OutOfRange { at: 9 },
        ),
        (
            br#"[1,m,1,0,{}]"#,
            TJsonError::Syntax {
                at: 3,
                expected: "a string",
            },
        ),
        (br#"[1,"m",1,0"#, TJsonError::Truncated),
    ] {
        assert_eq!(t.read_envelope(wire).map(|_| ()), Err(want), "{wire:?}");
    }
    let mut b = Bytes::from_static(b"}");
    assert!(t.decode_end(&mut b).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let t = TJson::new();
        let mut out = BytesMut::new();
        let _ = t.json_to_binary(&b, &mut out);
        let _ = t.binary_to_json(&b, &mut out);
        let _ = t.message_len(&b, 1 << 10);
        let _ = t.read_envelope(&b);
    }

    #[test]
    fn arbitrary_bytes_found_in_pieces_as_at_once(
        b in proptest::collection::vec(
            prop_oneof![Just(b'['), Just(b']'), Just(b'{'), Just(b'}'), Just(b'"'), Just(b'\\'), any::<u8>()],
            0..200,
        ),
        chunk in 1usize..20,
        max in 1usize..300,
    ) {
        let t = TJson::new();
        prop_assert_eq!(resumed(&t, &b, chunk, max), t.message_len(&b, max));
    }

    #[test]
    fn scalars_and_strings_roundtrip(
        i in any::<i64>(),
        d in any::<f64>().prop_filter("NaN compares unequal", |d| !d.is_nan()),
        s in ".{0,20}",
        id in any::<i16>(),
    ) {
        let mut body = BytesMut::new();
        let mut w = BinaryWriter::new(&mut body);
        w.field_begin(FieldType::I64, id);
        w.i64(i);
        w.field_begin(FieldType::Double, 1);
        w.double(d);
        w.field_begin(FieldType::Map, 2);
        w.map_begin(FieldType::String, FieldType::I64, 1).unwrap();
        w.bytes(s.as_bytes()).unwrap();
        w.i64(i);
        w.struct_end();
        let mut json = BytesMut::new();
        TJson::new().binary_to_json(&body, &mut json).unwrap();
        let mut back = BytesMut::new();
        TJson::new().json_to_binary(&json, &mut back).unwrap();
        prop_assert_eq!(back, body);
    }
}
