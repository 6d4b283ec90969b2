//! BCDB, the blockchain database: every write is an immutable, signed revision appended to an
//! RFC 6962 Merkle log, so anyone holding a checkpoint can prove what the database said and that
//! it never rewrote its past.
//!
//! Where things live:
//!
//! ```text
//! revision.rs    the revision and entry types and their canonical bytes (what is signed and hashed)
//! store/         where entries live: segment files (default) or a sequential zdb namespace
//! index.rs       the derived sqlite index (current state, fields, state as of a past log size)
//! ledger.rs      the rules an append must pass, reads, proofs, signed checkpoints
//! checkpoint.rs  signed (size, root) statements
//! auth.rs        signed HTTP requests (method, path, body hash, time, nonce) and replay refusal
//! api.rs         the JSON shapes of the HTTP API, shared by server and client
//! server.rs      `bcdb serve`: the HTTP API over a ledger, group commit, pending multisig entries
//! client.rs      the verifying client: checks every proof against the checkpoint it trusts
//! verify.rs      offline verification of a store (every entry, signature, chain, checkpoint)
//! cli.rs         the `bcdb` command line
//! ```

pub mod api;
pub mod auth;
pub mod checkpoint;
pub mod cli;
pub mod client;
pub mod index;
pub mod ledger;
pub mod revision;
pub mod server;
pub mod store;
pub mod verify;

/// Parses 64 hex characters into a 32-byte hash, with an error that says what was expected.
pub fn parse_hash(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|_| format!("`{text}` is not hex; expected 64 hex characters"))?;
    bytes.try_into().map_err(|_| format!("`{text}` is not 32 bytes; expected 64 hex characters"))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
