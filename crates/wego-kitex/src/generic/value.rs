//! The dynamic value: any Thrift value without a generated type.

use bytes::Bytes;

/// A Thrift value read or written through a [`Descriptor`](super::Descriptor).
///
/// Enums are [`Value::I32`]; structs keep their fields by id. Sets and maps
/// keep the order they were read or built in (the order they are written).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `bool`.
    Bool(bool),
    /// `i8` / `byte`.
    I8(i8),
    /// `i16`.
    I16(i16),
    /// `i32`, and enums.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `double`.
    Double(f64),
    /// `string`.
    String(String),
    /// `binary`.
    Binary(Bytes),
    /// `uuid`.
    Uuid([u8; 16]),
    /// `list<T>`.
    List(Vec<Value>),
    /// `set<T>`.
    Set(Vec<Value>),
    /// `map<K, V>`, as key-value pairs.
    Map(Vec<(Value, Value)>),
    /// A struct, union or exception.
    Struct(StructValue),
}

/// The fields of a struct value, by field id, in the order they were set.
/// Two struct values are equal when they set the same fields to equal
/// values, whatever the order.
#[derive(Debug, Clone, Default)]
pub struct StructValue {
    fields: Vec<(i16, Value)>,
}

impl PartialEq for StructValue {
    fn eq(&self, other: &Self) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .all(|(id, v)| other.get(*id).is_some_and(|o| o == v))
    }
}

impl StructValue {
    /// An empty struct.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets field `id` (replacing a previous value).
    pub fn set(&mut self, id: i16, v: Value) {
        match self.fields.iter_mut().find(|(i, _)| *i == id) {
            Some(slot) => slot.1 = v,
            None => self.fields.push((id, v)),
        }
    }

    /// Sets field `id`, by value.
    pub fn with(mut self, id: i16, v: Value) -> Self {
        self.set(id, v);
        self
    }

    /// Field `id`.
    pub fn get(&self, id: i16) -> Option<&Value> {
        self.fields.iter().find(|(i, _)| *i == id).map(|(_, v)| v)
    }

    /// Removes and returns field `id`.
    pub fn take(&mut self, id: i16) -> Option<Value> {
        let pos = self.fields.iter().position(|(i, _)| *i == id)?;
        Some(self.fields.remove(pos).1)
    }

    /// The fields set, in the order they were set.
    pub fn fields(&self) -> impl Iterator<Item = (i16, &Value)> {
        self.fields.iter().map(|(i, v)| (*i, v))
    }

    /// How many fields are set.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl From<StructValue> for Value {
    fn from(s: StructValue) -> Self {
        Value::Struct(s)
    }
}
