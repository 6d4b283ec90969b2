//! Signed checkpoints: the server's commitment "my log has `size` entries and this root".
//!
//! A client keeps the last checkpoint it verified ([`Trusted`]) and accepts a newer one only with a
//! consistency proof from it, so a server that rolls its log back, forks it, or rewrites an entry
//! is caught the next time that client talks to it.
//!
//! ## Canonical bytes (signed in `Domain::Checkpoint`)
//!
//! ```text
//! u8     format = 1
//! fixed  origin: the server's public key (32)
//! u64    size: number of log entries covered
//! fixed  root: RFC 6962 root over those entries (32)
//! u64    timestamp, milliseconds since the Unix epoch
//! ```

use identity::{Domain, Encoder, Identity, PublicKey, Signature};
use serde::{Deserialize, Serialize};

use crate::revision::Hash;

/// A log size and root, signed by the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The server key that signed it: a checkpoint is only meaningful for one log.
    pub origin: PublicKey,
    /// Entries covered.
    pub size: u64,
    /// RFC 6962 root of the first `size` entries, hex.
    #[serde(with = "hex_hash")]
    pub root: Hash,
    /// When it was signed (milliseconds since the epoch).
    pub timestamp_ms: u64,
    /// The server's signature over the canonical bytes.
    pub signature: Signature,
}

impl Checkpoint {
    fn message(origin: &PublicKey, size: u64, root: &Hash, timestamp_ms: u64) -> Vec<u8> {
        let mut e = Encoder::new();
        e.u8(1).fixed(origin.as_bytes()).u64(size).fixed(root).u64(timestamp_ms);
        e.finish()
    }

    /// Signs a checkpoint for a log of `size` entries with `root`.
    pub fn sign(server: &Identity, size: u64, root: Hash, timestamp_ms: u64) -> Checkpoint {
        let origin = server.public_key();
        let signature = server.sign(Domain::Checkpoint, &Self::message(&origin, size, &root, timestamp_ms));
        Checkpoint { origin, size, root, timestamp_ms, signature }
    }

    /// Checks the signature (by `origin`).
    pub fn verify_signature(&self) -> Result<(), identity::Error> {
        let message = Self::message(&self.origin, self.size, &self.root, self.timestamp_ms);
        self.origin.verify(Domain::Checkpoint, &message, &self.signature)
    }
}

/// Serde for 32-byte hashes as lowercase hex strings (JSON APIs show hashes as hex everywhere).
pub mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the hash as hex.
    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    /// Reads 64 hex characters.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        crate::parse_hash(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde for lists of 32-byte hashes (proofs) as hex strings.
pub mod hex_hashes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes each hash as hex.
    pub fn serialize<S: Serializer>(hs: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hs.iter().map(hex::encode))
    }

    /// Reads a list of 64-hex-character strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts.iter().map(|t| crate::parse_hash(t).map_err(serde::de::Error::custom)).collect()
    }
}
