//! Interop with Apache Thrift's Python library: its ThriftTest client calls
//! every method on our server (binary and compact over buffered, framed and
//! THeader), and our generated client calls every method on its server.
//! Skipped with a printed reason without Python's `thrift`; required in CI.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use pilota::{AHashMap, AHashSet, FastStr};
use wego_kitex::client::{Client, Mode};
use wego_kitex::thrift::Protocol;
use wego_kitex::transport::Framing;
use wego_netpoll::rt;

#[allow(
    clippy::all,
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    dead_code,
    unsafe_code
)]
#[path = "../../examples/support/thrift_test.rs"]
pub(crate) mod thrift_test;

use thrift_test::*;

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

wego_test_support::each_backend!(
    python_client_calls_every_method_on_our_server,
    |_backend| async move {
        let Some(python) = wego_test_support::peer::python_with(
            "python_client_calls_every_method_on_our_server",
            &["thrift"],
        ) else {
            return;
        };
        let server = builder().build().unwrap();
        let (addr, _sd) = crate::thrift_common::start(server).await;
        python_client_passes(python, addr.as_tcp().unwrap().port()).await;
    }
);

/// Runs Python's ThriftTest client against `port` with every transport
/// and protocol pair Apache's Python library offers (buffered, framed and
/// THeader; binary and compact; also non-strict binary), SecondService
/// included, and fails the test if any run fails.
pub(crate) async fn python_client_passes(python: PathBuf, port: u16) {
    let port = port.to_string();
    let mut runs: Vec<Vec<&str>> = Vec::new();
    for t in ["buffered", "framed", "header"] {
        for p in ["binary", "compact"] {
            runs.push(vec!["--transport", t, "--protocol", p, "--second"]);
        }
    }
    runs.push(vec!["--transport", "buffered", "--non-strict"]);
    runs.push(vec!["--transport", "framed", "--non-strict"]);
    for args in runs {
        let (python, port) = (python.clone(), port.clone());
        let script = peers_dir().join("thrift_test_client.py");
        let label = args.join(" ");
        let out = rt::spawn_blocking(move || {
            wego_test_support::peer::output(
                Command::new(python)
                    .arg(script)
                    .arg("--port")
                    .arg(port)
                    .args(&args),
            )
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "python client ({label}) failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Calls every ThriftTest method through `c` and checks each answer as
/// Apache's cross-language client does.
pub(crate) async fn call_every_method(c: &ThriftTestClient) {
    c.test_void().await.unwrap();
    assert_eq!(c.test_string("Test ü".into()).await.unwrap(), "Test ü");
    assert!(c.test_bool(true).await.unwrap());
    assert_eq!(c.test_byte(-127).await.unwrap(), -127);
    assert_eq!(c.test_i32(i32::MIN).await.unwrap(), i32::MIN);
    assert_eq!(c.test_i64(-34_359_738_368).await.unwrap(), -34_359_738_368);
    assert_eq!(c.test_double(-5.2098523).await.unwrap(), -5.2098523);
    let blob: Vec<u8> = (0..=255).collect();
    assert_eq!(
        &c.test_binary(blob.clone().into()).await.unwrap()[..],
        &blob[..]
    );
    let x = Xtruct {
        string_thing: Some("Zero".into()),
        byte_thing: Some(1),
        i32_thing: Some(-3),
        i64_thing: Some(-5),
    };
    assert_eq!(c.test_struct(x.clone()).await.unwrap(), x);
    let x2 = Xtruct2 {
        byte_thing: Some(1),
        struct_thing: Some(x.clone()),
        i32_thing: Some(5),
    };
    assert_eq!(c.test_nest(x2.clone()).await.unwrap(), x2);
    let m: AHashMap<i32, i32> = (0..5).map(|i| (i, i - 10)).collect();
    assert_eq!(c.test_map(m.clone()).await.unwrap(), m);
    let sm: AHashMap<FastStr, FastStr> = [("a".into(), "2".into())].into_iter().collect();
    assert_eq!(c.test_string_map(sm.clone()).await.unwrap(), sm);
    let s: AHashSet<i32> = [1, 2, -4].into_iter().collect();
    assert_eq!(c.test_set(s.clone()).await.unwrap(), s);
    assert_eq!(
        c.test_list(vec![1, 2, 3, -4]).await.unwrap(),
        vec![1, 2, 3, -4]
    );
    assert_eq!(c.test_enum(Numberz::FIVE).await.unwrap(), Numberz::FIVE);
    assert_eq!(
        c.test_typedef(UserId(309_858_235_082_523)).await.unwrap(),
        UserId(309_858_235_082_523)
    );
    let mm = c.test_map_map(1).await.unwrap();
    assert_eq!(mm[&4][&3], 3);
    assert_eq!(mm[&-4][&-2], -2);
    let ins = Insanity {
        user_map: Some([(Numberz::FIVE, UserId(5))].into_iter().collect()),
        xtructs: Some(vec![x.clone()]),
    };
    let got = c.test_insanity(ins.clone()).await.unwrap();
    assert_eq!(got[&UserId(1)][&Numberz::TWO], ins);
    let multi = c
        .test_multi(
            74,
            1 << 30,
            1 << 40,
            AHashMap::default(),
            Numberz::FIVE,
            UserId(1),
        )
        .await
        .unwrap();
    assert_eq!(multi.string_thing.as_deref(), Some("Hello2"));
    assert_eq!(multi.i64_thing, Some(1 << 40));
    match c.test_exception("Xception".into()).await {
        Err(ThriftTestTestExceptionError::Err1(e)) => assert_eq!(e.error_code, Some(1001)),
        other => panic!("testException: {other:?}"),
    }
    match c.test_exception("TException".into()).await {
        Err(ThriftTestTestExceptionError::Other(e)) => {
            let e = e.downcast_ref::<wego_kitex::Error>().unwrap();
            assert!(e.is_application(), "{e}");
        }
        other => panic!("testException TException: {other:?}"),
    }
    c.test_exception("safe".into()).await.unwrap();
    match c.test_multi_exception("Xception2".into(), "x".into()).await {
        Err(ThriftTestTestMultiExceptionError::Err2(e)) => assert_eq!(e.error_code, Some(2002)),
        other => panic!("testMultiException: {other:?}"),
    }
    let ok = c
        .test_multi_exception("Xtruct".into(), "ret".into())
        .await
        .unwrap();
    assert_eq!(ok.string_thing.as_deref(), Some("ret"));
    // The server never answers a oneway call: a client that waited for a
    // reply would fail here with its RPC timeout.
    c.test_oneway(1).await.unwrap();
    assert_eq!(c.test_i32(7).await.unwrap(), 7);
}

wego_test_support::each_backend!(
    our_client_calls_every_method_on_a_python_server,
    |_backend| async move {
        let Some(python) = wego_test_support::peer::python_with(
            "our_client_calls_every_method_on_a_python_server",
            &["thrift"],
        ) else {
            return;
        };
        let (server, addr) = crate::thrift_common::start_python_thrift_test_server(python).await;
        for framing in [Framing::THeader, Framing::Framed, Framing::Buffered] {
            for proto in [Protocol::Binary, Protocol::Compact] {
                let inner = Client::builder(addr.clone())
                    .with_framing(framing)
                    .with_protocol(proto)
                    .with_mode(Mode::Pooled {
                        max_idle: 2,
                        idle_timeout: Duration::from_secs(30),
                    })
                    .build()
                    .unwrap();
                call_every_method(&ThriftTestClient::new(inner)).await;
            }
        }
        drop(server);
    }
);
