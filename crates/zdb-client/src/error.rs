//! The client's errors. No variant ever carries a password: the server's refusals do not echo
//! them, client-side checks describe a password by its length only, and the connection is opened
//! without credentials (AUTH and SELECT are ordinary commands), so `redis` errors cannot hold one.

/// Why a call failed. The variants separate what a caller does differently: retry elsewhere
/// (`Connect`), reconnect and find out what happened (`Io`), fix the request or the permissions
/// (`Server`, `TooLarge`, `InvalidKey`, `InvalidArgument`), or report a bug (`Protocol`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection could not be opened (nothing listens, timeout, bad address): no command
    /// was sent.
    #[error("cannot connect to zdb at {addr}: {source}")]
    Connect {
        /// The address as given to [`crate::Client::connect`].
        addr: String,
        /// What the `redis` crate reported.
        source: redis::RedisError,
    },
    /// The connection broke, or no reply came within [`crate::RESPONSE_TIMEOUT`]. Whether a write
    /// was applied is unknown. A broken connection stays broken (every later call fails the same
    /// way) and its session (AUTH, SELECT) is gone: connect again.
    #[error("connection to zdb at {addr} failed (the last command may or may not have been applied): {source}")]
    Io {
        /// The address of the server.
        addr: String,
        /// What the `redis` crate reported.
        source: redis::RedisError,
    },
    /// zdb refused the command; the text is zdb's own, e.g. `Permission denied`,
    /// `Access denied`, `No space left on this namespace`.
    #[error("zdb refused: {0}")]
    Server(String),
    /// zdb replied something this client does not expect for the command (a different server,
    /// or a version mismatch).
    #[error("unexpected reply from zdb: {0}")]
    Protocol(String),
    /// The value is over zdb's limit per argument ([`crate::MAX_VALUE`], 8 MiB). Refused before
    /// sending, because zdb answers an oversized argument by closing the connection.
    #[error("value of {size} bytes is larger than zdb's limit of {} bytes (8 MiB)", crate::MAX_VALUE)]
    TooLarge {
        /// The value's length in bytes.
        size: usize,
    },
    /// A user key must be 1 to [`crate::MAX_KEY`] (255) bytes.
    #[error("key of {size} bytes: zdb keys must be 1 to {} bytes", crate::MAX_KEY)]
    InvalidKey {
        /// The key's length in bytes.
        size: usize,
    },
    /// An argument zdb would refuse or misread, caught before anything is sent (so a namespace is
    /// never left half configured by a bad option).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// True when zdb refused with exactly this text (zdb's error texts carry no code prefix).
    pub fn is_server(&self, text: &str) -> bool {
        matches!(self, Error::Server(t) if t == text)
    }
}
