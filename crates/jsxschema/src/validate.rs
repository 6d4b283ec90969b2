//! Payload validation: walks a JSON object along a schema, filling defaults and normalizing
//! values, and descending into embedded objects through the caller's schema lookup.

use crate::value::{coerce_scalar, describe, zero};
use crate::{Field, Kind, Schema, ValidationError};
use serde_json::{Map, Value};

/// How deep embedded objects may nest; deeper payloads (or a schema that embeds itself with
/// `(O)`, whose zero value would never end) are refused.
pub(crate) const MAX_DEPTH: usize = 32;

/// The schema lookup of one [`Schema::validate`] call.
pub(crate) struct Validator<'a> {
    pub lookup: &'a dyn Fn(&str) -> Option<Schema>,
}

impl Validator<'_> {
    /// The payload root: must be an object.
    pub fn root(&self, schema: &Schema, payload: &Value) -> Result<Value, ValidationError> {
        match payload {
            Value::Object(object) => self.object(schema, object, "", 0),
            other => Err(ValidationError {
                path: String::new(),
                message: format!("payload must be a JSON object, got {}", describe(other)),
            }),
        }
    }

    /// Every key must be a field; every field gets a value (given, default or zero).
    fn object(
        &self,
        schema: &Schema,
        object: &Map<String, Value>,
        prefix: &str,
        depth: usize,
    ) -> Result<Value, ValidationError> {
        if let Some(key) = object.keys().find(|key| schema.field(key).is_none()) {
            return Err(unknown_field(schema, key, prefix));
        }
        let mut out = Map::new();
        for field in &schema.fields {
            let path = format!("{prefix}{}", field.name);
            let value = match object.get(&field.name) {
                None | Some(Value::Null) => self.fill(field, &path, depth)?,
                Some(given) => self.value(&field.kind, given, &path, depth)?,
            };
            out.insert(field.name.clone(), value);
        }
        Ok(Value::Object(out))
    }

    /// The value of a field the payload left out: its default, else its kind's zero value (an
    /// embedded object's zero value is its schema's defaults).
    fn fill(&self, field: &Field, path: &str, depth: usize) -> Result<Value, ValidationError> {
        if let Some(default) = field.default.clone().or_else(|| zero(&field.kind)) {
            return Ok(default);
        }
        self.value(&field.kind, &Value::Object(Map::new()), path, depth)
    }

    fn value(&self, kind: &Kind, value: &Value, path: &str, depth: usize) -> Result<Value, ValidationError> {
        match kind {
            Kind::List(item) => {
                let Value::Array(items) = value else {
                    return Err(ValidationError::field(path, format!("must be a list, got {}", describe(value))));
                };
                let checked =
                    items.iter().enumerate().map(|(i, v)| self.value(item, v, &format!("{path}[{i}]"), depth));
                Ok(Value::Array(checked.collect::<Result<_, _>>()?))
            }
            Kind::Object(url) => self.embedded(url, value, path, depth),
            _ => coerce_scalar(kind, value).map_err(|tail| ValidationError::field(path, tail)),
        }
    }

    fn embedded(&self, url: &str, value: &Value, path: &str, depth: usize) -> Result<Value, ValidationError> {
        let Value::Object(object) = value else {
            let tail = format!("must be an object of schema `{url}`, got {}", describe(value));
            return Err(ValidationError::field(path, tail));
        };
        if depth + 1 >= MAX_DEPTH {
            let tail = format!("nests embedded objects more than {MAX_DEPTH} deep");
            return Err(ValidationError::field(path, tail));
        }
        let Some(schema) = (self.lookup)(url) else {
            return Err(ValidationError::field(path, format!("refers to schema `{url}`, which is not known")));
        };
        self.object(&schema, object, &format!("{path}."), depth + 1)
    }
}

fn unknown_field(schema: &Schema, key: &str, prefix: &str) -> ValidationError {
    let path = format!("{prefix}{key}");
    let message = if key == "id" {
        format!("field `{path}` is reserved: the database assigns ids; leave it out of the payload")
    } else {
        let known: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        let known = if known.is_empty() { "no fields".to_string() } else { format!("only {}", known.join(", ")) };
        format!("unknown field `{path}`: schema `{}` has {known}", schema.url)
    };
    ValidationError { path, message }
}
