//! The line parser: each line of a schema text is blank, a comment, an `@key = value` property
//! or a field. No lexer; a small cursor walks the line left to right. The grammar is in the
//! crate docs.

use crate::kind::{self, Base, TypeSpec};
use crate::value::coerce_scalar;
use crate::{Field, Kind, Schema, SchemaError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Parses a whole schema text (see [`Schema::parse`]).
pub(crate) fn parse(text: &str) -> Result<Schema, SchemaError> {
    let mut url: Option<(String, usize)> = None;
    let mut properties = BTreeMap::new();
    let mut fields: Vec<Field> = Vec::new();
    // A byte-order mark is not part of the first line (the hash still covers it).
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, source) in body.lines().enumerate() {
        let line = Line { number: index + 1, text: source };
        match parse_line(&line)? {
            Parsed::Blank => {}
            Parsed::Property { key, value, at } if key == "url" => {
                if let Some((_, first)) = &url {
                    return Err(line.error_at(at, format!("duplicate @url (first given on line {first})")));
                }
                if !valid_url(&value) {
                    return Err(line.error_at(at, bad_url_message(&value)));
                }
                url = Some((value, line.number));
            }
            Parsed::Property { key, value, at } => {
                if properties.insert(key.clone(), value).is_some() {
                    return Err(line.error_at(at, format!("duplicate property @{key}")));
                }
            }
            Parsed::Field(field) => {
                if let Some(first) = fields.iter().find(|f| f.name == field.name) {
                    let message = format!("duplicate field `{}` (first defined on line {})", field.name, first.line);
                    return Err(line.error(message));
                }
                fields.push(*field);
            }
        }
    }
    let Some((url, _)) = url else {
        return Err(SchemaError::new(1, None, "missing `@url = ...` line; every schema needs exactly one"));
    };
    let hash = Sha256::digest(text.as_bytes()).into();
    Ok(Schema { url, properties, fields, hash })
}

/// What one line holds.
enum Parsed {
    Blank,
    Property { key: String, value: String, at: usize },
    Field(Box<Field>),
}

/// One line of the schema text, with its 1-based number, for error reporting.
struct Line<'a> {
    number: usize,
    text: &'a str,
}

impl Line<'_> {
    /// 1-based character column of a byte offset.
    fn column(&self, byte: usize) -> usize {
        self.text.get(..byte).map_or(1, |head| head.chars().count() + 1)
    }

    fn error_at(&self, byte: usize, message: impl Into<String>) -> SchemaError {
        SchemaError::new(self.number, Some(self.column(byte)), message)
    }

    fn error(&self, message: impl Into<String>) -> SchemaError {
        SchemaError::new(self.number, None, message)
    }
}

/// A position in the part of a line before its comment.
struct Cursor<'a> {
    line: &'a Line<'a>,
    pos: usize,
    end: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.line.text[self.pos..self.end]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += c.len_utf8();
        }
        found
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c| !keep(c)).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn error(&self, message: impl Into<String>) -> SchemaError {
        self.line.error_at(self.pos, message)
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Where the trailing comment starts (a `#` outside quotes), and the comment text.
fn split_comment(line: &Line) -> Result<(usize, Option<String>), SchemaError> {
    let mut open: Option<(char, usize)> = None;
    for (at, c) in line.text.char_indices() {
        match open {
            Some((quote, _)) if c == quote => open = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => open = Some((c, at)),
            None if c == '#' => {
                let comment = line.text[at + 1..].trim();
                return Ok((at, (!comment.is_empty()).then(|| comment.to_string())));
            }
            None => {}
        }
    }
    match open {
        Some((quote, at)) => Err(line.error_at(at, format!("unterminated quote: no closing {quote}"))),
        None => Ok((line.text.len(), None)),
    }
}

fn parse_line(line: &Line) -> Result<Parsed, SchemaError> {
    let (end, comment) = split_comment(line)?;
    let mut cur = Cursor { line, pos: 0, end };
    cur.skip_ws();
    skip_ordinal(&mut cur);
    if cur.at_end() {
        return Ok(Parsed::Blank);
    }
    if cur.eat('@') {
        return property(&mut cur);
    }
    field(&mut cur, comment).map(|f| Parsed::Field(Box::new(f)))
}

/// The original parser numbered its lines `12: name = ...`; such a prefix is skipped.
fn skip_ordinal(cur: &mut Cursor) {
    let start = cur.pos;
    if !cur.take_while(|c| c.is_ascii_digit()).is_empty() {
        cur.skip_ws();
        if cur.eat(':') {
            cur.skip_ws();
            return;
        }
    }
    cur.pos = start;
}

/// `@key = value`, after the `@`.
fn property(cur: &mut Cursor) -> Result<Parsed, SchemaError> {
    let at = cur.pos;
    let key = cur.take_while(is_name_char);
    if key.is_empty() {
        return Err(cur.error("expected a property name after `@`, as in `@url = my.schema.1`"));
    }
    cur.skip_ws();
    if !cur.eat('=') {
        return Err(cur.error(format!("expected `=` after `@{key}`")));
    }
    let value = unquote(cur.rest().trim());
    if value.is_empty() {
        return Err(cur.error(format!("@{key} has no value")));
    }
    Ok(Parsed::Property { key: key.to_string(), value: value.to_string(), at })
}

/// Strips one pair of matching quotes.
fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner;
        }
    }
    text
}

/// A schema url: dot-separated words of letters, digits, `_` and `-`.
fn valid_url(url: &str) -> bool {
    !url.is_empty() && url.split('.').all(|part| !part.is_empty() && part.chars().all(|c| is_name_char(c) || c == '-'))
}

fn bad_url_message(url: &str) -> String {
    format!("invalid schema url `{url}`; use dot-separated words of letters, digits, `_` and `-`, e.g. `my.schema.1`")
}

/// The part of a field line left of `=`.
struct Head {
    name: String,
    at: usize,
    unique: bool,
    indexed: bool,
}

/// A default as written: the text (without quotes) and where it starts.
struct RawDefault {
    text: String,
    quoted: bool,
    at: usize,
}

/// What sits between the parentheses, and where.
struct TypeText {
    text: String,
    at: usize,
}

fn field(cur: &mut Cursor, comment: Option<String>) -> Result<Field, SchemaError> {
    let head = field_head(cur)?;
    let default = default_part(cur)?;
    let type_text = type_part(cur)?;
    let pointer = pointer_part(cur)?;
    let line = cur.line;
    let kind = field_kind(line, &head, type_text.as_ref(), pointer, default.as_ref())?;
    let default = match (&kind, &default) {
        (Kind::Enum(values), _) => values.first().cloned().map(Value::from),
        (_, Some(raw)) => Some(default_value(line, &head.name, &kind, raw)?),
        (_, None) => None,
    };
    let explicit = head.unique || head.indexed;
    if explicit && !kind.indexable() {
        let message = format!("field `{}` of type {} cannot be indexed (no ** or &)", head.name, kind_text(&kind));
        return Err(line.error_at(head.at, message));
    }
    let auto_unique = head.name == "name" && kind.indexable();
    Ok(Field {
        name: head.name,
        kind,
        default,
        indexed: explicit || auto_unique,
        unique: head.unique || auto_unique,
        comment,
        line: line.number,
    })
}

/// `(T)` with enum values and object urls left out, for messages.
fn kind_text(kind: &Kind) -> String {
    format!("({})", kind.code())
}

/// `[&]name[*...]` then `=`.
fn field_head(cur: &mut Cursor) -> Result<Head, SchemaError> {
    let unique = cur.eat('&');
    let at = cur.pos;
    let name = cur.take_while(is_name_char);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(cur.line.error_at(at, "expected a field name (a letter or `_`, then letters, digits or `_`)"));
    }
    if name == "id" {
        return Err(cur.line.error_at(at, "`id` is reserved: the database assigns it; pick another field name"));
    }
    let stars_at = cur.pos;
    let indexed = match cur.take_while(|c| c == '*').len() {
        0 => false,
        2 => true,
        1 => return Err(cur.line.error_at(stars_at, "key based indexing (*) not supported, use **")),
        3 => return Err(cur.line.error_at(stars_at, "full-text indexing (***) was removed, use **")),
        _ => return Err(cur.line.error_at(stars_at, "too many `*` after the field name; use ** to index")),
    };
    cur.skip_ws();
    if !cur.eat('=') {
        let message = match cur.peek() {
            Some(c) => format!("unexpected `{c}` after field name `{name}`; expected `=`"),
            None => format!("expected `=` after field name `{name}`, as in `{name} = default (TYPE)`"),
        };
        return Err(cur.error(message));
    }
    cur.skip_ws();
    Ok(Head { name: name.to_string(), at, unique, indexed })
}

/// A quoted default, or the text up to `(` or `!` (none if that is empty).
fn default_part(cur: &mut Cursor) -> Result<Option<RawDefault>, SchemaError> {
    let at = cur.pos;
    let quote = cur.peek().filter(|c| *c == '"' || *c == '\'');
    let Some(quote) = quote else {
        let text = cur.take_while(|c| c != '(' && c != '!').trim_end();
        return Ok((!text.is_empty()).then(|| RawDefault { text: text.to_string(), quoted: false, at }));
    };
    cur.pos += 1;
    // split_comment has checked that every quote is closed.
    let text = cur.take_while(|c| c != quote);
    cur.pos += 1;
    cur.skip_ws();
    if !(cur.at_end() || cur.peek() == Some('(') || cur.peek() == Some('!')) {
        return Err(cur.error("unexpected text after the quoted default; expected `(TYPE)`"));
    }
    Ok(Some(RawDefault { text: text.to_string(), quoted: true, at }))
}

/// `(TYPE)`, if present.
fn type_part(cur: &mut Cursor) -> Result<Option<TypeText>, SchemaError> {
    let open = cur.pos;
    if !cur.eat('(') {
        return Ok(None);
    }
    let text = cur.take_while(|c| c != ')');
    if !cur.eat(')') {
        return Err(cur.line.error_at(open, "missing `)` after the type"));
    }
    if text.trim().is_empty() {
        return Err(cur.line.error_at(open, "empty type `()`; write e.g. (S) or (I)"));
    }
    cur.skip_ws();
    Ok(Some(TypeText { text: text.trim().to_string(), at: open }))
}

/// `!url`, if present; nothing may follow it.
fn pointer_part(cur: &mut Cursor) -> Result<Option<(String, usize)>, SchemaError> {
    if cur.at_end() {
        return Ok(None);
    }
    let at = cur.pos;
    if !cur.eat('!') {
        return Err(cur.error(format!("unexpected `{}` after the type", cur.rest().trim())));
    }
    cur.skip_ws();
    let url = cur.rest().trim();
    if !valid_url(url) {
        return Err(cur.error(bad_url_message(url)));
    }
    Ok(Some((url.to_string(), at)))
}

/// The field's kind, from its `(TYPE)` or else guessed from the default.
fn field_kind(
    line: &Line,
    head: &Head,
    type_text: Option<&TypeText>,
    pointer: Option<(String, usize)>,
    default: Option<&RawDefault>,
) -> Result<Kind, SchemaError> {
    let spec = match type_text {
        Some(t) => kind::resolve(&t.text).map_err(|message| line.error_at(t.at, message))?,
        None => guess(line, head, default)?,
    };
    let type_at = type_text.map_or(head.at, |t| t.at);
    if spec.base == Base::Object {
        let Some((url, _)) = pointer else {
            let code = if spec.list { "LO" } else { "O" };
            let message = format!("({code}) needs the url of the embedded schema, as in `({code}) !my.sub.schema.1`");
            return Err(line.error_at(type_at, message));
        };
        let object = Kind::Object(url);
        return Ok(if spec.list { Kind::List(Box::new(object)) } else { object });
    }
    if let Some((_, at)) = pointer {
        return Err(line.error_at(at, "`!url` is only allowed after (O) or (LO)"));
    }
    let item = match spec.base.simple_kind() {
        Some(kind) => kind,
        None => enum_kind(line, head, default)?,
    };
    Ok(if spec.list { Kind::List(Box::new(item)) } else { item })
}

/// The original's rule for a field without `(TYPE)`.
fn guess(line: &Line, head: &Head, default: Option<&RawDefault>) -> Result<TypeSpec, SchemaError> {
    let name = &head.name;
    let Some(raw) = default else {
        let message = format!("field `{name}` has no type and no default to guess it from; write `{name} = (S)`");
        return Err(line.error_at(head.at, message));
    };
    let text = raw.text.as_str();
    let base = if raw.quoted {
        Base::String
    } else if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
        Base::Bool
    } else if text == "[]" {
        return Ok(TypeSpec { list: true, base: Base::String });
    } else if text.parse::<i64>().is_ok() {
        Base::Int
    } else if text.contains('.') && text.parse::<f64>().is_ok_and(f64::is_finite) {
        Base::Float
    } else {
        let message = format!("cannot guess the type of default `{text}` for field `{name}`; add a (TYPE)");
        return Err(line.error_at(raw.at, message));
    };
    Ok(TypeSpec { list: false, base })
}

/// `"red,green,blue" (E)`: the values, upper-cased, in the order given.
fn enum_kind(line: &Line, head: &Head, default: Option<&RawDefault>) -> Result<Kind, SchemaError> {
    let name = &head.name;
    let Some(raw) = default else {
        let message = format!("enum field `{name}` needs its values as default, as in `{name} = \"red,green\" (E)`");
        return Err(line.error_at(head.at, message));
    };
    let mut values: Vec<String> = Vec::new();
    for value in raw.text.split(',').map(str::trim) {
        if value.is_empty() {
            return Err(line.error_at(raw.at, format!("empty value in the enum list of field `{name}`")));
        }
        if !value.chars().all(is_name_char) {
            let message = format!("enum value `{value}` of field `{name}` must be letters, digits or `_`");
            return Err(line.error_at(raw.at, message));
        }
        let upper = value.to_ascii_uppercase();
        if values.contains(&upper) {
            return Err(line.error_at(raw.at, format!("enum value `{upper}` of field `{name}` is listed twice")));
        }
        values.push(upper);
    }
    Ok(Kind::Enum(values))
}

/// Parses and normalizes a default for `kind` (not an enum: its default is its first value).
fn default_value(line: &Line, name: &str, kind: &Kind, raw: &RawDefault) -> Result<Value, SchemaError> {
    let bad = |tail: String| {
        let message = format!("bad default `{}` for field `{name}` {}: {tail}", raw.text, kind_text(kind));
        line.error_at(raw.at, message)
    };
    match kind {
        Kind::Object(_) => Err(bad("embedded objects take no default".into())),
        Kind::List(item) => list_default(item, raw).map_err(bad),
        _ => coerce_scalar(kind, &scalar_candidate(kind, &raw.text, raw.quoted)).map_err(bad),
    }
}

/// The JSON value a default's text stands for, before checking it against the kind.
fn scalar_candidate(kind: &Kind, text: &str, quoted: bool) -> Value {
    if quoted || kind.empty_string_allowed() {
        return Value::from(text);
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::from(text))
}

/// `[]`, `[1, 2]`, `["a", "b"]`, `[a, b]` or `a,b`: every item checked against the item kind.
fn list_default(item: &Kind, raw: &RawDefault) -> Result<Value, String> {
    let text = raw.text.trim();
    let inner = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    if inner.trim().is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    if matches!(item, Kind::Object(_)) {
        return Err("a list of embedded objects takes no default but []".into());
    }
    let items: Vec<(String, bool)> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(values)) if !raw.quoted => values.into_iter().map(|v| (json_item_text(v), false)).collect(),
        _ => inner.split(',').map(|part| split_item(part.trim())).collect(),
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, (text, quoted)) in items.into_iter().enumerate() {
        let candidate = scalar_candidate(item, &text, quoted);
        out.push(coerce_scalar(item, &candidate).map_err(|e| format!("item [{index}] {e}"))?);
    }
    Ok(Value::Array(out))
}

/// A JSON array item back to default text: strings lose their quotes, the rest stays JSON.
fn json_item_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// One comma-separated item: its text without quotes, and whether it had them.
fn split_item(part: &str) -> (String, bool) {
    let inner = unquote(part);
    (inner.to_string(), inner.len() != part.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_respect_quotes() {
        let line = Line { number: 1, text: r#"a = "x # y" (S) # real"# };
        assert_eq!(split_comment(&line).unwrap(), (16, Some("real".into())));
        let line = Line { number: 1, text: "a = 'x (S)" };
        assert_eq!(split_comment(&line).unwrap_err().column, Some(5));
    }

    #[test]
    fn ordinals_are_skipped() {
        let schema = parse("@url = a.b\n 3: size = 5 (I)\n").unwrap();
        assert_eq!(schema.fields[0].name, "size");
    }

    #[test]
    fn bom_and_crlf_are_accepted() {
        let schema = parse("\u{feff}@url = a.b\r\nsize = 5 (I) # n\r\n").unwrap();
        assert_eq!(schema.url, "a.b");
        assert_eq!(schema.fields[0].comment.as_deref(), Some("n"));
    }

    #[test]
    fn columns_count_characters() {
        let err = parse("@url = a.b\nx = \"é\" (Q)").unwrap_err();
        assert_eq!((err.line, err.column), (2, Some(9)));
    }
}
