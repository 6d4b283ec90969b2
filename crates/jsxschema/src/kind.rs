//! Field types: the [`Kind`] of a parsed field, and the table that turns the text between the
//! parentheses of a field line (`(S)`, `(string)`, `(LO)`, ...) into one.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The type of a field. The crate docs list the JSON form each one takes in a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// `S`, `str`, `string`: a JSON string.
    String,
    /// `I`, `int`, `integer`: a signed 64-bit integer.
    Int,
    /// `F`, `float`: a 64-bit float.
    Float,
    /// `B`, `bool`, `boolean`: a boolean.
    Bool,
    /// `D`, `date`: a calendar day, stored as unix seconds (UTC midnight).
    Date,
    /// `T`, `datetime`: a moment, stored as unix seconds.
    DateTime,
    /// `N`, `numeric`: an amount with an optional currency, e.g. `"10 USD"`.
    Numeric,
    /// `E`, `enum`: one of the listed (upper-case) values; the first is the default.
    Enum(Vec<String>),
    /// `P`, `percent`: a number from 0 to 100.
    Percent,
    /// `U`, `url`: a `scheme://...` string.
    Url,
    /// `H`, `set`: a pair of unsigned 32-bit integers.
    Set,
    /// `bytes`, `bin`: binary data as a base64 string.
    Bytes,
    /// `email`: an e-mail address.
    Email,
    /// `ipaddr`: an IPv4 or IPv6 address.
    IpAddr,
    /// `ipport`: a TCP/UDP port number, 0 to 65535.
    IpPort,
    /// `guid`: a UUID in its 8-4-4-4-12 hex form.
    Guid,
    /// `dict`, `json`: any JSON object.
    Dict,
    /// `i64`: a signed 64-bit integer (same range as [`Kind::Int`] here).
    I64,
    /// `L` + a type letter (`LS`, `LI`, `LO`, ...): a list whose items all have that type.
    List(Box<Kind>),
    /// `L`, `list`: a list of anything.
    AnyList,
    /// `O`, `jsxobject`, `object`, with `!url`: an embedded object of the schema at that url.
    Object(String),
}

impl Kind {
    /// The short type code as it would be written in a schema: `S`, `I`, `LS`, `O`, `email`...
    pub fn code(&self) -> String {
        let code = match self {
            Kind::String => "S",
            Kind::Int => "I",
            Kind::Float => "F",
            Kind::Bool => "B",
            Kind::Date => "D",
            Kind::DateTime => "T",
            Kind::Numeric => "N",
            Kind::Enum(_) => "E",
            Kind::Percent => "P",
            Kind::Url => "U",
            Kind::Set => "H",
            Kind::Bytes => "bytes",
            Kind::Email => "email",
            Kind::IpAddr => "ipaddr",
            Kind::IpPort => "ipport",
            Kind::Guid => "guid",
            Kind::Dict => "dict",
            Kind::I64 => "i64",
            Kind::List(item) => return format!("L{}", item.code()),
            Kind::AnyList => "L",
            Kind::Object(_) => "O",
        };
        code.to_string()
    }

    /// Whether a field of this kind can carry `**` or `&`: scalars can; lists, objects, dicts
    /// and sets cannot.
    pub fn indexable(&self) -> bool {
        !matches!(self, Kind::List(_) | Kind::AnyList | Kind::Object(_) | Kind::Dict | Kind::Set)
    }

    /// Kinds whose JSON form is a string with a format, where `""` means "not set".
    pub(crate) fn empty_string_allowed(&self) -> bool {
        matches!(self, Kind::String | Kind::Url | Kind::Bytes | Kind::Email | Kind::IpAddr | Kind::Guid)
    }
}

impl fmt::Display for Kind {
    /// `(S)`, `(LO) !url`, `(E)`: the way the type is written in a schema.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({})", self.code())?;
        match self {
            Kind::Object(url) => write!(f, " !{url}"),
            Kind::List(item) => match item.as_ref() {
                Kind::Object(url) => write!(f, " !{url}"),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// A type name with its data (enum values, object url) still to be supplied by the field line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    String,
    Int,
    Float,
    Bool,
    Date,
    DateTime,
    Numeric,
    Enum,
    Percent,
    Url,
    Set,
    Bytes,
    Email,
    IpAddr,
    IpPort,
    Guid,
    Dict,
    I64,
    AnyList,
    Object,
}

/// Every accepted spelling (lower-case) of every base type.
const NAMES: &[(Base, &[&str])] = &[
    (Base::String, &["s", "str", "string"]),
    (Base::Int, &["i", "int", "integer"]),
    (Base::Float, &["f", "float"]),
    (Base::Bool, &["b", "bool", "boolean"]),
    (Base::Date, &["d", "date"]),
    (Base::DateTime, &["t", "datetime"]),
    (Base::Numeric, &["n", "numeric"]),
    (Base::Enum, &["e", "enum"]),
    (Base::Percent, &["p", "percent"]),
    (Base::Url, &["u", "url"]),
    (Base::Set, &["h", "set"]),
    (Base::Bytes, &["bytes", "bin"]),
    (Base::Email, &["email"]),
    (Base::IpAddr, &["ipaddr"]),
    (Base::IpPort, &["ipport"]),
    (Base::Guid, &["guid"]),
    (Base::Dict, &["dict", "json"]),
    (Base::I64, &["i64"]),
    (Base::AnyList, &["l", "list"]),
    (Base::Object, &["o", "jsxobject", "object"]),
];

/// The list shown when a type name is not known.
pub(crate) const EXPECTED_TYPES: &str =
    "S, I, F, B, D, T, N, E, P, U, H, O, L, L<type>, bytes, email, ipaddr, ipport, guid, dict, i64 (or their long names)";

/// A resolved type name: a base type, possibly wrapped in a list (`LS` is `list: true, S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypeSpec {
    pub list: bool,
    pub base: Base,
}

fn base_named(name: &str) -> Option<Base> {
    NAMES.iter().find(|(_, names)| names.contains(&name)).map(|(base, _)| *base)
}

/// Resolves the text between the parentheses (case-insensitive). `Err` holds the message tail.
pub(crate) fn resolve(name: &str) -> Result<TypeSpec, String> {
    let lower = name.trim().to_ascii_lowercase();
    if let Some(base) = base_named(&lower) {
        return Ok(TypeSpec { list: false, base });
    }
    let item = lower.strip_prefix('l').and_then(base_named);
    match item {
        Some(Base::AnyList) => Err(format!("lists of lists `({name})` are not supported")),
        Some(Base::Enum) => Err(format!("lists of enums `({name})` are not supported; use (LS)")),
        Some(base) => Ok(TypeSpec { list: true, base }),
        None => Err(format!("unknown type `({name})`; expected one of {EXPECTED_TYPES}")),
    }
}

impl Base {
    /// The kind for a base that needs no extra data (everything but enums and objects).
    pub(crate) fn simple_kind(self) -> Option<Kind> {
        Some(match self {
            Base::String => Kind::String,
            Base::Int => Kind::Int,
            Base::Float => Kind::Float,
            Base::Bool => Kind::Bool,
            Base::Date => Kind::Date,
            Base::DateTime => Kind::DateTime,
            Base::Numeric => Kind::Numeric,
            Base::Percent => Kind::Percent,
            Base::Url => Kind::Url,
            Base::Set => Kind::Set,
            Base::Bytes => Kind::Bytes,
            Base::Email => Kind::Email,
            Base::IpAddr => Kind::IpAddr,
            Base::IpPort => Kind::IpPort,
            Base::Guid => Kind::Guid,
            Base::Dict => Kind::Dict,
            Base::I64 => Kind::I64,
            Base::AnyList => Kind::AnyList,
            Base::Enum | Base::Object => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_case_insensitively() {
        assert_eq!(resolve("S").unwrap(), TypeSpec { list: false, base: Base::String });
        assert_eq!(resolve("String").unwrap(), TypeSpec { list: false, base: Base::String });
        assert_eq!(resolve("LO").unwrap(), TypeSpec { list: true, base: Base::Object });
        assert_eq!(resolve("lstring").unwrap(), TypeSpec { list: true, base: Base::String });
        assert_eq!(resolve("L").unwrap(), TypeSpec { list: false, base: Base::AnyList });
        assert_eq!(resolve("list").unwrap(), TypeSpec { list: false, base: Base::AnyList });
        assert!(resolve("LL").unwrap_err().contains("lists of lists"));
        assert!(resolve("LE").unwrap_err().contains("lists of enums"));
        assert!(resolve("Q").unwrap_err().starts_with("unknown type `(Q)`"));
    }

    #[test]
    fn codes_round_trip() {
        for kind in [Kind::String, Kind::Email, Kind::List(Box::new(Kind::Int)), Kind::I64, Kind::Set] {
            let spec = resolve(&kind.code()).unwrap();
            let back = if spec.list {
                Kind::List(Box::new(spec.base.simple_kind().unwrap()))
            } else {
                spec.base.simple_kind().unwrap()
            };
            assert_eq!(back, kind);
        }
    }
}
