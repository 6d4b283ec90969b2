//! Revisions: the only thing the log ever holds.
//!
//! Every write to BCDB is a new [`Revision`] of some object: version 1 creates the object, each
//! later version links to the hash of the one before (`prev`), so an object's history is a hash
//! chain inside the Merkle log. Nothing is updated in place; "current state" is whatever the newest
//! revision of each object says, a view the index derives.
//!
//! ## Canonical bytes (identity's `Encoder`, version 1)
//!
//! The *content* of a revision, in this order:
//!
//! ```text
//! u8      format = 1
//! option  object id (32 bytes)          absent for version 1: the object id IS the v1 revision hash
//! u64     version                       1, 2, 3...
//! option  prev revision hash (32)       absent exactly for version 1
//! str     schema url
//! fixed   schema hash (32)              SHA-256 of the schema's text
//! fixed   author public key (32)
//! u64     timestamp, milliseconds since the Unix epoch (the author's claim)
//! u8      op: 0 = put, 1 = delete (a tombstone: the object ends here)
//! bytes   payload (the exact JSON bytes the author signed; empty for a delete)
//! bool    public read
//! list    grants: fixed key (32), u8 rights (bit 0 read, bit 1 write, bit 2 delete)
//! option  multisig: list of fixed signer keys (32), u32 quorum
//! ```
//!
//! The revision hash is `identity::hash(Domain::Revision, content)`. Every signature is an ed25519
//! signature in `Domain::Revision` over those 32 hash bytes, so signers sign a short, fixed-size
//! message and the domain tag keeps a revision signature from meaning anything else.
//!
//! The *entry* stored in the log (and hashed as its Merkle leaf) is:
//!
//! ```text
//! u8      entry format = 1
//! bytes   content (as above)
//! list    signatures: fixed signer key (32), fixed signature (64)
//! ```
//!
//! Signatures sit outside the content so co-signers can add theirs to the same hash; the server
//! stores only signatures it verified (the author's and the counted quorum signers').

use identity::{Decoder, Domain, Encoder, Identity, PublicKey, Signature};
use serde::{Deserialize, Serialize};

/// A 32-byte hash: revision hashes, object ids, schema hashes.
pub type Hash = [u8; 32];

/// The schema url of schema definitions themselves: a schema is a revision whose payload is the
/// schema text, so indexes can be rebuilt from the log alone.
pub const SCHEMA_URL: &str = "bcdb.schema";

/// Whether a revision writes a value or ends the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// A new value for the object.
    Put,
    /// A tombstone: the object is deleted; its history stays.
    Delete,
}

/// Rights a grant gives another twin over one object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rights {
    /// May read the object (its revisions carrying this grant).
    pub read: bool,
    /// May write new versions (not change the ACL or the multisig policy: that is the owner's).
    pub write: bool,
    /// May delete the object.
    pub delete: bool,
}

impl Rights {
    /// The `rwd` letters, `-` for a missing right, as the original BCDB printed them.
    pub fn letters(&self) -> String {
        [(self.read, 'r'), (self.write, 'w'), (self.delete, 'd')]
            .iter()
            .map(|&(on, c)| if on { c } else { '-' })
            .collect()
    }

    /// Parses letters like `rw`, `r-d`, `rwd`.
    pub fn parse(text: &str) -> Result<Rights, String> {
        let mut rights = Rights::default();
        for c in text.chars() {
            match c {
                'r' => rights.read = true,
                'w' => rights.write = true,
                'd' => rights.delete = true,
                '-' => {}
                other => return Err(format!("unknown right `{other}` in `{text}`; use letters r, w, d")),
            }
        }
        Ok(rights)
    }

    fn bits(&self) -> u8 {
        self.read as u8 | (self.write as u8) << 1 | (self.delete as u8) << 2
    }

    fn from_bits(bits: u8) -> Result<Rights, String> {
        if bits > 7 {
            return Err(format!("rights byte {bits} has unknown bits"));
        }
        Ok(Rights { read: bits & 1 != 0, write: bits & 2 != 0, delete: bits & 4 != 0 })
    }
}

/// Who besides the owner may do what with an object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// Anyone may read (the ledger's public records). Otherwise only the owner and read grants.
    pub public: bool,
    /// Per-twin grants.
    #[serde(default)]
    pub grants: Vec<Grant>,
}

/// One twin's rights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The twin's key.
    pub key: PublicKey,
    /// What it may do.
    pub rights: Rights,
}

impl Acl {
    /// The rights `key` holds (none when it has no grant).
    pub fn rights_of(&self, key: &PublicKey) -> Rights {
        self.grants.iter().filter(|g| &g.key == key).fold(Rights::default(), |acc, g| Rights {
            read: acc.read || g.rights.read,
            write: acc.write || g.rights.write,
            delete: acc.delete || g.rights.delete,
        })
    }
}

/// A multisig policy: revisions of the object are accepted only with `quorum` distinct, valid
/// signatures from `signers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multisig {
    /// Keys whose signatures count.
    pub signers: Vec<PublicKey>,
    /// How many distinct signers must sign. 0 means no co-signature is needed.
    pub quorum: u32,
}

/// The signed content of a revision (everything but the signatures).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// The object this revision belongs to; `None` for version 1 (its own hash is the object id).
    pub object: Option<Hash>,
    /// 1 for the creation, then +1 per revision.
    pub version: u64,
    /// Hash of the previous revision of the same object; `None` exactly for version 1.
    pub prev: Option<Hash>,
    /// The schema the payload follows.
    pub schema_url: String,
    /// SHA-256 of that schema's text.
    pub schema_hash: Hash,
    /// The author's key.
    pub author: PublicKey,
    /// Milliseconds since the Unix epoch, as the author claims.
    pub timestamp_ms: u64,
    /// Put or delete.
    pub op: Op,
    /// The payload's exact bytes (JSON for records, the schema text for schemas).
    pub payload: Vec<u8>,
    /// Who may read, write, delete.
    pub acl: Acl,
    /// Co-signatures this object requires, if any.
    pub multisig: Option<Multisig>,
}

/// A signer and its signature over a revision hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// Who signed.
    pub key: PublicKey,
    /// The signature over the revision hash in `Domain::Revision`.
    pub signature: Signature,
}

/// A revision with its signatures: what the log stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The signed content.
    pub revision: Revision,
    /// Signatures over [`Revision::hash`].
    pub signatures: Vec<Signed>,
}

/// Bytes that do not decode as a revision or entry.
#[derive(Debug, thiserror::Error)]
#[error("not a valid revision: {0}")]
pub struct DecodeError(pub String);

fn decode_err(e: impl std::fmt::Display) -> DecodeError {
    DecodeError(e.to_string())
}

impl Revision {
    /// The canonical content bytes (see the module docs).
    pub fn content_bytes(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.u8(1);
        e.option(self.object.as_ref(), |e, h| {
            e.fixed(h);
        });
        e.u64(self.version);
        e.option(self.prev.as_ref(), |e, h| {
            e.fixed(h);
        });
        e.str(&self.schema_url).fixed(&self.schema_hash).fixed(self.author.as_bytes());
        e.u64(self.timestamp_ms).u8(match self.op {
            Op::Put => 0,
            Op::Delete => 1,
        });
        e.bytes(&self.payload).bool(self.acl.public);
        e.list(self.acl.grants.iter(), |e, g| {
            e.fixed(g.key.as_bytes()).u8(g.rights.bits());
        });
        e.option(self.multisig.as_ref(), |e, m| {
            e.list(m.signers.iter(), |e, k| {
                e.fixed(k.as_bytes());
            });
            e.u32(m.quorum);
        });
        e.finish()
    }

    /// The revision hash: what signatures sign, what `prev` links to, and (for version 1) the
    /// object id.
    pub fn hash(&self) -> Hash {
        identity::hash(Domain::Revision, &self.content_bytes())
    }

    /// The object id: `object`, or this revision's own hash for version 1.
    pub fn object_id(&self) -> Hash {
        self.object.unwrap_or_else(|| self.hash())
    }

    /// Signs this revision with `who`.
    pub fn sign(&self, who: &Identity) -> Signed {
        Signed { key: who.public_key(), signature: who.sign(Domain::Revision, &self.hash()) }
    }

    /// Parses canonical content bytes.
    pub fn decode(bytes: &[u8]) -> Result<Revision, DecodeError> {
        let mut d = Decoder::new(bytes);
        let format = d.u8().map_err(decode_err)?;
        if format != 1 {
            return Err(DecodeError(format!("unknown revision format {format}")));
        }
        let object = read_option_hash(&mut d)?;
        let version = d.u64().map_err(decode_err)?;
        let prev = read_option_hash(&mut d)?;
        let schema_url = d.str().map_err(decode_err)?.to_string();
        let schema_hash = read_hash(&mut d)?;
        let author = PublicKey(read_hash(&mut d)?);
        let timestamp_ms = d.u64().map_err(decode_err)?;
        let op = match d.u8().map_err(decode_err)? {
            0 => Op::Put,
            1 => Op::Delete,
            other => return Err(DecodeError(format!("unknown op {other}"))),
        };
        let payload = d.bytes().map_err(decode_err)?.to_vec();
        let public = d.bool().map_err(decode_err)?;
        let grants = read_list(&mut d, |d| {
            let key = PublicKey(read_hash(d)?);
            let rights = Rights::from_bits(d.u8().map_err(decode_err)?).map_err(DecodeError)?;
            Ok(Grant { key, rights })
        })?;
        let multisig = match d.u8().map_err(decode_err)? {
            0 => None,
            1 => {
                let signers = read_list(&mut d, |d| Ok(PublicKey(read_hash(d)?)))?;
                Some(Multisig { signers, quorum: d.u32().map_err(decode_err)? })
            }
            other => return Err(DecodeError(format!("bad option tag {other}"))),
        };
        d.done().map_err(decode_err)?;
        Ok(Revision {
            object,
            version,
            prev,
            schema_url,
            schema_hash,
            author,
            timestamp_ms,
            op,
            payload,
            acl: Acl { public, grants },
            multisig,
        })
    }
}

fn read_hash(d: &mut Decoder) -> Result<Hash, DecodeError> {
    d.fixed(32).map_err(decode_err)?.try_into().map_err(decode_err)
}

fn read_option_hash(d: &mut Decoder) -> Result<Option<Hash>, DecodeError> {
    match d.u8().map_err(decode_err)? {
        0 => Ok(None),
        1 => Ok(Some(read_hash(d)?)),
        other => Err(DecodeError(format!("bad option tag {other}"))),
    }
}

fn read_list<T>(
    d: &mut Decoder,
    mut item: impl FnMut(&mut Decoder) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let count = d.u32().map_err(decode_err)?;
    // Each item takes at least one byte, so a count larger than what is left is a lie.
    if count as usize > d.remaining() {
        return Err(DecodeError(format!("list of {count} items in {} bytes", d.remaining())));
    }
    (0..count).map(|_| item(d)).collect()
}

impl Entry {
    /// A revision signed by its author alone: what a single-owner write submits.
    pub fn signed_by(revision: Revision, author: &Identity) -> Entry {
        let signature = revision.sign(author);
        Entry { revision, signatures: vec![signature] }
    }

    /// The entry's canonical bytes: its Merkle leaf data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.u8(1).bytes(&self.revision.content_bytes());
        e.list(self.signatures.iter(), |e, s| {
            e.fixed(s.key.as_bytes()).fixed(&s.signature.0);
        });
        e.finish()
    }

    /// Parses entry bytes read from the log.
    pub fn decode(bytes: &[u8]) -> Result<Entry, DecodeError> {
        let mut d = Decoder::new(bytes);
        let format = d.u8().map_err(decode_err)?;
        if format != 1 {
            return Err(DecodeError(format!("unknown entry format {format}")));
        }
        let revision = Revision::decode(d.bytes().map_err(decode_err)?)?;
        let signatures = read_list(&mut d, |d| {
            let key = PublicKey(read_hash(d)?);
            let sig: [u8; 64] = d.fixed(64).map_err(decode_err)?.try_into().map_err(decode_err)?;
            Ok(Signed { key, signature: Signature(sig) })
        })?;
        d.done().map_err(decode_err)?;
        Ok(Entry { revision, signatures })
    }

    /// Whether the entry carries a valid signature by its revision's author over `hash` (the
    /// revision's hash): the one check every reader of the log makes.
    pub fn author_signed(&self, hash: &Hash) -> bool {
        let author = self.revision.author;
        self.signatures.iter().any(|s| s.key == author && author.verify(Domain::Revision, hash, &s.signature).is_ok())
    }

    /// The Merkle leaf hash of this entry.
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.to_bytes())
    }
}
