//! Small shared rules (names, free text, host names) so every type words them the same way.

use crate::ValidationError;

/// Shortest twin or farm name.
pub const NAME_MIN: usize = 3;
/// Longest twin or farm name.
pub const NAME_MAX: usize = 64;
/// Longest workload name.
pub const WORKLOAD_NAME_MAX: usize = 32;
/// Longest free-text field (contract name, city, country, version).
pub const TEXT_MAX: usize = 64;
/// Longest host or address.
pub const HOST_MAX: usize = 255;

/// A twin or farm name: 3 to 64 of `a-z 0-9 . -`, so names are unambiguous in URLs, DNS-like
/// contexts and on the command line.
pub(crate) fn entity_name(field: &str, what: &str, name: &str) -> Result<(), ValidationError> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if ok_chars && (NAME_MIN..=NAME_MAX).contains(&name.len()) {
        return Ok(());
    }
    let suggestion: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' { c } else { '-' })
        .collect();
    let hint = if ok_chars || suggestion.len() < NAME_MIN || suggestion.len() > NAME_MAX {
        String::new()
    } else {
        format!(", e.g. `{suggestion}`")
    };
    Err(ValidationError::new(
        field,
        format!("{what} name `{name}` must be {NAME_MIN} to {NAME_MAX} characters of a-z, 0-9, `.` and `-`{hint}"),
    ))
}

/// A workload name: 1 to 32 of `a-z 0-9 -`; names identify a workload within its contract
/// (results, zdb namespace names) so they stay short and plain.
pub(crate) fn is_workload_name(name: &str) -> bool {
    (1..=WORKLOAD_NAME_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The message for a bad workload name, shared by contracts and results.
pub(crate) fn workload_name(field: &str, name: &str) -> Result<(), ValidationError> {
    if is_workload_name(name) {
        return Ok(());
    }
    Err(ValidationError::new(
        field,
        format!("workload name `{name}` must be 1 to {WORKLOAD_NAME_MAX} characters of a-z, 0-9 and `-`, e.g. `db1`"),
    ))
}

/// Free text shown to people: 1 to `max` characters, no control characters.
pub(crate) fn text(field: &str, what: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    let chars = value.chars().count();
    if chars == 0 || chars > max || value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            format!("{what} `{}` must be 1 to {max} characters without control characters", value.escape_debug()),
        ));
    }
    Ok(())
}

/// A host name, address or `host:port`: 1 to 255 characters, no spaces or control characters.
pub(crate) fn host(field: &str, what: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() || value.len() > HOST_MAX || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(
            field,
            format!(
                "{what} `{}` must be 1 to {HOST_MAX} characters without spaces, e.g. `10.0.0.5:9900`",
                value.escape_debug()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_names() {
        assert!(entity_name("name", "twin", "bob.3bot").is_ok());
        assert!(entity_name("name", "twin", "a-b").is_ok());
        assert!(entity_name("name", "twin", &"a".repeat(64)).is_ok());
        let msg = |n: &str| entity_name("name", "twin", n).unwrap_err().message;
        assert_eq!(
            msg("Bob 3bot"),
            "twin name `Bob 3bot` must be 3 to 64 characters of a-z, 0-9, `.` and `-`, e.g. `bob-3bot`"
        );
        assert_eq!(msg("ab"), "twin name `ab` must be 3 to 64 characters of a-z, 0-9, `.` and `-`");
        assert!(msg(&"a".repeat(65)).starts_with("twin name `aaa"));
        assert!(msg("bob_1").ends_with("e.g. `bob-1`"));
    }

    #[test]
    fn workload_names() {
        assert!(is_workload_name("db-1"));
        assert!(is_workload_name(&"x".repeat(32)));
        for bad in ["", "Db", "db.1", "db_1", &"x".repeat(33), "dé"] {
            assert!(!is_workload_name(bad), "{bad}");
        }
    }

    #[test]
    fn text_and_host() {
        assert!(text("f", "city", "Ghent", 64).is_ok());
        assert_eq!(
            text("f", "city", "a\nb", 64).unwrap_err().message,
            "city `a\\nb` must be 1 to 64 characters without control characters"
        );
        assert!(text("f", "city", "", 64).is_err());
        assert!(host("f", "address", "127.0.0.1:9900").is_ok());
        assert_eq!(
            host("f", "address", "a b").unwrap_err().message,
            "address `a b` must be 1 to 255 characters without spaces, e.g. `10.0.0.5:9900`"
        );
    }
}
