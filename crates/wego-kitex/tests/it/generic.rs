//! Generic call against generated code and Apache's Python ThriftTest:
//! for every ThriftTest method the generic path and the generated path put
//! the same bytes on the wire, in both directions, and each calls the
//! other's server; binary generic proxies every call untouched; the
//! descriptor swaps under a call in flight; JSON that does not match the
//! IDL is never sent.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use pilota::AHashSet;
use serde_json::{Value as Json, json};
use tower_service::Service;
use wego_kitex::BoxError;
use wego_kitex::client::{Client, Mode};
use wego_kitex::generic::{
    BinaryClient, CallError, DecodeLimits, Descriptor, DescriptorHandle, GenericClient,
    GenericHandler, GenericService, Idl, Outcome, RawHandler, RawService, StructValue, Value,
    ValueError, decode_struct,
};
use wego_kitex::metainfo::CallContext;
use wego_kitex::server::{Server, ThriftReply, ThriftRequest};
use wego_kitex::thrift::{MessageHeader, MessageType, Protocol, encode_body};
use wego_kitex::transport::Framing;
use wego_netpoll::{Address, rt};

use crate::thrift_interop::thrift_test::*;

fn idl_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../idl")
}

fn descriptor() -> Descriptor {
    Idl::parse_file(idl_dir().join("ThriftTest.thrift"))
        .unwrap()
        .service("ThriftTest")
        .unwrap()
}

const PROTOS: [Protocol; 2] = [Protocol::Binary, Protocol::Compact];

fn gen_bytes<M: pilota::thrift::Message>(proto: Protocol, m: &M) -> Bytes {
    let mut out = bytes::BytesMut::new();
    encode_body(proto, m, &mut out).unwrap();
    out.freeze()
}

fn xtruct() -> Xtruct {
    Xtruct {
        string_thing: Some("Zero".into()),
        byte_thing: Some(1),
        i32_thing: Some(-3),
        i64_thing: Some(-5),
    }
}

const XTRUCT: &str =
    r#"{"string_thing": "Zero", "byte_thing": 1, "i32_thing": -3, "i64_thing": -5}"#;

/// Every ThriftTest method's arguments, encoded by generated code, next to
/// the same arguments in JSON (maps and sets of one entry, so that the
/// generated side's hash order cannot differ).
fn every_method_args(proto: Protocol) -> Vec<(&'static str, Bytes, String)> {
    let g = |m: &dyn Fn(Protocol) -> Bytes| m(proto);
    let x2 = Xtruct2 {
        byte_thing: Some(1),
        struct_thing: Some(xtruct()),
        i32_thing: Some(5),
    };
    let ins = Insanity {
        user_map: Some([(Numberz::FIVE, UserId(5))].into_iter().collect()),
        xtructs: Some(vec![xtruct(), Xtruct::default()]),
    };
    vec![
        (
            "testVoid",
            g(&|p| gen_bytes(p, &ThriftTestTestVoidArgs {})),
            "{}".into(),
        ),
        (
            "testString",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestStringArgs {
                        thing: "Test ü".into(),
                    },
                )
            }),
            r#"{"thing": "Test ü"}"#.into(),
        ),
        (
            "testBool",
            g(&|p| gen_bytes(p, &ThriftTestTestBoolArgs { thing: true })),
            r#"{"thing": true}"#.into(),
        ),
        (
            "testByte",
            g(&|p| gen_bytes(p, &ThriftTestTestByteArgs { thing: -127 })),
            r#"{"thing": -127}"#.into(),
        ),
        (
            "testI32",
            g(&|p| gen_bytes(p, &ThriftTestTestI32Args { thing: i32::MIN })),
            format!(r#"{{"thing": {}}}"#, i32::MIN),
        ),
        (
            "testI64",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestI64Args {
                        thing: -34_359_738_368,
                    },
                )
            }),
            r#"{"thing": -34359738368}"#.into(),
        ),
        (
            "testDouble",
            g(&|p| gen_bytes(p, &ThriftTestTestDoubleArgs { thing: -5.2098523 })),
            r#"{"thing": -5.2098523}"#.into(),
        ),
        (
            "testBinary",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestBinaryArgs {
                        thing: Bytes::from_static(&[0, 1, 2, 255]),
                    },
                )
            }),
            r#"{"thing": "AAEC/w=="}"#.into(),
        ),
        (
            "testStruct",
            g(&|p| gen_bytes(p, &ThriftTestTestStructArgs { thing: xtruct() })),
            format!(r#"{{"thing": {XTRUCT}}}"#),
        ),
        (
            "testNest",
            g(&|p| gen_bytes(p, &ThriftTestTestNestArgs { thing: x2.clone() })),
            format!(
                r#"{{"thing": {{"byte_thing": 1, "struct_thing": {XTRUCT}, "i32_thing": 5}}}}"#
            ),
        ),
        (
            "testMap",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestMapArgs {
                        thing: [(1, -9)].into_iter().collect(),
                    },
                )
            }),
            r#"{"thing": {"1": -9}}"#.into(),
        ),
        (
            "testStringMap",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestStringMapArgs {
                        thing: [("a".into(), "2".into())].into_iter().collect(),
                    },
                )
            }),
            r#"{"thing": {"a": "2"}}"#.into(),
        ),
        (
            "testSet",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestSetArgs {
                        thing: [-4].into_iter().collect(),
                    },
                )
            }),
            r#"{"thing": [-4]}"#.into(),
        ),
        (
            "testList",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestListArgs {
                        thing: vec![1, 2, 3, -4],
                    },
                )
            }),
            r#"{"thing": [1, 2, 3, -4]}"#.into(),
        ),
        (
            "testEnum",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestEnumArgs {
                        thing: Numberz::FIVE,
                    },
                )
            }),
            r#"{"thing": "FIVE"}"#.into(),
        ),
        (
            "testTypedef",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestTypedefArgs {
                        thing: UserId(309_858_235_082_523),
                    },
                )
            }),
            r#"{"thing": 309858235082523}"#.into(),
        ),
        (
            "testMapMap",
            g(&|p| gen_bytes(p, &ThriftTestTestMapMapArgs { hello: 1 })),
            r#"{"hello": 1}"#.into(),
        ),
        (
            "testInsanity",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestInsanityArgs {
                        argument: ins.clone(),
                    },
                )
            }),
            format!(r#"{{"argument": {{"userMap": {{"5": 5}}, "xtructs": [{XTRUCT}, {{}}]}}}}"#),
        ),
        (
            "testMulti",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestMultiArgs {
                        arg0: 74,
                        arg1: 1 << 30,
                        arg2: 1 << 40,
                        arg3: [(7, "seven".into())].into_iter().collect(),
                        arg4: Numberz::FIVE,
                        arg5: UserId(1),
                    },
                )
            }),
            r#"{"arg0": 74, "arg1": 1073741824, "arg2": 1099511627776,
                "arg3": {"7": "seven"}, "arg4": 5, "arg5": 1}"#
                .into(),
        ),
        (
            "testException",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestExceptionArgs {
                        arg: "Xception".into(),
                    },
                )
            }),
            r#"{"arg": "Xception"}"#.into(),
        ),
        (
            "testMultiException",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestMultiExceptionArgs {
                        arg0: "Xception2".into(),
                        arg1: "x".into(),
                    },
                )
            }),
            r#"{"arg0": "Xception2", "arg1": "x"}"#.into(),
        ),
        (
            "testOneway",
            g(&|p| {
                gen_bytes(
                    p,
                    &ThriftTestTestOnewayArgs {
                        seconds_to_sleep: 1,
                    },
                )
            }),
            r#"{"secondsToSleep": 1}"#.into(),
        ),
    ]
}

/// The JSON arguments as the generic client encodes them.
fn generic_args(d: &Descriptor, method: &str, j: &str, proto: Protocol) -> Bytes {
    let stack = client(
        &Address::Tcp(([127, 0, 0, 1], 9).into()),
        Framing::Framed,
        proto,
    );
    GenericClient::new(stack, d.clone())
        .encode_json(method, j, proto)
        .unwrap()
}

#[test]
fn generic_and_generated_requests_are_the_same_bytes() {
    let d = descriptor();
    let mut covered = AHashSet::default();
    for proto in PROTOS {
        for (method, generated, j) in every_method_args(proto) {
            let generic = generic_args(&d, method, &j, proto);
            assert_eq!(generic, generated, "{method} in {proto:?}");
            covered.insert(method);
        }
    }
    for m in d.methods() {
        assert!(covered.contains(m.name.as_str()), "{} not compared", m.name);
    }
}

/// ThriftTest answered with dynamic values, as Apache's reference servers
/// (and the generated handler in examples/support) answer.
struct GenericThriftTest;

fn xtruct_value(s: Option<Value>, b: Option<Value>, i: Option<Value>, l: Option<Value>) -> Value {
    let mut v = StructValue::new();
    for (id, x) in [(1, s), (4, b), (9, i), (11, l)] {
        if let Some(x) = x {
            v.set(id, x);
        }
    }
    Value::Struct(v)
}

impl GenericHandler for GenericThriftTest {
    async fn call(
        &self,
        method: &str,
        mut args: StructValue,
        _ctx: Arc<CallContext>,
    ) -> Result<Outcome<Value>, BoxError> {
        let text = |s: &str| Value::String(s.to_owned());
        let arg_str = |v: Option<&Value>| match v {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        Ok(match method {
            "testVoid" | "testOneway" => Outcome::Success(None),
            "testMapMap" => {
                let inner = |sign: i32| {
                    Value::Map(
                        (1..=4)
                            .map(|i| (Value::I32(sign * i), Value::I32(sign * i)))
                            .collect(),
                    )
                };
                Outcome::Success(Some(Value::Map(vec![
                    (Value::I32(-4), inner(-1)),
                    (Value::I32(4), inner(1)),
                ])))
            }
            "testInsanity" => {
                let a = args.take(1).ok_or("argument missing")?;
                Outcome::Success(Some(Value::Map(vec![
                    (
                        Value::I64(1),
                        Value::Map(vec![(Value::I32(2), a.clone()), (Value::I32(3), a)]),
                    ),
                    (
                        Value::I64(2),
                        Value::Map(vec![(Value::I32(6), Value::Struct(StructValue::new()))]),
                    ),
                ])))
            }
            "testMulti" => Outcome::Success(Some(xtruct_value(
                Some(text("Hello2")),
                args.take(1),
                args.take(2),
                args.take(3),
            ))),
            "testException" => match arg_str(args.get(1)).as_str() {
                "Xception" => Outcome::Exception {
                    name: "err1".into(),
                    value: Value::Struct(
                        StructValue::new()
                            .with(1, Value::I32(1001))
                            .with(2, text("Xception")),
                    ),
                },
                "TException" => return Err("TException".into()),
                _ => Outcome::Success(None),
            },
            "testMultiException" => match arg_str(args.get(1)).as_str() {
                "Xception" => Outcome::Exception {
                    name: "err1".into(),
                    value: Value::Struct(
                        StructValue::new()
                            .with(1, Value::I32(1001))
                            .with(2, text("This is an Xception")),
                    ),
                },
                "Xception2" => Outcome::Exception {
                    name: "err2".into(),
                    value: Value::Struct(StructValue::new().with(1, Value::I32(2002)).with(
                        2,
                        xtruct_value(Some(text("This is an Xception2")), None, None, None),
                    )),
                },
                _ => Outcome::Success(Some(xtruct_value(args.take(2), None, None, None))),
            },
            _ => Outcome::Success(args.take(1)),
        })
    }
}

/// Sorts map entries and set elements, so that values read from a hash
/// map's output compare by content.
fn normalize(v: &mut Value) {
    match v {
        Value::List(vs) => vs.iter_mut().for_each(normalize),
        Value::Set(vs) => {
            vs.iter_mut().for_each(normalize);
            vs.sort_by_key(|x| format!("{x:?}"));
        }
        Value::Map(kvs) => {
            for (k, x) in kvs.iter_mut() {
                normalize(k);
                normalize(x);
            }
            kvs.sort_by_key(|(k, _)| format!("{k:?}"));
        }
        Value::Struct(s) => {
            let mut out = StructValue::new();
            for (id, x) in s.fields() {
                let mut x = x.clone();
                normalize(&mut x);
                out.set(id, x);
            }
            *s = out;
        }
        _ => {}
    }
}

fn request(method: &str, proto: Protocol, args: Bytes, oneway: bool) -> ThriftRequest {
    let header = MessageHeader {
        name: method.to_owned(),
        kind: if oneway {
            MessageType::Oneway
        } else {
            MessageType::Call
        },
        seq_id: 1,
    };
    ThriftRequest::new(proto, header, args, Arc::new(CallContext::default()))
}

wego_test_support::each_backend!(
    generic_and_generated_servers_reply_the_same_bytes,
    |_backend| async move {
        let d = descriptor();
        let mut generated = ThriftTestServer::new(Handler);
        let mut generic = GenericService::new(d.clone(), GenericThriftTest);
        // The requests with answers that depend on the argument.
        let extra = [
            ("testException", r#"{"arg": "safe"}"#),
            ("testMultiException", r#"{"arg0": "Xception", "arg1": "y"}"#),
            ("testMultiException", r#"{"arg0": "Xtruct", "arg1": "ret"}"#),
        ];
        for proto in PROTOS {
            let mut reqs: Vec<(String, Bytes)> = every_method_args(proto)
                .into_iter()
                .map(|(m, b, _)| (m.to_owned(), b))
                .collect();
            for (m, j) in extra {
                reqs.push((m.to_owned(), generic_args(&d, m, j, proto)));
            }
            for (method, args) in reqs {
                let m = d.method(&method).unwrap();
                let a = generated
                    .call(request(&method, proto, args.clone(), m.oneway))
                    .await
                    .unwrap();
                let b = generic
                    .call(request(&method, proto, args, m.oneway))
                    .await
                    .unwrap();
                match (a, b) {
                    (ThriftReply::Result(a), ThriftReply::Result(b)) => {
                        if a != b {
                            // Only hash-ordered maps may differ, and only in order.
                            assert!(
                                ["testMapMap", "testInsanity"].contains(&method.as_str()),
                                "{method} in {proto:?}: {a:?} != {b:?}"
                            );
                            let lim = DecodeLimits::default();
                            let mut va = Value::Struct(
                                decode_struct(&d, m.result, &a, proto, lim).unwrap().0,
                            );
                            let mut vb = Value::Struct(
                                decode_struct(&d, m.result, &b, proto, lim).unwrap().0,
                            );
                            normalize(&mut va);
                            normalize(&mut vb);
                            assert_eq!(va, vb, "{method} in {proto:?}");
                            assert_eq!(a.len(), b.len(), "{method} in {proto:?}");
                        }
                    }
                    (ThriftReply::None, ThriftReply::None) => assert!(m.oneway),
                    (a, b) => panic!("{method} in {proto:?}: {a:?} vs {b:?}"),
                }
            }
        }
        // A handler error is an application exception on both.
        let args = generic_args(
            &d,
            "testException",
            r#"{"arg": "TException"}"#,
            Protocol::Binary,
        );
        for reply in [
            generated
                .call(request(
                    "testException",
                    Protocol::Binary,
                    args.clone(),
                    false,
                ))
                .await,
            generic
                .call(request("testException", Protocol::Binary, args, false))
                .await,
        ] {
            assert!(reply.is_err(), "{reply:?}");
        }
    }
);

/// A server recording every request's arguments before the generated
/// ThriftTest service answers it.
fn recording_server(seen: Arc<Mutex<Vec<(String, Protocol, Bytes)>>>) -> Server {
    let inner = ThriftTestServer::new(Handler);
    let svc = crate::thrift_common::service(move |req: ThriftRequest| {
        seen.lock()
            .unwrap()
            .push((req.header.name.clone(), req.protocol, req.args.clone()));
        let mut inner = inner.clone();
        async move { inner.call(req).await }
    });
    type T = ThriftTestServer<Handler>;
    Server::builder()
        .service(T::NAME, T::METHODS, svc)
        .build()
        .unwrap()
}

fn client(addr: &Address, framing: Framing, proto: Protocol) -> Client {
    Client::builder(addr.clone())
        .with_framing(framing)
        .with_protocol(proto)
        .with_mode(Mode::Pooled {
            max_idle: 2,
            idle_timeout: Duration::from_secs(30),
        })
        .build()
        .unwrap()
}

async fn call(g: &GenericClient, method: &str, args: &str) -> Outcome<Json> {
    g.call_json(method, args)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e:?}"))
        .map(|s| serde_json::from_str(&s).unwrap())
}

fn ok(j: Json) -> Outcome<Json> {
    Outcome::Success(Some(j))
}

/// The calls of `thrift_interop::call_every_method`, in the same order
/// with the same arguments, made with JSON through a generic client, each
/// answer checked as Apache's cross-language client does.
async fn call_every_method_json(g: &GenericClient) {
    assert_eq!(call(g, "testVoid", "{}").await, Outcome::Success(None));
    assert_eq!(
        call(g, "testString", r#"{"thing": "Test ü"}"#).await,
        ok(json!("Test ü"))
    );
    assert_eq!(
        call(g, "testBool", r#"{"thing": true}"#).await,
        ok(json!(true))
    );
    assert_eq!(
        call(g, "testByte", r#"{"thing": -127}"#).await,
        ok(json!(-127))
    );
    let min = format!(r#"{{"thing": {}}}"#, i32::MIN);
    assert_eq!(call(g, "testI32", &min).await, ok(json!(i32::MIN)));
    assert_eq!(
        call(g, "testI64", r#"{"thing": -34359738368}"#).await,
        ok(json!(-34_359_738_368i64))
    );
    assert_eq!(
        call(g, "testDouble", r#"{"thing": -5.2098523}"#).await,
        ok(json!(-5.2098523))
    );
    let blob: Vec<u8> = (0..=255).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
    assert_eq!(
        call(g, "testBinary", &format!(r#"{{"thing": "{b64}"}}"#)).await,
        ok(json!(b64))
    );
    let x: Json = serde_json::from_str(XTRUCT).unwrap();
    assert_eq!(
        call(g, "testStruct", &format!(r#"{{"thing": {XTRUCT}}}"#)).await,
        ok(x.clone())
    );
    let x2 = json!({"byte_thing": 1, "struct_thing": x, "i32_thing": 5});
    assert_eq!(
        call(g, "testNest", &json!({"thing": x2}).to_string()).await,
        ok(x2.clone())
    );
    let m = json!({"0": -10, "1": -9, "2": -8, "3": -7, "4": -6});
    assert_eq!(
        call(g, "testMap", &json!({"thing": m}).to_string()).await,
        ok(m)
    );
    let sm = json!({"a": "2"});
    assert_eq!(
        call(g, "testStringMap", &json!({"thing": sm}).to_string()).await,
        ok(sm)
    );
    let Outcome::Success(Some(Json::Array(mut set))) =
        call(g, "testSet", r#"{"thing": [1, 2, -4]}"#).await
    else {
        panic!("testSet")
    };
    set.sort_by_key(|v| v.as_i64());
    assert_eq!(set, [json!(-4), json!(1), json!(2)]);
    assert_eq!(
        call(g, "testList", r#"{"thing": [1, 2, 3, -4]}"#).await,
        ok(json!([1, 2, 3, -4]))
    );
    assert_eq!(
        call(g, "testEnum", r#"{"thing": "FIVE"}"#).await,
        ok(json!(5))
    );
    assert_eq!(
        call(g, "testTypedef", r#"{"thing": 309858235082523}"#).await,
        ok(json!(309_858_235_082_523i64))
    );
    assert_eq!(
        call(g, "testMapMap", r#"{"hello": 1}"#).await,
        ok(
            json!({"-4": {"-4": -4, "-3": -3, "-2": -2, "-1": -1}, "4": {"1": 1, "2": 2, "3": 3, "4": 4}})
        )
    );
    let ins = json!({"userMap": {"5": 5}, "xtructs": [x]});
    let Outcome::Success(Some(got)) =
        call(g, "testInsanity", &json!({"argument": ins}).to_string()).await
    else {
        panic!("testInsanity")
    };
    assert_eq!(got["1"]["2"], ins);
    assert_eq!(got["1"]["3"], ins);
    let multi = r#"{"arg0": 74, "arg1": 1073741824, "arg2": 1099511627776,
                    "arg3": {}, "arg4": 5, "arg5": 1}"#;
    let Outcome::Success(Some(got)) = call(g, "testMulti", multi).await else {
        panic!("testMulti")
    };
    assert_eq!(got["string_thing"], "Hello2");
    assert_eq!(got["i64_thing"], 1_099_511_627_776i64);
    match call(g, "testException", r#"{"arg": "Xception"}"#).await {
        Outcome::Exception { name, value } => {
            assert_eq!(name, "err1");
            assert_eq!(value["errorCode"], 1001);
        }
        other => panic!("testException: {other:?}"),
    }
    match g
        .call_json("testException", r#"{"arg": "TException"}"#)
        .await
    {
        Err(CallError::Call(e)) => assert!(e.is_application(), "{e}"),
        other => panic!("testException TException: {other:?}"),
    }
    assert_eq!(
        call(g, "testException", r#"{"arg": "safe"}"#).await,
        Outcome::Success(None)
    );
    match call(
        g,
        "testMultiException",
        r#"{"arg0": "Xception2", "arg1": "x"}"#,
    )
    .await
    {
        Outcome::Exception { name, value } => {
            assert_eq!(name, "err2");
            assert_eq!(value["errorCode"], 2002);
        }
        other => panic!("testMultiException: {other:?}"),
    }
    let Outcome::Success(Some(got)) = call(
        g,
        "testMultiException",
        r#"{"arg0": "Xtruct", "arg1": "ret"}"#,
    )
    .await
    else {
        panic!("testMultiException Xtruct")
    };
    assert_eq!(got["string_thing"], "ret");
    assert_eq!(
        call(g, "testOneway", r#"{"secondsToSleep": 1}"#).await,
        Outcome::Success(None)
    );
    assert_eq!(call(g, "testI32", r#"{"thing": 7}"#).await, ok(json!(7)));
}

wego_test_support::each_backend!(
    generic_and_generated_clients_send_the_same_bytes,
    |_backend| async move {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (addr, _server) = crate::thrift_common::start(recording_server(seen.clone())).await;
        let d = descriptor();
        for (framing, proto) in [
            (Framing::TtHeader, Protocol::Binary),
            (Framing::Framed, Protocol::Compact),
            (Framing::Buffered, Protocol::Binary),
        ] {
            crate::thrift_interop::call_every_method(&ThriftTestClient::new(client(
                &addr, framing, proto,
            )))
            .await;
            let by_generated = std::mem::take(&mut *seen.lock().unwrap());
            call_every_method_json(&GenericClient::new(
                client(&addr, framing, proto),
                d.clone(),
            ))
            .await;
            let by_generic = std::mem::take(&mut *seen.lock().unwrap());
            assert_eq!(by_generated.len(), by_generic.len());
            for ((m1, p1, a1), (m2, p2, a2)) in by_generated.iter().zip(&by_generic) {
                assert_eq!((m1, p1), (m2, p2));
                if a1 == a2 {
                    continue;
                }
                // The generated client's 5-entry map and 3-entry set come
                // out in hash order: same content, same length.
                assert!(
                    ["testMap", "testSet"].contains(&m1.as_str()),
                    "{m1}: {a1:?} != {a2:?}"
                );
                let m = d.method(m1).unwrap();
                let lim = DecodeLimits::default();
                let mut v1 = Value::Struct(decode_struct(&d, m.args, a1, *p1, lim).unwrap().0);
                let mut v2 = Value::Struct(decode_struct(&d, m.args, a2, *p2, lim).unwrap().0);
                normalize(&mut v1);
                normalize(&mut v2);
                assert_eq!(v1, v2, "{m1}");
                assert_eq!(a1.len(), a2.len(), "{m1}");
            }
        }
    }
);

wego_test_support::each_backend!(
    generated_client_calls_every_method_on_a_generic_server,
    |_backend| async move {
        let svc = GenericService::new(descriptor(), GenericThriftTest);
        let methods = svc.method_names();
        let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
        let server = Server::builder()
            .service(&svc.service_name(), &methods, svc)
            .build()
            .unwrap();
        let (addr, _server) = crate::thrift_common::start(server).await;
        for (framing, proto) in [
            (Framing::TtHeader, Protocol::Binary),
            (Framing::Framed, Protocol::Compact),
            (Framing::Buffered, Protocol::Compact),
        ] {
            let c = ThriftTestClient::new(client(&addr, framing, proto));
            crate::thrift_interop::call_every_method(&c).await;
            // And the generic client against the generic server.
            call_every_method_json(&GenericClient::new(
                client(&addr, framing, proto),
                descriptor(),
            ))
            .await;
        }
    }
);

/// Forwards whole messages to another server with a binary generic client.
struct Proxy(BinaryClient);

impl RawHandler for Proxy {
    async fn call(&self, message: Bytes, _ctx: Arc<CallContext>) -> Result<Bytes, BoxError> {
        Ok(self.0.call(message).await?)
    }
}

wego_test_support::each_backend!(
    binary_generic_proxies_every_method_untouched,
    |_backend| async move {
        let (upstream, _up) = crate::thrift_common::start(builder().build().unwrap()).await;
        type T = ThriftTestServer<Handler>;
        for proto in PROTOS {
            let forward = BinaryClient::new(client(&upstream, Framing::Framed, proto));
            let proxy = Server::builder()
                .service(T::NAME, T::METHODS, RawService::new(Proxy(forward)))
                .build()
                .unwrap();
            let (addr, _proxy) = crate::thrift_common::start(proxy).await;
            let c = ThriftTestClient::new(client(&addr, Framing::TtHeader, proto));
            crate::thrift_interop::call_every_method(&c).await;
        }
        // A message in another protocol than the client's is refused unsent.
        let forward = BinaryClient::new(client(&upstream, Framing::Framed, Protocol::Compact));
        let mut msg = bytes::BytesMut::new();
        let h = MessageHeader {
            name: "testI32".into(),
            kind: MessageType::Call,
            seq_id: 9,
        };
        wego_kitex::thrift::encode_message(
            Protocol::Binary,
            &h,
            &ThriftTestTestI32Args { thing: 1 },
            &mut msg,
        )
        .unwrap();
        let e = forward.call(msg.freeze()).await.unwrap_err();
        assert!(matches!(e, CallError::Request(_)), "{e:?}");
        let e = forward
            .call(Bytes::from_static(b"GET / HTTP/1.1\r\n"))
            .await
            .unwrap_err();
        assert!(matches!(e, CallError::Request(_)), "{e:?}");
    }
);

/// Echoes argument 1 once the test lets it: the call is in flight while
/// the test swaps the client's descriptor.
struct Gated {
    arrived: tokio::sync::mpsc::UnboundedSender<()>,
    gate: Arc<tokio::sync::Semaphore>,
}

impl GenericHandler for Gated {
    async fn call(
        &self,
        _method: &str,
        mut args: StructValue,
        _ctx: Arc<CallContext>,
    ) -> Result<Outcome<Value>, BoxError> {
        let _ = self.arrived.send(());
        self.gate.acquire().await?.forget();
        Ok(Outcome::Success(args.take(1)))
    }
}

wego_test_support::each_backend!(
    descriptor_swaps_without_restart_and_calls_in_flight_keep_theirs,
    |_backend| async move {
        let v1 = Idl::parse_str("kv.thrift", "service KV { string get(1: string key) }")
            .unwrap()
            .service("KV")
            .unwrap();
        // Version 2 renames the argument and changes the result type.
        let v2 = Idl::parse_str("kv.thrift", "service KV { i64 get(1: string name) }")
            .unwrap()
            .service("KV")
            .unwrap();
        let (tx, mut arrived) = tokio::sync::mpsc::unbounded_channel();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let svc = GenericService::new(
            v1.clone(),
            Gated {
                arrived: tx,
                gate: gate.clone(),
            },
        );
        let server = Server::builder()
            .service("KV", &["get"], svc)
            .build()
            .unwrap();
        let (addr, _server) = crate::thrift_common::start(server).await;
        let g = GenericClient::new(client(&addr, Framing::TtHeader, Protocol::Binary), v1);
        let g2 = g.clone();
        let in_flight = rt::spawn(async move { g2.call_json("get", r#"{"key": "a"}"#).await });
        arrived.recv().await.unwrap();
        g.update_descriptor(v2);
        gate.add_permits(1);
        // The server answers a string: only v1 reads it as the result.
        let first = in_flight.await.unwrap().unwrap();
        assert_eq!(first, Outcome::Success(Some("\"a\"".to_owned())));
        // New calls use v2: the old argument name is refused unsent...
        match g.call_json("get", r#"{"key": "b"}"#).await {
            Err(CallError::Request(ValueError::UnknownField { path })) => {
                assert_eq!(path, r#"{"key"}"#)
            }
            other => panic!("{other:?}"),
        }
        // ...the new one is sent, and the string answer is not v2's i64.
        let call = rt::spawn({
            let g = g.clone();
            async move { g.call_json("get", r#"{"name": "c"}"#).await }
        });
        arrived.recv().await.unwrap();
        gate.add_permits(1);
        let e = call.await.unwrap().unwrap_err();
        assert!(
            matches!(e, CallError::Call(ref c) if c.is_application()),
            "{e:?}"
        );
    }
);

wego_test_support::each_backend!(
    json_that_does_not_match_is_never_sent,
    |_backend| async move {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (addr, _server) = crate::thrift_common::start(recording_server(seen.clone())).await;
        let g = GenericClient::new(
            client(&addr, Framing::TtHeader, Protocol::Binary),
            descriptor(),
        );
        let bad = [
            ("testI32", r#"{"thing": "7"}"#, "thing"),
            (
                "testStruct",
                r#"{"thing": {"i32_thing": 1.5}}"#,
                "thing.i32_thing",
            ),
            ("testString", r#"{}"#, "thing"),
            (
                "testNest",
                r#"{"thing": {"struct_thing": {"nope": 1}}}"#,
                r#"thing.struct_thing{"nope"}"#,
            ),
            ("testList", r#"{"thing": [1, "2"]}"#, "thing[1]"),
            ("testEnum", r#"{"thing": "SEVEN"}"#, "thing"),
        ];
        for (method, args, path) in bad {
            match g.call_json(method, args).await {
                Err(CallError::Request(e)) => assert_eq!(e.path(), path, "{method}: {e}"),
                other => panic!("{method}: {other:?}"),
            }
        }
        match g.call_json("testNothing", "{}").await {
            Err(CallError::Request(ValueError::UnknownMethod(m))) => assert_eq!(m, "testNothing"),
            other => panic!("{other:?}"),
        }
        assert_eq!(call(&g, "testI32", r#"{"thing": 7}"#).await, ok(json!(7)));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "only the matching call reached the server");
        assert_eq!(seen[0].0, "testI32");
    }
);

wego_test_support::each_backend!(
    generic_client_calls_every_method_on_a_python_server,
    |_backend| async move {
        let Some(python) = wego_test_support::peer::python_with(
            "generic_client_calls_every_method_on_a_python_server",
            &["thrift"],
        ) else {
            return;
        };
        let (server, addr) = crate::thrift_common::start_python_thrift_test_server(python).await;
        let d = descriptor();
        for framing in [Framing::THeader, Framing::Framed, Framing::Buffered] {
            for proto in PROTOS {
                call_every_method_json(&GenericClient::new(
                    client(&addr, framing, proto),
                    d.clone(),
                ))
                .await;
            }
        }
        drop(server);
    }
);

/// Answers every method with its name.
struct Names;

impl GenericHandler for Names {
    async fn call(
        &self,
        method: &str,
        _args: StructValue,
        _ctx: Arc<CallContext>,
    ) -> Result<Outcome<Value>, BoxError> {
        Ok(Outcome::Success(Some(Value::String(method.to_owned()))))
    }
}

wego_test_support::each_backend!(
    a_fallback_generic_service_serves_methods_its_idl_gains_at_run_time,
    |_backend| async move {
        let v1 = Idl::parse_str("kv.thrift", "service KV { string get(1: string key) }")
            .unwrap()
            .service("KV")
            .unwrap();
        let v2 = Idl::parse_str(
            "kv.thrift",
            "service KV { string get(1: string key) string put(1: string key) }",
        )
        .unwrap()
        .service("KV")
        .unwrap();
        let served = DescriptorHandle::new(v1);
        let server = Server::builder()
            .fallback_service("KV", GenericService::with_handle(served.clone(), Names))
            .build()
            .unwrap();
        let (addr, _server) = crate::thrift_common::start(server).await;
        // The caller already knows version 2.
        let g = GenericClient::new(
            client(&addr, Framing::TtHeader, Protocol::Binary),
            v2.clone(),
        );
        let put = || g.call_json("put", r#"{"key": "k"}"#);
        assert_eq!(
            g.call_json("get", r#"{"key": "k"}"#).await.unwrap(),
            Outcome::Success(Some("\"get\"".to_owned()))
        );
        // Not in the server's IDL yet: UNKNOWN_METHOD, the connection serves on.
        match put().await {
            Err(CallError::Call(e)) => {
                let x = e.application_exception().expect("an application exception");
                assert!(x.message.contains("put"), "{x:?}");
            }
            other => panic!("{other:?}"),
        }
        served.store(v2);
        assert_eq!(
            put().await.unwrap(),
            Outcome::Success(Some("\"put\"".to_owned()))
        );
    }
);
