//! The HTTP API's JSON shapes, shared by the server and the client so they cannot drift.
//!
//! | method and path | body / query | answer |
//! |---|---|---|
//! | `GET /v1/checkpoint` | | [`Checkpoint`](crate::checkpoint::Checkpoint) |
//! | `GET /v1/consistency?from=M&to=N` | | [`ConsistencyProof`] |
//! | `GET /v1/leaves?from=A&to=B` | at most [`MAX_LEAVES`] | [`Leaves`] |
//! | `POST /v1/entries` | an entry's canonical bytes | 201 [`Receipt`](crate::ledger::Receipt), or 202 [`PendingStatus`] |
//! | `POST /v1/batch` | entries, each as u32 BE length then bytes, at most [`MAX_BATCH`] | 200 with one [`BatchItem`] per entry, in order |
//! | `GET /v1/pending/{hash}` | | [`PendingStatus`] with the entry |
//! | `POST /v1/pending/{hash}/signatures` | [`Signed`](crate::revision::Signed) | as `POST /v1/entries` |
//! | `GET /v1/entries/{index}?size=N` | | [`Proved`] |
//! | `GET /v1/objects/{id}?at=A&size=N` | | [`Proved`] |
//! | `GET /v1/objects/{id}/history?at=A&size=N` | | [`ProvedList`] |
//! | `GET /v1/find?schema=URL&field=F&value=V&at=A&size=N` | | [`ProvedList`] |
//! | `GET /v1/schemas/{url}?size=N` | | [`Proved`] (the schema's current revision) |
//!
//! `at` asks for the state as of a past log size; `size` names the tree size the proofs are for
//! (the size of a checkpoint the client verified; default: the current size). Errors are
//! [`ApiError`] with a 4xx/5xx status. Reads of private objects need a signed request
//! ([`crate::auth`]); the audit endpoints and entry submission do not (an entry is signed itself,
//! and a replayed one is refused as a duplicate).

use serde::{Deserialize, Serialize};

use crate::checkpoint::{hex_hash, hex_hashes};
use crate::revision::Hash;

/// Most leaf hashes returned by one `GET /v1/leaves`.
pub const MAX_LEAVES: u64 = 65_536;

/// Most entries in one `POST /v1/batch`.
pub const MAX_BATCH: usize = 1024;

/// Largest `POST /v1/batch` body.
pub const MAX_BATCH_BYTES: usize = 32 << 20;

/// The outcome of one entry of a batch: exactly one of `receipt`, `pending`, `error` is set, and
/// `status` is the code a single `POST /v1/entries` would have answered.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchItem {
    /// 201 accepted, 202 pending, 4xx/5xx refused.
    pub status: u16,
    /// Set when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<crate::ledger::Receipt>,
    /// Set when waiting for signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingStatus>,
    /// Set when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Frames entries for `POST /v1/batch`.
pub fn frame_batch<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&(e.len() as u32).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// Splits a `POST /v1/batch` body into entries.
pub fn split_batch(body: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut rest = body;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if out.len() == MAX_BATCH {
            return Err(format!("a batch holds at most {MAX_BATCH} entries"));
        }
        let (len, tail) = rest.split_first_chunk::<4>().ok_or("a batch frame is cut inside its length")?;
        let len = u32::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return Err("a batch frame is longer than the body".into());
        }
        out.push(&tail[..len]);
        rest = &tail[len..];
    }
    Ok(out)
}

/// An error answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong and what to do about it.
    pub error: String,
}

/// A consistency proof between two sizes.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// The RFC 6962 proof.
    #[serde(with = "hex_hashes")]
    pub proof: Vec<Hash>,
}

/// A run of leaf hashes.
#[derive(Debug, Serialize, Deserialize)]
pub struct Leaves {
    /// Index of the first.
    pub from: u64,
    /// The hashes.
    #[serde(with = "hex_hashes")]
    pub hashes: Vec<Hash>,
}

/// A log entry with its inclusion proof.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proved {
    /// Its log index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The entry's canonical bytes, hex: the client decodes these itself.
    pub entry: String,
    /// The inclusion proof.
    #[serde(with = "hex_hashes")]
    pub proof: Vec<Hash>,
}

/// Several proved entries, all against the same tree size.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProvedList {
    /// The tree size of every proof.
    pub size: u64,
    /// The entries.
    pub entries: Vec<Proved>,
}

/// An entry waiting for more multisig signatures.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingStatus {
    /// The revision hash to sign.
    #[serde(with = "hex_hash")]
    pub hash: Hash,
    /// Distinct valid signers so far.
    pub have: u32,
    /// The quorum.
    pub need: u32,
    /// The entry's bytes, hex (so co-signers can read what they sign).
    pub entry: String,
}
