//! The Thrift backend the gateway starts in-process when it is given no
//! `--backend-addr`: `idl/gateway.thrift`'s `ItemService`, served by a
//! kitex `GenericService` from the IDL alone, with items and files kept
//! in memory.
//!
//! It answers by field id, as the IDL numbers them, so it serves any
//! descriptor that keeps those ids (the integration test serves one with
//! an extra `Count` method).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wego_kitex::BoxError;
use wego_kitex::generic::{
    Descriptor, GenericHandler, GenericService, Outcome, StructValue, Value,
};
use wego_kitex::metainfo::CallContext;
use wego_kitex::server::Server;

/// One stored item.
#[derive(Debug, Clone)]
struct Item {
    name: String,
    tags: Vec<String>,
    color: Option<i32>,
}

#[derive(Debug, Default)]
struct Store {
    next_id: i64,
    items: BTreeMap<i64, Item>,
    files: HashMap<String, (Bytes, String)>,
}

/// `ItemService` over an in-memory store.
#[derive(Debug, Clone, Default)]
pub struct ItemBackend {
    store: Arc<Mutex<Store>>,
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn string_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn item_value(id: i64, item: &Item) -> Value {
    let mut v = StructValue::new()
        .with(1, Value::I64(id))
        .with(2, text(&item.name));
    if !item.tags.is_empty() {
        v.set(3, Value::List(item.tags.iter().map(|t| text(t)).collect()));
    }
    if let Some(c) = item.color {
        v.set(4, Value::I32(c));
    }
    Value::Struct(v)
}

/// The `NotFound` exception, answered with status 404.
fn not_found(what: String) -> Outcome<Value> {
    Outcome::Exception {
        name: "missing".to_owned(),
        value: Value::Struct(
            StructValue::new()
                .with(1, Value::String(what))
                .with(2, Value::I32(404)),
        ),
    }
}

impl ItemBackend {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic in a handler cannot leave the maps half-updated: every
        // update below is one insert or remove.
        match self.store.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn answer(&self, method: &str, req: &StructValue) -> Result<Outcome<Value>, BoxError> {
        let id = match req.get(1) {
            Some(Value::I64(id)) => *id,
            _ => 0,
        };
        Ok(match method {
            "GetItem" => {
                let store = self.store();
                let Some(item) = store.items.get(&id) else {
                    return Ok(not_found(format!("no item {id}")));
                };
                let mut reply = StructValue::new()
                    .with(1, Value::I32(200))
                    .with(4, item_value(id, item));
                if let Some(trace) = string_of(req.get(3)) {
                    reply.set(2, Value::String(trace));
                }
                // A caller without a session gets one.
                if req.get(4).is_none() {
                    reply.set(3, Value::String(format!("s-{id}")));
                }
                if let Some(Value::Bool(true)) = req.get(2) {
                    let fields = match req.get(5) {
                        Some(Value::List(f)) => f.len(),
                        _ => 0,
                    };
                    reply.set(5, Value::String(format!("verbose, {fields} fields asked")));
                }
                Outcome::Success(Some(Value::Struct(reply)))
            }
            "CreateItem" => {
                let name = string_of(req.get(1)).unwrap_or_default();
                if name.trim().is_empty() {
                    return Ok(Outcome::Exception {
                        name: "invalid".to_owned(),
                        value: Value::Struct(
                            StructValue::new()
                                .with(1, text("the name is empty"))
                                .with(2, text("name")),
                        ),
                    });
                }
                let tags = match req.get(2) {
                    Some(Value::List(t)) => t.iter().filter_map(|v| string_of(Some(v))).collect(),
                    _ => Vec::new(),
                };
                let color = match req.get(3) {
                    Some(Value::I32(c)) => Some(*c),
                    _ => None,
                };
                let item = Item { name, tags, color };
                let mut store = self.store();
                store.next_id += 1;
                let id = store.next_id;
                let v = item_value(id, &item);
                store.items.insert(id, item);
                Outcome::Success(Some(v))
            }
            "DeleteItem" => match self.store().items.remove(&id) {
                Some(_) => Outcome::Success(None),
                None => not_found(format!("no item {id}")),
            },
            "Search" => {
                let q = string_of(req.get(1)).unwrap_or_default();
                let limit = match req.get(2) {
                    Some(Value::I32(n)) => usize::try_from(*n).unwrap_or(0),
                    _ => 10,
                };
                let want: Vec<String> = match req.get(3) {
                    Some(Value::Set(t)) => t.iter().filter_map(|v| string_of(Some(v))).collect(),
                    _ => Vec::new(),
                };
                let store = self.store();
                let hits: Vec<Value> = store
                    .items
                    .iter()
                    .filter(|(_, it)| it.name.contains(&q))
                    .filter(|(_, it)| want.iter().all(|t| it.tags.contains(t)))
                    .map(|(id, it)| item_value(*id, it))
                    .collect();
                let total = i32::try_from(hits.len()).unwrap_or(i32::MAX);
                let items = hits.into_iter().take(limit).collect();
                Outcome::Success(Some(Value::Struct(
                    StructValue::new()
                        .with(1, Value::List(items))
                        .with(2, Value::I32(total)),
                )))
            }
            "Upload" => {
                let name = string_of(req.get(1)).unwrap_or_default();
                let data = match req.get(2) {
                    Some(Value::Binary(b)) => b.clone(),
                    _ => Bytes::new(),
                };
                let ty =
                    string_of(req.get(3)).unwrap_or_else(|| "application/octet-stream".to_owned());
                let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
                self.store().files.insert(name.clone(), (data, ty));
                Outcome::Success(Some(Value::Struct(
                    StructValue::new()
                        .with(1, Value::String(name))
                        .with(2, Value::I64(size)),
                )))
            }
            "Download" => {
                let path = string_of(req.get(1)).unwrap_or_default();
                match self.store().files.get(&path) {
                    Some((data, ty)) => Outcome::Success(Some(Value::Struct(
                        StructValue::new()
                            .with(1, Value::Binary(data.clone()))
                            .with(2, text(ty)),
                    ))),
                    None => not_found(format!("no file {path:?}")),
                }
            }
            "Touch" => Outcome::Success(None),
            "Count" => {
                let n = self.store().items.len();
                Outcome::Success(Some(Value::I64(i64::try_from(n).unwrap_or(i64::MAX))))
            }
            other => return Err(format!("ItemService has no method {other}").into()),
        })
    }
}

impl GenericHandler for ItemBackend {
    async fn call(
        &self,
        method: &str,
        mut args: StructValue,
        _ctx: Arc<CallContext>,
    ) -> Result<Outcome<Value>, BoxError> {
        // Every method takes one request struct, field 1.
        let req = match args.take(1) {
            Some(Value::Struct(s)) => s,
            _ => StructValue::new(),
        };
        self.answer(method, &req)
    }
}

/// A kitex server serving `desc` with an [`ItemBackend`].
///
/// # Errors
///
/// When the server cannot be built.
pub fn server(desc: Descriptor) -> Result<Server, BoxError> {
    let svc = GenericService::new(desc, ItemBackend::default());
    let methods = svc.method_names();
    let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
    Ok(Server::builder()
        .service(&svc.service_name(), &methods, svc)
        .build()?)
}
