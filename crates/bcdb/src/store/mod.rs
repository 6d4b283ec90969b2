//! Where the log's entries live: a trait with two backends.
//!
//! The ledger sees a store as an array of byte strings that only grows: entry `i` is the `i`-th
//! revision ever accepted. Nothing is ever rewritten. Each backend frames an entry with a CRC32C so
//! a flipped byte is reported as corruption, never returned as data; the Merkle log above it
//! catches anything the CRC cannot (a rewritten entry with a fixed-up CRC).
//!
//! - [`segments::SegmentStore`]: local append-only segment files (the embedded default).
//! - [`zdb::ZdbStore`]: a sequential-mode namespace on the project's own `zdb`.

pub mod segments;
pub mod zdb;

use std::fs::File;

/// Errors from a store. Messages name the backend and the place so an operator can act.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The operating system refused a read or write.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, and where.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Stored bytes do not match their checksum or framing: the store was damaged or tampered with.
    #[error("corrupted log entry {index}: {detail}")]
    Corrupt {
        /// The entry's position in the log.
        index: u64,
        /// What is wrong.
        detail: String,
    },
    /// An index past the end of the log.
    #[error("log entry {index} does not exist (the log has {len} entries)")]
    Missing {
        /// The index asked for.
        index: u64,
        /// The log's length.
        len: u64,
    },
    /// An entry larger than the backend can hold.
    #[error("entry of {size} bytes is larger than this store's limit of {limit} bytes")]
    TooLarge {
        /// The entry's size.
        size: usize,
        /// The backend's limit.
        limit: usize,
    },
    /// The zdb backend failed.
    #[error("zdb at {addr}: {message}")]
    Zdb {
        /// The zdb address.
        addr: String,
        /// What went wrong, without passwords.
        message: String,
    },
}

/// An append-only array of entries. Implementations keep every acknowledged entry and detect
/// damage on read.
pub trait LogStore: Send {
    /// Appends one entry and returns its index (always the previous `len()`). The bytes may sit in
    /// the OS page cache until [`LogStore::sync_file`]'s file is synced.
    fn append(&mut self, entry: &[u8]) -> Result<u64, StoreError>;

    /// Reads entry `index`, checking its checksum.
    fn read(&mut self, index: u64) -> Result<Vec<u8>, StoreError>;

    /// How many entries the log holds.
    fn len(&self) -> u64;

    /// True when the log holds no entry.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A handle to fsync, outside the ledger's lock, to make every appended entry durable (group
    /// commit). `None` when durability is the backend's business (zdb).
    fn sync_file(&self) -> Result<Option<File>, StoreError>;

    /// A one-line description for logs and `bcdb verify` (never contains a password).
    fn describe(&self) -> String;

    /// Largest entry this backend accepts.
    fn max_entry(&self) -> usize;
}

/// The frame shared by both backends: CRC32C (little-endian) of the entry, then the entry.
pub(crate) fn frame(entry: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entry.len() + 4);
    out.extend_from_slice(&crc32c::crc32c(entry).to_le_bytes());
    out.extend_from_slice(entry);
    out
}

/// Checks and strips [`frame`]'s checksum.
pub(crate) fn unframe(index: u64, framed: &[u8]) -> Result<Vec<u8>, StoreError> {
    if framed.len() < 4 {
        return Err(StoreError::Corrupt { index, detail: format!("{} bytes is shorter than a frame", framed.len()) });
    }
    let (crc, entry) = framed.split_at(4);
    let want = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    let got = crc32c::crc32c(entry);
    if want != got {
        return Err(StoreError::Corrupt { index, detail: format!("checksum {got:08x} where {want:08x} was stored") });
    }
    Ok(entry.to_vec())
}
