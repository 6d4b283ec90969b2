//! jsxschema: the schema language of ThreeFold's BCDB (JumpscaleX), parsed into a [`Schema`]
//! that validates and normalizes JSON payloads and says which values go to the index.
//!
//! ```
//! use jsxschema::{IndexValue, Schema};
//! use serde_json::json;
//!
//! let schema = Schema::parse(
//!     "@url = tfgrid.phonebook.user.1\n\
//!      name** = (S)  # unique: a field called `name` always is\n\
//!      email** = (S)\n\
//!      color = \"red,green\" (E)\n",
//! )
//! .unwrap();
//! let stored = schema.validate(&json!({"name": "kristof.3bot", "color": "Green"}), &|_| None).unwrap();
//! assert_eq!(stored, json!({"name": "kristof.3bot", "email": "", "color": "GREEN"}));
//! assert_eq!(
//!     schema.index_entries(&stored)[0],
//!     ("name".to_string(), IndexValue::Text("kristof.3bot".into()), true)
//! );
//! ```
//!
//! # Grammar
//!
//! A schema is read line by line; there is no lexer. In this EBNF, `ws` is spaces and tabs,
//! `[ x ]` is optional, `{ x }` repeats, and every line may end in a comment:
//!
//! ```text
//! schema    = { line "\n" } ;
//! line      = [ ordinal ] ( blank | property | field ) [ comment ] ;
//! ordinal   = digit { digit } ws* ":" ;                   (* the original's `12:` numbering; skipped *)
//! comment   = "#" { any } ;                               (* a "#" inside quotes is not a comment *)
//! property  = "@" key ws* "=" ws* value ;                 (* value: the rest, one pair of quotes stripped *)
//! field     = [ "&" ] name [ "**" ] ws* "=" ws* [ default ] ws* [ "(" type ")" ] ws* [ "!" url ] ;
//! default   = '"' { any - '"' } '"' | "'" { any - "'" } "'" | { any - "(" - "!" } ;
//! name, key = ( letter | "_" ) { letter | digit | "_" } ;  (* ASCII *)
//! url       = word { "." word } ;  word = ( letter | digit | "_" | "-" ) { ... } ;
//! type      = one of the names in the table below, any case, or "L" followed by one of them ;
//! ```
//!
//! Rules on top of the grammar:
//!
//! - **`@url`**: exactly one per schema (missing or repeated is an error). Other `@key = value`
//!   lines (`@acl = false`, `@sub = true`) land in [`Schema::properties`]; a repeated key is an
//!   error.
//! - **Markers**: `**` after the name indexes the field; `&` before it makes it unique (and
//!   indexed); a field called `name` is unique and indexed without a marker (if its kind is
//!   indexable). A single `*` (the old key index) and `***` (the removed full-text index) are
//!   errors, and so are more stars. Lists, objects, dicts and sets cannot carry a marker.
//! - **`id`** is reserved (the database assigns it): a field of that name is an error.
//! - **Quotes**: a quoted default runs to the next quote of the same kind; there are no escapes.
//!   An unterminated quote is an error. A quote in an unquoted default (`it's`) opens a quote.
//! - **Type guessing**, when `(TYPE)` is left out (the original's rule): a quoted default → `S`;
//!   `true`/`false` → `B`; `[]` → `LS`; an integer → `I`; a number with a `.` → `F`; anything
//!   else (or no default at all) is an error asking for a type.
//! - **Enums** take their values from the default: `color = "red,green,blue" (E)`. Values are
//!   letters, digits and `_`, upper-cased, kept in the order written (not sorted), no repeats;
//!   the first is the default.
//! - **`!url`** is required after `(O)` and `(LO)`, and refused after any other type.
//! - **Defaults** are checked against the type and stored normalized in [`Field::default`]: an
//!   empty default (`name = (S)`) is `None`. List defaults are written `[]`, `[1, 2]`,
//!   `["a", "b"]`, `[a, b]` or `a,b`; `(LO)` takes only `[]`; `(O)` takes none. `dict` and `L`
//!   defaults are JSON text (`{}`, `[1, "a"]`).
//!
//! Every error is a [`SchemaError`] with the 1-based line (and column when one spot is to
//! blame); [`SchemaError::render`] shows the line with a caret. Parsing never panics.
//!
//! # Types and their JSON form
//!
//! | type (any case) | kind | payload accepts | stored (normalized) as | index |
//! |---|---|---|---|---|
//! | `S` `str` `string` | [`Kind::String`] | string | string | `Text` |
//! | `I` `int` `integer`, `i64` | [`Kind::Int`], [`Kind::I64`] | integer in i64, integral float, decimal string | integer | `Int` |
//! | `F` `float` | [`Kind::Float`] | number, numeric string | float | `Float` |
//! | `B` `bool` `boolean` | [`Kind::Bool`] | `true`/`false`, `1`/`0`, strings `y` `yes` `true` `1` / `n` `no` `false` `0` (any case) | boolean | `Bool` |
//! | `D` `date` | [`Kind::Date`] | `"YYYY-MM-DD"`, unix seconds | integer, unix seconds (UTC midnight) | `Int` |
//! | `T` `datetime` | [`Kind::DateTime`] | unix seconds; `"YYYY-MM-DD"`, `"YYYY-MM-DD HH:MM[:SS]"` or RFC 3339 (`T`, fraction dropped, `Z`/`±HH:MM`; UTC if no offset) | integer, unix seconds | `Int` |
//! | `N` `numeric` | [`Kind::Numeric`] | number, `"10"`, `"10 usd"` | float without currency; string `"10 USD"` with one (no conversion) | `Float` (the amount) |
//! | `E` `enum` | [`Kind::Enum`] | one of the values, any case | upper-case string | `Text` |
//! | `P` `percent` | [`Kind::Percent`] | number or string, 0 to 100, `"50%"` | float | `Float` |
//! | `U` `url` | [`Kind::Url`] | `"scheme://..."`, or `""` | string | `Text` |
//! | `H` `set` | [`Kind::Set`] | `[a, b]` or `"a,b"`, two u32 | `[a, b]` | not indexable |
//! | `bytes` `bin` | [`Kind::Bytes`] | standard base64 (padding optional), or `""` | padded base64 | `Text` |
//! | `email` | [`Kind::Email`] | one `@`, a dot inside the domain, no spaces; or `""` | string as given | `Text` |
//! | `ipaddr` | [`Kind::IpAddr`] | IPv4/IPv6 text, or `""` | canonical text (`::1`) | `Text` |
//! | `ipport` | [`Kind::IpPort`] | integer 0 to 65535 | integer | `Int` |
//! | `guid` | [`Kind::Guid`] | 8-4-4-4-12 hex, or `""` | lower-case | `Text` |
//! | `dict` `json` | [`Kind::Dict`] | any object | as given | not indexable |
//! | `L` `list` | [`Kind::AnyList`] | any array | as given | not indexable |
//! | `L`+type (`LS`, `LI`, `LO` ...) | [`Kind::List`] | array, each item as its type | array of normalized items | not indexable |
//! | `O` `object` `jsxobject` + `!url` | [`Kind::Object`] | object valid for the schema at `url` | normalized object | not indexable |
//!
//! # Validation
//!
//! [`Schema::validate`] takes a JSON object and returns it normalized, or the first problem as a
//! [`ValidationError`] whose path leads to it (`owner.email`, `items[2].size`):
//!
//! - a key that is not a field is an error (`id` with a hint that the database assigns it);
//! - a missing field, or one given as `null`, takes its default; without a default it takes its
//!   kind's zero value, as the original did: `""` for string-like kinds, `0` for integers, dates
//!   and ports, `0.0` for floats, numerics and percents, `false`, `[]`, `{}`, `[0, 0]` for a set,
//!   the first value of an enum, and for an embedded object the object its schema's defaults
//!   make. So a validated payload always has every field;
//! - for string-like kinds with a format (url, email, ipaddr, guid, bytes) `""` means "not set"
//!   and is accepted;
//! - embedded objects are validated with the schema the caller's lookup returns for their url
//!   (an unknown url is an error), at most 32 levels deep.

mod base64;
mod error;
mod kind;
mod parse;
mod time;
mod validate;
mod value;

pub use error::{SchemaError, ValidationError};
pub use kind::Kind;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A parsed schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// The `@url` value, e.g. `tfgrid.phonebook.user.1`.
    pub url: String,
    /// Every other `@key = value` line, e.g. `acl → false`.
    pub properties: BTreeMap<String, String>,
    /// The fields in the order they were written.
    pub fields: Vec<Field>,
    /// SHA-256 of the exact schema text (serialized as hex): the schema's version identity.
    #[serde(with = "hex_hash")]
    pub hash: [u8; 32],
}

/// One field of a schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The field name, without markers.
    pub name: String,
    /// Its type.
    pub kind: Kind,
    /// The default, already normalized for the kind; `None` when the schema gives none (a
    /// missing value then gets the kind's zero value). An enum's default is its first value.
    pub default: Option<Value>,
    /// Whether the field goes to the index (`**`, `&`, or the name `name`).
    pub indexed: bool,
    /// Whether the index keeps its values unique (`&`, or the name `name`).
    pub unique: bool,
    /// The trailing `# comment` of the field line, trimmed.
    pub comment: Option<String>,
    /// The 1-based line the field was defined on.
    pub line: usize,
}

/// A value as the index stores it. Kinds map as follows: string, url, email, ipaddr, guid,
/// bytes (base64) and enum (upper-case) → `Text`; int, i64, ipport, date and datetime (unix
/// seconds) → `Int`; float, percent and numeric (the amount, currency ignored) → `Float`;
/// bool → `Bool`. Lists, objects, dicts and sets are never indexed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IndexValue {
    /// An integer, or a date/datetime as unix seconds.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl Schema {
    /// Parses a schema text. See the crate docs for the grammar and the errors.
    pub fn parse(text: &str) -> Result<Schema, SchemaError> {
        parse::parse(text)
    }

    /// The field called `name`, if any.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Validate a payload (a JSON object) and return it normalized: defaults filled for missing
    /// fields, enums upper-cased, bools from "yes"/1 etc., unknown fields → error. Embedded
    /// objects are validated with the schema looked up by url through `lookup` (missing schema →
    /// error). The rules are in the crate docs.
    pub fn validate(&self, payload: &Value, lookup: &dyn Fn(&str) -> Option<Schema>) -> Result<Value, ValidationError> {
        validate::Validator { lookup }.root(self, payload)
    }

    /// Values of indexed fields of a (validated) payload, for the ledger's index: (field name,
    /// [`IndexValue`], unique), in field order. A field that is absent, `null`, or does not fit
    /// its kind is skipped; empty strings are returned like any other value.
    pub fn index_entries(&self, payload: &Value) -> Vec<(String, IndexValue, bool)> {
        self.fields
            .iter()
            .filter(|f| f.indexed)
            .filter_map(|f| {
                let value = value::index_value(&f.kind, payload.get(&f.name)?)?;
                Some((f.name.clone(), value, f.unique))
            })
            .collect()
    }
}

/// Serde for the schema hash as a hex string.
mod hex_hash {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(hash))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&text, &mut hash).map_err(D::Error::custom)?;
        Ok(hash)
    }
}
