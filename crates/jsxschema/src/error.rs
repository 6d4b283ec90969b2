//! The two error types: [`SchemaError`] (parsing a schema text) and [`ValidationError`]
//! (checking a payload against a parsed schema).

/// A schema text could not be parsed. It points at the offending line (and column, when one
/// place on the line is to blame).
///
/// `Display` gives `line N: message`; [`SchemaError::render`] adds the line itself with a caret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SchemaError {
    /// 1-based line number in the schema text.
    pub line: usize,
    /// 1-based column (in characters) of the offending spot, when there is one.
    pub column: Option<usize>,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl SchemaError {
    /// An error on `line` (1-based) at `column` (1-based, in characters).
    pub fn new(line: usize, column: Option<usize>, message: impl Into<String>) -> Self {
        SchemaError { line, column, message: message.into() }
    }

    /// The error followed by the schema line it points at and, when the column is known, a caret
    /// under the offending character:
    ///
    /// ```text
    /// line 3: unknown type `(Q)`; expected one of ...
    ///     3 | size = 3 (Q)
    ///       |           ^
    /// ```
    pub fn render(&self, text: &str) -> String {
        let mut out = self.to_string();
        let Some(source) = text.lines().nth(self.line.wrapping_sub(1)) else {
            return out;
        };
        let gutter = self.line.to_string();
        let blank = " ".repeat(gutter.len());
        out.push_str(&format!("\n    {gutter} | {source}"));
        if let Some(column) = self.column {
            let pad: String =
                source.chars().take(column.saturating_sub(1)).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            out.push_str(&format!("\n    {blank} | {pad}^"));
        }
        out
    }
}

/// A payload does not match its schema.
///
/// `path` names the offending value from the payload's root: `size`, `owner.email`,
/// `items[2].size`; it is empty when the payload as a whole is wrong (not a JSON object).
/// `message` is a complete sentence that already names the path, e.g.
/// ``field `size` must be an integer, got string "abc"``; `Display` prints it as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Where the bad value is, e.g. `owner.email` or `items[2].size` (empty for the whole payload).
    pub path: String,
    /// The full explanation, naming the path.
    pub message: String,
}

impl ValidationError {
    /// ``field `<path>` <tail>``, e.g. `tail` = ``must be an integer, got string "abc"``.
    pub(crate) fn field(path: &str, tail: impl std::fmt::Display) -> Self {
        ValidationError { path: path.to_string(), message: format!("field `{path}` {tail}") }
    }
}
