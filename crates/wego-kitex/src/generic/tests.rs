use std::path::PathBuf;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::thrift::Protocol;

fn idl_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../idl")
}

fn thrift_test() -> Descriptor {
    static D: std::sync::OnceLock<Descriptor> = std::sync::OnceLock::new();
    D.get_or_init(|| {
        Idl::parse_file(idl_dir().join("ThriftTest.thrift"))
            .unwrap()
            .service("ThriftTest")
            .unwrap()
    })
    .clone()
}

fn json_args(d: &Descriptor, method: &str, j: &str) -> Result<StructValue, ValueError> {
    let m = d.method(method).unwrap();
    json::struct_from_json(d, m.args, &json::parse(j)?, UnknownFields::Reject)
}

#[test]
fn thrift_test_descriptor_has_every_method_and_type() {
    let d = thrift_test();
    assert_eq!(d.service_name(), "ThriftTest");
    assert_eq!(d.methods().len(), 22);
    let ins = d.method("testInsanity").unwrap();
    let res = d.struct_desc(ins.result);
    let success = res.field_by_id(0).unwrap();
    let Type::Map(k, v) = &success.ty else {
        panic!("{:?}", success.ty)
    };
    assert_eq!(**k, Type::I64, "typedef UserId resolves to i64");
    let Type::Map(k2, v2) = &**v else { panic!() };
    let Type::Enum(e) = &**k2 else { panic!() };
    assert_eq!(d.enum_desc(*e).value_of("SIX"), Some(6));
    assert_eq!(d.enum_desc(*e).value_of("FIVE"), Some(5));
    let Type::Struct(s) = &**v2 else { panic!() };
    assert_eq!(d.struct_desc(*s).name, "Insanity");
    let me = d.method("testMultiException").unwrap();
    let r = d.struct_desc(me.result);
    assert_eq!(
        r.fields
            .iter()
            .map(|f| (f.id, f.name.as_str()))
            .collect::<Vec<_>>(),
        [(0, "success"), (1, "err1"), (2, "err2")]
    );
    assert!(d.method("testOneway").unwrap().oneway);
    assert!(d.method("testVoid").unwrap().void);
    // Arguments are required, as pilota's generated code treats them.
    let a = d.struct_desc(d.method("testString").unwrap().args);
    assert_eq!(a.fields[0].requiredness, Requiredness::Required);
    let cn = d.struct_by_name("CrazyNesting");
    assert!(cn.is_none(), "unreached types are not in the descriptor");
}

#[test]
fn includes_resolve_from_disk_and_from_memory() {
    let d = Idl::parse_file(idl_dir().join("store.thrift"))
        .unwrap()
        .service("Store")
        .unwrap();
    let get = d.method("get").unwrap();
    let r = d.struct_desc(get.result);
    let Type::Struct(item) = r.field_by_id(0).unwrap().ty else {
        panic!()
    };
    assert_eq!(d.struct_desc(item).name, "shared.Item");
    assert_eq!(r.field_by_id(1).unwrap().name, "missing");
    let shared = std::fs::read_to_string(idl_dir().join("shared.thrift")).unwrap();
    let store = std::fs::read_to_string(idl_dir().join("store.thrift")).unwrap();
    let m = Idl::parse_sources(
        "store.thrift",
        [
            ("store.thrift".to_owned(), store),
            ("shared.thrift".to_owned(), shared),
        ],
    )
    .unwrap()
    .service("Store")
    .unwrap();
    assert_eq!(m.methods().len(), 3);
    let find = m.struct_desc(m.method("find").unwrap().args);
    let Type::Struct(pick) = find.field_by_id(1).unwrap().ty else {
        panic!()
    };
    assert_eq!(m.struct_desc(pick).kind, StructKind::Union);
}

#[test]
fn syntax_errors_name_file_line_column_and_what_was_expected() {
    let err = Idl::parse_str(
        "bad.thrift",
        "struct A {\n  1: string a\n  2: strin g b\n}\n",
    )
    .unwrap_err();
    let IdlError::Syntax {
        file,
        line,
        column,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(file, "bad.thrift");
    assert_eq!(*line, 3, "{err}");
    assert!(*column >= 1, "{err}");
    assert!(message.contains("expected"), "{message}");
    assert!(err.to_string().starts_with("bad.thrift:3:"), "{err}");
}

#[test]
fn unknown_types_are_reported_where_they_are_used() {
    let src = "struct A {\n  1: string a\n  2: Missing b\n}\nservice S { A get(1: A a) }\n";
    let err = Idl::parse_str("u.thrift", src)
        .unwrap()
        .service("S")
        .unwrap_err();
    let IdlError::Resolve {
        file,
        line,
        column,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((file.as_str(), *line, *column), ("u.thrift", 3, 6), "{err}");
    assert!(message.contains("unknown type Missing"), "{message}");
    assert!(message.contains("expected"), "{message}");
}

#[test]
fn idl_refuses_missing_includes_services_and_deep_nesting() {
    let err = Idl::parse_str("a.thrift", "include \"b.thrift\"\nservice S {}\n").unwrap_err();
    assert!(matches!(err, IdlError::Resolve { line: 1, .. }), "{err}");
    let err = Idl::parse_str("a.thrift", "struct A {}\n")
        .unwrap()
        .service("S")
        .unwrap_err();
    assert!(matches!(err, IdlError::NoService(_)), "{err}");
    let deep = format!("typedef {}i32{} T\n", "list<".repeat(100), ">".repeat(100));
    let err = Idl::parse_str("deep.thrift", &deep).unwrap_err();
    assert!(
        matches!(&err, IdlError::Syntax { line: 1, message, .. } if message.contains("nested")),
        "{err}"
    );
    let dup = "struct A { 1: i32 a, 1: i32 b }\nservice S { void f(1: A a) }\n";
    let err = Idl::parse_str("d.thrift", dup)
        .unwrap()
        .service("S")
        .unwrap_err();
    assert!(err.to_string().contains("duplicate field id 1"), "{err}");
    let cyc = "service S extends S { void f() }\n";
    let err = Idl::parse_str("c.thrift", cyc)
        .unwrap()
        .service("S")
        .unwrap_err();
    assert!(err.to_string().contains("extends itself"), "{err}");
}

#[test]
fn extends_and_recursive_structs_resolve() {
    let src = "struct Node { 1: i32 v, 2: optional Node next }\n\
               service Base { Node head() }\n\
               service Derived extends Base { i32 len(1: Node n) }\n";
    let d = Idl::parse_str("r.thrift", src)
        .unwrap()
        .service("Derived")
        .unwrap();
    assert_eq!(d.methods().len(), 2);
    let n = json_args(
        &d,
        "len",
        r#"{"n": {"v": 1, "next": {"v": 2, "next": {"v": 3}}}}"#,
    )
    .unwrap();
    let m = d.method("len").unwrap();
    let bytes = encode_struct(&d, m.args, &n, Protocol::Compact).unwrap();
    let (back, used) = decode_struct(
        &d,
        m.args,
        &bytes,
        Protocol::Compact,
        DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(back, n);
}

#[test]
fn json_mismatches_name_the_field_path() {
    let d = thrift_test();
    let e = json_args(&d, "testStruct", r#"{"thing": {"i32_thing": "x"}}"#).unwrap_err();
    assert_eq!(e.path(), "thing.i32_thing");
    assert!(matches!(e, ValueError::WrongType { ref expected, .. } if expected == "i32"));
    let e = json_args(
        &d,
        "testInsanity",
        r#"{"argument": {"xtructs": [{"byte_thing": 1}, {"byte_thing": 300}]}}"#,
    )
    .unwrap_err();
    assert_eq!(e.path(), "argument.xtructs[1].byte_thing");
    assert!(e.to_string().contains("out of range"), "{e}");
    let e = json_args(
        &d,
        "testInsanity",
        r#"{"argument": {"userMap": {"SEVEN": 1}}}"#,
    )
    .unwrap_err();
    assert_eq!(e.path(), r#"argument.userMap{"SEVEN"}"#);
    let e = json_args(&d, "testString", "{}").unwrap_err();
    assert_eq!(
        e,
        ValueError::MissingField {
            path: "thing".into()
        }
    );
    let e = json_args(&d, "testString", r#"{"thing": "a", "extra": 1}"#).unwrap_err();
    assert_eq!(
        e,
        ValueError::UnknownField {
            path: r#"{"extra"}"#.into()
        }
    );
    let m = d.method("testString").unwrap();
    let ok = json::struct_from_json(
        &d,
        m.args,
        &json::parse(r#"{"thing": "a", "extra": 1}"#).unwrap(),
        UnknownFields::Ignore,
    )
    .unwrap();
    assert_eq!(ok.len(), 1);
    let e = json_args(&d, "testBinary", r#"{"thing": "not base64!"}"#).unwrap_err();
    assert_eq!(e.path(), "thing");
    let e = json_args(&d, "testString", r#"{"thing": "a""#).unwrap_err();
    assert!(matches!(e, ValueError::Json { line: 1, .. }), "{e}");
    let e = json_args(&d, "testMap", r#"{"thing": [1, 2]}"#).unwrap_err();
    assert!(e.to_string().contains("an object"), "{e}");
}

#[test]
fn json_maps_every_kind_of_value_both_ways() {
    let d = thrift_test();
    let m = d.method("testMulti").unwrap();
    let src = r#"{"arg0": -1, "arg1": 2147483647, "arg2": "-9007199254740993",
                  "arg3": {"7": "seven"}, "arg4": "EIGHT", "arg5": 42}"#;
    let v = json_args(&d, "testMulti", src).unwrap();
    assert_eq!(v.get(3), Some(&Value::I64(-9_007_199_254_740_993)));
    assert_eq!(v.get(5), Some(&Value::I32(8)));
    assert_eq!(
        v.get(4),
        Some(&Value::Map(vec![(
            Value::I16(7),
            Value::String("seven".into())
        )]))
    );
    let back = json::struct_to_json(&d, m.args, &v);
    assert_eq!(back["arg4"], 8);
    assert_eq!(back["arg3"]["7"], "seven");
    assert_eq!(back["arg2"], -9_007_199_254_740_993i64);
    let b = json_args(&d, "testBinary", r#"{"thing": "AAEC/w=="}"#).unwrap();
    assert_eq!(
        b.get(1),
        Some(&Value::Binary(Bytes::from_static(&[0, 1, 2, 255])))
    );
    let mb = d.method("testBinary").unwrap();
    assert_eq!(json::struct_to_json(&d, mb.args, &b)["thing"], "AAEC/w==");
    let dbl = json_args(&d, "testDouble", r#"{"thing": "NaN"}"#).unwrap();
    let Some(Value::Double(x)) = dbl.get(1) else {
        panic!()
    };
    assert!(x.is_nan());
}

#[test]
fn union_with_two_fields_is_refused() {
    let src = "union U { 1: i32 a, 2: string b }\nservice S { void f(1: U u) }\n";
    let d = Idl::parse_str("u.thrift", src)
        .unwrap()
        .service("S")
        .unwrap();
    let e = json_args(&d, "f", r#"{"u": {"a": 1, "b": "x"}}"#).unwrap_err();
    assert_eq!(e.path(), "u");
    let m = d.method("f").unwrap();
    let v = StructValue::new().with(
        1,
        Value::Struct(
            StructValue::new()
                .with(1, Value::I32(1))
                .with(2, Value::String("x".into())),
        ),
    );
    assert!(validate(&d, m.args, &v).is_err());
}

#[test]
fn map_values_are_validated_before_encoding() {
    let d = thrift_test();
    let m = d.method("testStruct").unwrap();
    let bad = StructValue::new().with(1, Value::Struct(StructValue::new().with(9, Value::I64(1))));
    let e = encode_struct(&d, m.args, &bad, Protocol::Binary).unwrap_err();
    assert_eq!(e.path(), "thing.i32_thing");
    let unknown =
        StructValue::new().with(1, Value::Struct(StructValue::new().with(99, Value::I8(1))));
    let e = validate(&d, m.args, &unknown).unwrap_err();
    assert!(matches!(e, ValueError::UnknownField { .. }), "{e}");
}

fn decode(
    d: &Descriptor,
    method: &str,
    bytes: &[u8],
    proto: Protocol,
) -> Result<StructValue, ValueError> {
    let m = d.method(method).unwrap();
    decode_struct(d, m.args, bytes, proto, DecodeLimits::default()).map(|(v, _)| v)
}

#[test]
fn malformed_bytes_are_errors() {
    let d = thrift_test();
    // Truncated: a string field whose length runs past the end.
    let e = decode(
        &d,
        "testString",
        &[11, 0, 1, 0, 0, 0, 9, b'a'],
        Protocol::Binary,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            ValueError::Malformed {
                reason: "truncated",
                ..
            }
        ),
        "{e}"
    );
    // A list claiming 2^31-1 elements in 10 bytes: refused, not allocated.
    let e = decode(
        &d,
        "testList",
        &[15, 0, 1, 8, 0x7f, 0xff, 0xff, 0xff, 0, 0],
        Protocol::Binary,
    )
    .unwrap_err();
    assert!(e.to_string().contains("collection larger"), "{e}");
    // Negative string length.
    let e = decode(
        &d,
        "testString",
        &[11, 0, 1, 0xff, 0xff, 0xff, 0xff, 0],
        Protocol::Binary,
    )
    .unwrap_err();
    assert!(e.to_string().contains("negative"), "{e}");
    // Not UTF-8.
    let e = decode(
        &d,
        "testString",
        &[11, 0, 1, 0, 0, 0, 1, 0xff, 0],
        Protocol::Binary,
    )
    .unwrap_err();
    assert_eq!(e.path(), "thing");
    // Compact: an over-long varint.
    let e = decode(
        &d,
        "testI32",
        &[0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0],
        Protocol::Compact,
    )
    .unwrap_err();
    assert!(e.to_string().contains("varint"), "{e}");
    // A required argument missing.
    let e = decode(&d, "testString", &[0], Protocol::Binary).unwrap_err();
    assert_eq!(
        e,
        ValueError::MissingField {
            path: "thing".into()
        }
    );
    // Unknown fields and fields of another type are skipped.
    let v = decode(
        &d,
        "testI32",
        &[
            8, 0, 9, 0, 0, 0, 1, 11, 0, 1, 0, 0, 0, 0, 8, 0, 1, 0, 0, 0, 5, 0,
        ],
        Protocol::Binary,
    )
    .unwrap();
    assert_eq!(v.get(1), Some(&Value::I32(5)));
}

#[test]
fn nesting_beyond_the_limit_is_refused() {
    let src = "struct Node { 1: optional Node next }\nservice S { void f(1: Node n) }\n";
    let d = Idl::parse_str("n.thrift", src)
        .unwrap()
        .service("S")
        .unwrap();
    // 200 nested structs in binary: field 1 struct header, then stops.
    let mut b = Vec::new();
    for _ in 0..200 {
        b.extend_from_slice(&[12, 0, 1]);
    }
    b.extend(std::iter::repeat_n(0u8, 201));
    let e = decode(&d, "f", &b, Protocol::Binary).unwrap_err();
    assert!(matches!(e, ValueError::TooDeep { limit: 64, .. }), "{e}");
    let limits = DecodeLimits::default().with_max_depth(300);
    let m = d.method("f").unwrap();
    assert!(decode_struct(&d, m.args, &b, Protocol::Binary, limits).is_ok());
}

fn arb_xtruct() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(".{0,8}"),
        proptest::option::of(any::<i8>()),
        proptest::option::of(any::<i32>()),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(s, b, i, l)| {
            let mut v = StructValue::new();
            if let Some(s) = s {
                v.set(1, Value::String(s));
            }
            if let Some(b) = b {
                v.set(4, Value::I8(b));
            }
            if let Some(i) = i {
                v.set(9, Value::I32(i));
            }
            if let Some(l) = l {
                v.set(11, Value::I64(l));
            }
            Value::Struct(v)
        })
}

proptest! {
    #[test]
    fn values_round_trip_in_both_protocols(
        xs in proptest::collection::vec(arb_xtruct(), 0..4),
        m in proptest::collection::vec((any::<i32>(), any::<i64>()), 0..4),
        compact in any::<bool>(),
    ) {
        let d = thrift_test();
        let meth = d.method("testInsanity").unwrap();
        let proto = if compact { Protocol::Compact } else { Protocol::Binary };
        let ins = StructValue::new()
            .with(1, Value::Map(m.iter().map(|&(k, v)| (Value::I32(k), Value::I64(v))).collect()))
            .with(2, Value::List(xs));
        let args = StructValue::new().with(1, Value::Struct(ins));
        let bytes = encode_struct(&d, meth.args, &args, proto).unwrap();
        let (back, used) = decode_struct(&d, meth.args, &bytes, proto, DecodeLimits::default()).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, args);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let d = thrift_test();
        for m in d.methods() {
            for proto in [Protocol::Binary, Protocol::Compact] {
                let _ = decode_struct(&d, m.args, &bytes, proto, DecodeLimits::default());
                let _ = decode_struct(&d, m.result, &bytes, proto, DecodeLimits::default());
            }
        }
    }
}

#[test]
fn descriptor_handle_swaps_for_later_loads_only() {
    let v1 = Idl::parse_str("a.thrift", "service S { void a() }")
        .unwrap()
        .service("S")
        .unwrap();
    let v2 = Idl::parse_str("a.thrift", "service S { void a() void b() }")
        .unwrap()
        .service("S")
        .unwrap();
    let h = DescriptorHandle::new(v1);
    let other = h.clone();
    let held = h.load();
    h.store(v2);
    assert!(held.method("b").is_none(), "a holder keeps its descriptor");
    assert!(other.load().method("b").is_some(), "clones see the swap");
}

#[test]
fn http_annotations_are_recorded() {
    let src = r#"
struct GetReq {
    1: required i64 id (api.path = "id"),
    2: optional string q (api.query = "q"),
    3: optional string token (api.header = "X-Token"),
}
service Items {
    string get(1: GetReq req) (api.get = "/items/:id")
    string put(1: GetReq req) (api.post = "/items", api.put = "/items/:id")
}
"#;
    let d = Idl::parse_str("h.thrift", src)
        .unwrap()
        .service("Items")
        .unwrap();
    let get = d.method("get").unwrap();
    assert_eq!(get.http_routes.len(), 1);
    assert_eq!(get.http_routes[0].method, "GET");
    assert_eq!(get.http_routes[0].path, "/items/:id");
    let put = d.method("put").unwrap();
    let verbs: Vec<&str> = put.http_routes.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(verbs, ["POST", "PUT"]);
    let Type::Struct(req) = d.struct_desc(get.args).fields[0].ty else {
        panic!()
    };
    assert_eq!(d.http_source(req, 1), Some(&HttpSource::Path("id".into())));
    assert_eq!(d.http_source(req, 2), Some(&HttpSource::Query("q".into())));
    assert_eq!(
        d.http_source(req, 3),
        Some(&HttpSource::Header("X-Token".into()))
    );
}
