//! One value against one kind: checking and normalizing scalars, zero values, and index forms.
//!
//! Errors here are message tails such as ``must be an integer, got string "abc"``; the caller
//! puts the field path (payloads) or the schema line (defaults) in front.

use crate::{base64, time, IndexValue, Kind};
use serde_json::{Number, Value};

/// How a value is shown in an error: its JSON type and, for scalars, the value (long strings cut).
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!("string {}", Value::String(s.chars().take(40).collect::<String>() + "..."))
        }
        Value::String(_) => format!("string {value}"),
        Value::Array(items) => format!("array of {} items", items.len()),
        Value::Object(_) => "object".into(),
    }
}

fn mismatch(expected: &str, got: &Value) -> String {
    format!("must be {expected}, got {}", describe(got))
}

/// A float as a JSON number (`None` for NaN and infinities, which JSON cannot hold).
fn float(f: f64) -> Option<Value> {
    Number::from_f64(f).map(Value::Number)
}

/// The value a field takes when a payload leaves it out and the schema gives no default.
/// `None` for embedded objects, whose zero value is built from their own schema.
pub(crate) fn zero(kind: &Kind) -> Option<Value> {
    Some(match kind {
        Kind::String | Kind::Url | Kind::Bytes | Kind::Email | Kind::IpAddr | Kind::Guid => Value::from(""),
        Kind::Int | Kind::I64 | Kind::Date | Kind::DateTime | Kind::IpPort => Value::from(0),
        Kind::Float | Kind::Numeric | Kind::Percent => Value::from(0.0),
        Kind::Bool => Value::Bool(false),
        Kind::Enum(values) => Value::from(values.first().cloned().unwrap_or_default()),
        Kind::Set => Value::from(vec![0, 0]),
        Kind::Dict => Value::Object(Default::default()),
        Kind::List(_) | Kind::AnyList => Value::Array(Vec::new()),
        Kind::Object(_) => return None,
    })
}

/// Checks and normalizes a value of any kind except lists and embedded objects, which the
/// validator walks itself.
pub(crate) fn coerce_scalar(kind: &Kind, value: &Value) -> Result<Value, String> {
    if kind.empty_string_allowed() && value.as_str() == Some("") {
        return Ok(Value::from(""));
    }
    match kind {
        Kind::String => value.as_str().map(Value::from).ok_or_else(|| mismatch("a string", value)),
        Kind::Int | Kind::I64 => integer(value).map(Value::from),
        Kind::Float => number(value).and_then(|f| float(f).ok_or_else(|| mismatch("a finite number", value))),
        Kind::Bool => boolean(value).map(Value::Bool),
        Kind::Date => date(value).map(Value::from),
        Kind::DateTime => datetime(value).map(Value::from),
        Kind::Numeric => numeric(value),
        Kind::Enum(values) => enumeration(values, value).map(Value::from),
        Kind::Percent => percent(value),
        Kind::Url => text_with(value, "a url (scheme://...)", is_url),
        Kind::Set => set(value),
        Kind::Bytes => bytes(value),
        Kind::Email => text_with(value, "an email address (one @, a dot in the domain)", is_email),
        Kind::IpAddr => ip_address(value),
        Kind::IpPort => port(value).map(Value::from),
        Kind::Guid => guid(value),
        Kind::Dict if value.is_object() => Ok(value.clone()),
        Kind::Dict => Err(mismatch("an object", value)),
        Kind::AnyList if value.is_array() => Ok(value.clone()),
        Kind::AnyList | Kind::List(_) => Err(mismatch("a list", value)),
        Kind::Object(_) => Err(mismatch("an object", value)),
    }
}

/// -2^63 as a float; every float in `-2^63..2^63` converts to an i64 exactly.
const I64_MIN_F: f64 = -9_223_372_036_854_775_808.0;

/// An i64 from a JSON integer, an integral float, or a decimal string.
fn integer(value: &Value) -> Result<i64, String> {
    const RANGE: &str = "is out of range for a 64-bit integer";
    match value {
        Value::Number(n) if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
        Value::Number(n) if n.is_u64() => Err(format!("{RANGE}: {n}")),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() != 0.0 {
                Err(mismatch("an integer", value))
            } else if !(I64_MIN_F..-I64_MIN_F).contains(&f) {
                Err(format!("{RANGE}: {n}"))
            } else {
                Ok(f as i64)
            }
        }
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => Ok(i),
            Err(_) if is_decimal(s.trim()) => Err(format!("{RANGE}: {s}")),
            Err(_) => Err(mismatch("an integer", value)),
        },
        _ => Err(mismatch("an integer", value)),
    }
}

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An f64 from a JSON number or a numeric string.
fn number(value: &Value) -> Result<f64, String> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    };
    parsed.ok_or_else(|| mismatch("a number", value))
}

fn boolean(value: &Value) -> Result<bool, String> {
    let text = match value {
        Value::Bool(b) => return Ok(*b),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => String::new(),
    };
    match text.as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(mismatch("a boolean (true/false, yes/no, y/n, 1/0)", value)),
    }
}

fn date(value: &Value) -> Result<i64, String> {
    let expected = "a date (\"YYYY-MM-DD\" or unix seconds)";
    match value {
        Value::String(s) => time::parse_date(s.trim()).map_or_else(|| integer(value), Ok),
        Value::Number(_) => integer(value),
        _ => Err(mismatch(expected, value)),
    }
    .map_err(|_| mismatch(expected, value))
}

fn datetime(value: &Value) -> Result<i64, String> {
    let expected = "a date-time (\"YYYY-MM-DD HH:MM[:SS]\", RFC 3339, or unix seconds)";
    match value {
        Value::String(s) => time::parse_datetime(s.trim()).map_or_else(|| integer(value), Ok),
        Value::Number(_) => integer(value),
        _ => Err(mismatch(expected, value)),
    }
    .map_err(|_| mismatch(expected, value))
}

/// The amount and upper-cased currency (if any) of a numeric value: `10`, `"10"`, `"10 usd"`.
pub(crate) fn numeric_parts(value: &Value) -> Option<(f64, Option<String>)> {
    match value {
        Value::Number(n) => n.as_f64().map(|f| (f, None)),
        Value::String(s) => {
            let mut words = s.split_whitespace();
            let amount = words.next()?.parse::<f64>().ok().filter(|f| f.is_finite())?;
            let currency = words.next();
            let valid = |c: &&str| (1..=10).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphabetic());
            match (currency, words.next()) {
                (None, _) => Some((amount, None)),
                (Some(c), None) if valid(&c) => Some((amount, Some(c.to_ascii_uppercase()))),
                _ => None,
            }
        }
        _ => None,
    }
}

fn numeric(value: &Value) -> Result<Value, String> {
    let expected = "a numeric amount (a number, or a string like \"10 USD\")";
    match numeric_parts(value) {
        Some((amount, None)) => float(amount).ok_or_else(|| mismatch(expected, value)),
        Some((amount, Some(currency))) => Ok(Value::from(format!("{amount} {currency}"))),
        None => Err(mismatch(expected, value)),
    }
}

fn enumeration(allowed: &[String], value: &Value) -> Result<String, String> {
    let list = allowed.join(", ");
    let Some(text) = value.as_str() else {
        return Err(mismatch(&format!("one of {list}"), value));
    };
    let upper = text.trim().to_uppercase();
    if allowed.contains(&upper) {
        Ok(upper)
    } else {
        Err(format!("must be one of {list}, got {}", describe(value)))
    }
}

fn percent(value: &Value) -> Result<Value, String> {
    let expected = "a percentage (a number from 0 to 100, or a string like \"50%\")";
    let parsed = match value {
        Value::String(s) => s.trim().strip_suffix('%').unwrap_or(s.trim()).trim().parse::<f64>().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match parsed {
        Some(p) if (0.0..=100.0).contains(&p) => float(p).ok_or_else(|| mismatch(expected, value)),
        Some(_) => Err(format!("must be between 0 and 100, got {}", describe(value))),
        None => Err(mismatch(expected, value)),
    }
}

/// A string accepted by `check`, kept as it is.
fn text_with(value: &Value, expected: &str, check: fn(&str) -> bool) -> Result<Value, String> {
    match value.as_str() {
        Some(s) if check(s) => Ok(Value::from(s)),
        _ => Err(mismatch(expected, value)),
    }
}

/// `scheme://rest`: the scheme a letter then letters, digits, `+ . -`; no whitespace anywhere.
fn is_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        && !rest.is_empty()
        && !text.chars().any(char::is_whitespace)
}

/// One `@`, something before it, and a domain with an inner dot; no whitespace.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
}

fn ip_address(value: &Value) -> Result<Value, String> {
    value
        .as_str()
        .and_then(|s| s.parse::<std::net::IpAddr>().ok())
        .map(|ip| Value::from(ip.to_string()))
        .ok_or_else(|| mismatch("an IP address", value))
}

fn port(value: &Value) -> Result<u16, String> {
    let expected = "a port number (0 to 65535)";
    integer(value).ok().and_then(|i| u16::try_from(i).ok()).ok_or_else(|| mismatch(expected, value))
}

/// `[a, b]` or `"a,b"` with two unsigned 32-bit integers.
fn set(value: &Value) -> Result<Value, String> {
    let expected = "a pair of unsigned 32-bit integers ([a, b] or \"a,b\")";
    let parts: Vec<Value> = match value {
        Value::Array(items) => items.clone(),
        Value::String(s) => s.split(',').map(|p| Value::from(p.trim())).collect(),
        _ => Vec::new(),
    };
    let numbers: Option<Vec<u32>> = parts.iter().map(|p| integer(p).ok().and_then(|i| u32::try_from(i).ok())).collect();
    match numbers {
        Some(pair) if pair.len() == 2 => Ok(Value::from(pair)),
        _ => Err(mismatch(expected, value)),
    }
}

fn bytes(value: &Value) -> Result<Value, String> {
    value
        .as_str()
        .and_then(base64::decode)
        .map(|data| Value::from(base64::encode(&data)))
        .ok_or_else(|| mismatch("base64 bytes", value))
}

/// 8-4-4-4-12 hex digits, returned lower-case.
fn guid(value: &Value) -> Result<Value, String> {
    let valid = |s: &str| {
        s.len() == 36
            && s.char_indices()
                .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
    };
    match value.as_str() {
        Some(s) if valid(s) => Ok(Value::from(s.to_ascii_lowercase())),
        _ => Err(mismatch("a guid (8-4-4-4-12 hex digits)", value)),
    }
}

/// The index form of a normalized value, `None` for kinds that are not indexable or a value that
/// does not fit its kind.
pub(crate) fn index_value(kind: &Kind, value: &Value) -> Option<IndexValue> {
    match kind {
        Kind::String | Kind::Url | Kind::Bytes | Kind::Email | Kind::IpAddr | Kind::Guid | Kind::Enum(_) => {
            value.as_str().map(|s| IndexValue::Text(s.to_string()))
        }
        Kind::Int | Kind::I64 | Kind::Date | Kind::DateTime | Kind::IpPort => value.as_i64().map(IndexValue::Int),
        Kind::Float | Kind::Percent => value.as_f64().map(IndexValue::Float),
        Kind::Numeric => numeric_parts(value).map(|(amount, _)| IndexValue::Float(amount)),
        Kind::Bool => value.as_bool().map(IndexValue::Bool),
        Kind::Set | Kind::Dict | Kind::List(_) | Kind::AnyList | Kind::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(kind: Kind, input: Value) -> Value {
        coerce_scalar(&kind, &input).unwrap_or_else(|e| panic!("{kind:?} {input}: {e}"))
    }

    fn err(kind: Kind, input: Value) -> String {
        coerce_scalar(&kind, &input).unwrap_err()
    }

    #[test]
    fn integers() {
        assert_eq!(ok(Kind::Int, json!(5)), json!(5));
        assert_eq!(ok(Kind::Int, json!("-12")), json!(-12));
        assert_eq!(ok(Kind::I64, json!(3.0)), json!(3));
        assert_eq!(err(Kind::Int, json!("abc")), "must be an integer, got string \"abc\"");
        assert_eq!(err(Kind::Int, json!(1.5)), "must be an integer, got number 1.5");
        assert!(err(Kind::Int, json!(u64::MAX)).starts_with("is out of range"));
        assert!(err(Kind::Int, json!(1e30)).starts_with("is out of range"));
        assert!(err(Kind::Int, json!("99999999999999999999")).starts_with("is out of range"));
    }

    #[test]
    fn scalars() {
        assert_eq!(ok(Kind::Float, json!(3)), json!(3.0));
        assert_eq!(ok(Kind::Bool, json!("Yes")), json!(true));
        assert_eq!(ok(Kind::Bool, json!(0)), json!(false));
        assert_eq!(ok(Kind::Date, json!("2020-01-02")), json!(1_577_923_200));
        assert_eq!(ok(Kind::DateTime, json!("1970-01-01 00:01")), json!(60));
        assert_eq!(ok(Kind::Numeric, json!("10 usd")), json!("10 USD"));
        assert_eq!(ok(Kind::Numeric, json!("2.5")), json!(2.5));
        assert_eq!(ok(Kind::Percent, json!("50%")), json!(50.0));
        assert!(err(Kind::Percent, json!(101)).starts_with("must be between 0 and 100"));
        assert_eq!(ok(Kind::IpAddr, json!("::0001")), json!("::1"));
        assert_eq!(ok(Kind::IpPort, json!(8080)), json!(8080));
        assert_eq!(ok(Kind::Set, json!("1, 2")), json!([1, 2]));
        assert_eq!(ok(Kind::Bytes, json!("Zm8")), json!("Zm8="));
        assert_eq!(
            ok(Kind::Guid, json!("0F8FAD5B-D9CB-469F-A165-70867728950E")),
            json!("0f8fad5b-d9cb-469f-a165-70867728950e")
        );
        assert_eq!(ok(Kind::Email, json!("")), json!(""));
        assert!(err(Kind::Email, json!("a@b")).starts_with("must be an email"));
        assert!(err(Kind::Email, json!("a@@b.c")).starts_with("must be an email"));
        assert!(err(Kind::Url, json!("example.com")).starts_with("must be a url"));
        assert_eq!(ok(Kind::Url, json!("https://example.com")), json!("https://example.com"));
    }

    #[test]
    fn enums() {
        let kind = Kind::Enum(vec!["RED".into(), "GREEN".into()]);
        assert_eq!(ok(kind.clone(), json!("green")), json!("GREEN"));
        assert_eq!(err(kind, json!("blue")), "must be one of RED, GREEN, got string \"blue\"");
    }

    #[test]
    fn long_strings_are_cut_in_messages() {
        let long = "x".repeat(100);
        assert_eq!(describe(&json!(long)), format!("string \"{}...\"", "x".repeat(40)));
    }
}
