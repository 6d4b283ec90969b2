//! The one error type of this crate.
//!
//! Every message says what went wrong and, where there is one, what to do about it. No variant
//! carries secret material: a mistyped mnemonic word is reported by its position, never by its
//! text, and key files are named by path only.

use std::path::PathBuf;

/// Why an identity operation failed; shown to users as is, so each message is actionable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mnemonic does not have the 24 words a 32-byte seed needs.
    #[error("mnemonic has {0} words; a 3Bot key needs 24")]
    MnemonicWordCount(usize),

    /// A word (1-based position) is not in the English BIP39 word list.
    #[error("word {0} of the mnemonic is not in the English BIP39 word list; check its spelling")]
    MnemonicUnknownWord(usize),

    /// The words are all valid but their checksum does not match.
    #[error("mnemonic checksum does not match; a word is probably mistyped or out of order")]
    MnemonicChecksum,

    /// A key scheme name other than `tfv2` or `substrate`.
    #[error("unknown key scheme `{0}`; use `tfv2` or `substrate`")]
    UnknownScheme(String),

    /// A hex string of the wrong length or with non-hex characters.
    #[error("{what} must be {chars} hex characters")]
    BadHex {
        /// What was being parsed, e.g. "public key".
        what: &'static str,
        /// How many hex characters were expected.
        chars: usize,
    },

    /// The 32 bytes are not a usable ed25519 public key (not a curve point, or of small order).
    #[error("{0} is not a valid ed25519 public key")]
    InvalidPublicKey(String),

    /// The signature was not made over this message, in this domain, by this key.
    #[error("signature does not match the message and public key")]
    BadSignature,

    /// A sealed box that cannot be opened: wrong recipient, modified, or truncated.
    #[error("sealed box cannot be opened: it is not addressed to this identity, or it was modified or truncated")]
    Unseal,

    /// There is no identity file at the path.
    #[error("no identity at {}", .0.display())]
    NotFound(PathBuf),

    /// `save` found an identity already at the path; overwriting would lose that key.
    #[error("an identity already exists at {}; refusing to overwrite it", .0.display())]
    AlreadyExists(PathBuf),

    /// An identity file that cannot be understood.
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it and what to do.
        reason: String,
    },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// Canonically encoded bytes that do not decode.
    #[error("malformed encoding at byte {offset}: {reason}")]
    Decode {
        /// Where decoding stopped.
        offset: usize,
        /// What was expected there.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn bad_file(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Error::BadFile { path: path.to_path_buf(), reason: reason.into() }
    }
}
