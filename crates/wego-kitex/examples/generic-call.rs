//! Generic call: a Thrift service called and served with its IDL loaded at
//! run time, no generated code, as a gateway or proxy does.
//!
//! ```text
//! cargo run -p wego-kitex --features generic --example generic-call
//! cargo run -p wego-kitex --features generic --example generic-call -- --idl path/to/svc.thrift \
//!     --service Svc --addr 127.0.0.1:8888 --method echo --json '{"req": {"msg": "hi"}}'
//! ```
//!
//! Without `--addr` it serves the IDL itself on loopback with a
//! `GenericService` whose handler echoes the first argument back (the
//! default IDL, embedded, has methods whose argument and result types
//! match), then calls it with JSON through a `GenericClient`, prints the
//! reply, shows that JSON that does not match the IDL is refused before
//! anything is sent, and swaps in a second version of the IDL without a
//! restart. With `--addr` it calls that server instead (any Thrift
//! server: generated, Kitex, Apache).

use std::sync::Arc;

use wego_kitex::BoxError;
use wego_kitex::client::Client;
use wego_kitex::generic::{
    GenericClient, GenericHandler, GenericService, Idl, Outcome, StructValue, Value,
};
use wego_kitex::metainfo::CallContext;
use wego_kitex::server::Server;
use wego_netpoll::{Address, Listener, rt};

const IDL_V1: &str = r#"
struct Item { 1: required string name, 2: optional i64 price, 3: list<string> tags }
exception NotFound { 1: string what }
service Store {
    Item echo(1: Item item)
    Item find(1: string name) throws (1: NotFound nf)
}
"#;

/// Version 2 adds a method; a client picks it up without a restart.
const IDL_V2: &str = r#"
struct Item { 1: required string name, 2: optional i64 price, 3: list<string> tags }
exception NotFound { 1: string what }
service Store {
    Item echo(1: Item item)
    Item find(1: string name) throws (1: NotFound nf)
    Item echo_again(1: Item item)
}
"#;

/// Echoes argument 1 back; `find` answers with the declared exception.
struct Echo;

impl GenericHandler for Echo {
    async fn call(
        &self,
        method: &str,
        mut args: StructValue,
        _ctx: Arc<CallContext>,
    ) -> Result<Outcome<Value>, BoxError> {
        if method == "find" {
            let what = args.take(1).unwrap_or(Value::String(String::new()));
            return Ok(Outcome::Exception {
                name: "nf".into(),
                value: Value::Struct(StructValue::new().with(1, what)),
            });
        }
        Ok(Outcome::Success(args.take(1)))
    }
}

struct Args {
    idl: Option<String>,
    service: Option<String>,
    addr: Option<Address>,
    method: String,
    json: String,
}

fn args() -> Result<Args, BoxError> {
    let mut a = Args {
        idl: None,
        service: None,
        addr: None,
        method: "echo".into(),
        json: r#"{"item": {"name": "pen", "price": 3, "tags": ["blue"]}}"#.into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--idl" => a.idl = Some(val()?),
            "--service" => a.service = Some(val()?),
            "--addr" => a.addr = Some(val()?.parse()?),
            "--method" => a.method = val()?,
            "--json" => a.json = val()?,
            _ => {
                return Err(
                    "usage: generic-call [--idl FILE] [--service NAME] [--addr A] \
                            [--method M] [--json DOC]"
                        .into(),
                );
            }
        }
    }
    Ok(a)
}

fn main() -> Result<(), BoxError> {
    let args = args()?;
    let idl = match &args.idl {
        Some(path) => Idl::parse_file(path)?,
        None => Idl::parse_str("store.thrift", IDL_V1)?,
    };
    let desc = match &args.service {
        Some(s) => idl.service(s)?,
        None => idl.default_service()?,
    };
    rt::Runtime::builder().build()?.block_on(async move {
        let (addr, server) = match args.addr.clone() {
            Some(a) => (a, None),
            None => {
                let svc = GenericService::new(desc.clone(), Echo);
                let methods = svc.method_names();
                let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
                let server = Server::builder()
                    .service(desc.service_name(), &methods, svc)
                    .build()?;
                let listener = Listener::bind(&"127.0.0.1:0".parse()?).await?;
                let addr = listener.local_addr().clone();
                let s = server.clone();
                rt::spawn(async move { s.serve(listener).await });
                (addr, Some(server))
            }
        };
        let client = GenericClient::new(Client::builder(addr).build()?, desc);
        let reply = client.call_json(&args.method, &args.json).await?;
        eprintln!("{} -> {reply:?}", args.method);
        if server.is_none() {
            return Ok::<(), BoxError>(());
        }
        let nf = client.call_json("find", r#"{"name": "cup"}"#).await?;
        eprintln!("find -> {nf:?}");
        let bad = client
            .call_json("echo", r#"{"item": {"name": "pen", "price": "three"}}"#)
            .await;
        match bad {
            Err(e) => eprintln!(
                "refused before sending: {}",
                e.value_error().map_or(e.to_string(), |v| v.to_string())
            ),
            Ok(r) => return Err(format!("mismatched json was sent: {r:?}").into()),
        }
        // Version 2 of the IDL: a new method, no restart. (The server in
        // this example still routes the methods it was built with, so the
        // new one is answered with UNKNOWN_METHOD; a server built from v2
        // would answer it.)
        client.update_descriptor(Idl::parse_str("store.thrift", IDL_V2)?.service("Store")?);
        let again = client.call_json("echo_again", &args.json).await;
        eprintln!(
            "echo_again after the swap -> {:?}",
            again.map_err(|e| e.to_string())
        );
        if let Some(s) = server {
            s.shutdown(std::time::Duration::from_secs(1)).await;
        }
        Ok(())
    })
}
