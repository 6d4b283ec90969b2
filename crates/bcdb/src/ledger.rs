//! The ledger: the log (a [`LogStore`]), its Merkle tree, the derived index, and the rules every
//! revision must pass before it is appended.
//!
//! ## The rules of an append (checked in this order)
//!
//! 1. The entry decodes; the author's signature over the revision hash verifies. Other signatures
//!    that do not verify, repeat a signer, or come from keys outside the multisig policy are
//!    dropped: they never count and are never stored ([`Ledger::prepare`], outside the lock).
//! 2. The revision is not already in the log.
//! 3. The schema is registered (by hash) under the revision's url and the payload validates;
//!    schema revisions must parse.
//! 4. Version 1 starts a chain; version n+1 names the object's current head as `prev`. Nothing
//!    follows a tombstone.
//! 5. The author may do it: the owner (author of version 1) may do anything; others need the
//!    head's write (put) or delete (delete) grant, and only the owner changes the ACL or policy.
//! 6. Unique fields stay unique among current objects.
//! 7. The policy in force (the head's, or the revision's own for version 1) gets its quorum of
//!    distinct valid signers. Short of it, the server keeps the entry pending (see `server`).
//!
//! ## Invariants
//!
//! - The store, the tree and the index describe the same log: entry `i` of the store is leaf `i`
//!   of the tree and row `idx = i` of the index. The index may lag after a crash and is caught up
//!   at open; if a write to the index fails after the store accepted an entry, the ledger refuses
//!   further writes until it is reopened (which catches up).
//! - The log never shrinks below the last checkpoint this server signed (`checkpoint.json`): at
//!   open, a shorter log or a different root for that size is refused as loss or tampering.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use identity::{Domain, Identity, PublicKey};
use jsxschema::{IndexValue, Schema};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::checkpoint::Checkpoint;
use crate::index::{Applied, Head, Index, IndexError};
use crate::revision::{Entry, Hash, Op, Revision, Signed, SCHEMA_URL};
use crate::store::{LogStore, StoreError};

/// Largest payload accepted in a revision.
pub const MAX_PAYLOAD: usize = 4 << 20;

/// Why the ledger refused or failed. The server maps each kind to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The request is malformed or breaks a rule that the author can fix.
    #[error("{0}")]
    Invalid(String),
    /// The author is not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such object, revision or entry.
    #[error("{0}")]
    NotFound(String),
    /// The write conflicts with the log's current state (stale prev, duplicate, unique value taken).
    #[error("{0}")]
    Conflict(String),
    /// Not enough distinct valid signers yet.
    #[error("multisig quorum not met: {have} of {need} required signers have signed revision {}", hex::encode(.hash))]
    QuorumNotMet {
        /// Distinct valid signers so far.
        have: u32,
        /// The quorum.
        need: u32,
        /// The revision's hash, to which more signatures can be added.
        hash: Hash,
        /// The entry as checked (valid signatures only), to keep while more signatures come.
        entry: Box<Entry>,
    },
    /// The store failed or holds damaged data.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The log disagrees with what this server signed before: lost or tampered entries.
    #[error("{0}")]
    Tampered(String),
}

type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// A decoded entry whose signatures have been checked (outside the ledger's lock).
pub struct Prepared {
    /// The entry, keeping only signatures that verified, one per signer.
    pub entry: Entry,
    /// Its revision hash.
    pub hash: Hash,
}

/// What an accepted append returns.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// Log index of the new entry.
    pub index: u64,
    /// Revision hash.
    #[serde(with = "crate::checkpoint::hex_hash")]
    pub hash: Hash,
    /// Object id.
    #[serde(with = "crate::checkpoint::hex_hash")]
    pub object: Hash,
    /// Version.
    pub version: u64,
}

/// An entry read from the log together with what is needed to prove it.
pub struct Found {
    /// Log index.
    pub index: u64,
    /// The entry's bytes exactly as stored (the Merkle leaf data).
    pub bytes: Vec<u8>,
    /// The decoded entry.
    pub entry: Entry,
}

/// The ledger. Not thread-safe by itself: the server keeps it behind a mutex.
pub struct Ledger {
    store: Box<dyn LogStore>,
    tree: merkle::Tree,
    index: Index,
    /// Parsed schemas by hash of their text.
    schemas: HashMap<Hash, Arc<Schema>>,
    /// Newest schema hash per url (for embedded objects).
    schema_urls: HashMap<String, Hash>,
    server: Identity,
    dir: PathBuf,
    checkpoint: Option<Checkpoint>,
    poisoned: bool,
    /// Held for the ledger's lifetime: one process per data directory.
    _lock: DirLock,
}

/// SHA-256 of bytes (schema hashes).
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

fn invalid(msg: impl Into<String>) -> LedgerError {
    LedgerError::Invalid(msg.into())
}

impl Ledger {
    /// Opens the ledger over `store`, with the index, server key and checkpoint in `dir`. Reads
    /// the whole log once to rebuild the tree, catches the index up, and checks the log against
    /// the last checkpoint this server signed.
    pub fn open(dir: &Path, store: Box<dyn LogStore>) -> Result<Ledger> {
        let lock = DirLock::acquire(dir)?;
        Self::open_locked(dir, store, lock, false)
    }

    /// [`Ledger::open`] for a caller that took the directory's lock before opening the store (so
    /// that opening a store, which may cut a torn tail, never races another process). With
    /// `reindex`, the index is thrown away first and rebuilt from the log (`bcdb reindex`).
    pub fn open_locked(dir: &Path, store: Box<dyn LogStore>, lock: DirLock, reindex: bool) -> Result<Ledger> {
        if reindex {
            for name in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
                let path = dir.join(name);
                if let Err(e) = fs::remove_file(&path) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        return Err(io_error(&path, e));
                    }
                }
            }
        }
        let server = load_or_create_key(&dir.join("server-identity.json"))?;
        let index_path = dir.join("index.sqlite");
        // A missing index over a non-empty log is rebuilt in bulk (no journal, one transaction).
        let index = if index_path.exists() || store.is_empty() {
            Index::open(&index_path)?
        } else {
            Index::open_bulk(&index_path)?
        };
        let mut ledger = Ledger {
            store,
            tree: merkle::Tree::new(),
            index,
            schemas: HashMap::new(),
            schema_urls: HashMap::new(),
            server,
            dir: dir.to_path_buf(),
            checkpoint: None,
            poisoned: false,
            _lock: lock,
        };
        ledger.load_log()?;
        ledger.check_checkpoint()?;
        Ok(ledger)
    }

    /// Rebuilds the tree and schema table from the log, applying entries the index lacks.
    fn load_log(&mut self) -> Result<()> {
        let len = self.store.len();
        let applied = self.index.applied()?;
        if applied > len {
            return Err(LedgerError::Tampered(format!(
                "the index reflects {applied} entries but {} holds only {len}: log entries were lost; \
                 if that is expected, remove {} to rebuild the index",
                self.store.describe(),
                self.dir.join("index.sqlite").display()
            )));
        }
        for i in 0..len {
            let bytes = self.store.read(i)?;
            let entry = Entry::decode(&bytes).map_err(|e| LedgerError::Tampered(format!("log entry {i}: {e}")))?;
            self.tree.push(merkle::leaf_hash(&bytes));
            if entry.revision.schema_url == SCHEMA_URL && entry.revision.op == Op::Put {
                self.remember_schema(&entry.revision);
            }
            if i >= applied {
                let fields = self.index_fields(&entry.revision)?;
                self.apply_index(i, &entry, entry.revision.hash(), fields)?;
            }
        }
        self.index.commit()?;
        self.index.finish_bulk()?;
        Ok(())
    }

    /// Commits the index's batched work (the server calls it once per group commit). Only the
    /// log's durability matters for acknowledgements; this keeps replay after a crash short.
    pub fn commit_index(&mut self) -> Result<()> {
        if let Err(e) = self.index.commit() {
            self.poisoned = true;
            return Err(e.into());
        }
        Ok(())
    }

    /// Refuses a log that is shorter than, or disagrees with, the last checkpoint signed here.
    fn check_checkpoint(&mut self) -> Result<()> {
        let path = self.dir.join("checkpoint.json");
        let Ok(text) = fs::read_to_string(&path) else { return Ok(()) };
        let cp: Checkpoint = serde_json::from_str(&text)
            .map_err(|e| LedgerError::Tampered(format!("{} is damaged: {e}", path.display())))?;
        if cp.size > self.tree.len() {
            return Err(LedgerError::Tampered(format!(
                "this server signed a checkpoint of {} entries but {} holds only {}: entries were lost",
                cp.size,
                self.store.describe(),
                self.tree.len()
            )));
        }
        let root = self.tree.root_at(cp.size).map_err(|e| LedgerError::Tampered(e.to_string()))?;
        if root != cp.root {
            return Err(LedgerError::Tampered(format!(
                "the first {} log entries no longer hash to the root this server signed: the log was altered",
                cp.size
            )));
        }
        self.checkpoint = Some(cp);
        Ok(())
    }

    /// The server's public key (checkpoints are signed with it).
    pub fn server_key(&self) -> PublicKey {
        self.server.public_key()
    }

    /// Number of entries in the log.
    pub fn len(&self) -> u64 {
        self.tree.len()
    }

    /// True for an empty log.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The store, for a description and for group commit.
    pub fn store(&self) -> &dyn LogStore {
        self.store.as_ref()
    }

    /// Decodes an entry and checks its signatures. Pure and lock-free: the server calls it before
    /// taking the ledger's lock, so signature checks run on every core.
    pub fn prepare(bytes: &[u8]) -> Result<Prepared> {
        let entry = Entry::decode(bytes).map_err(|e| invalid(e.to_string()))?;
        Self::prepare_entry(entry)
    }

    /// [`Ledger::prepare`] for an entry already decoded.
    pub fn prepare_entry(mut entry: Entry) -> Result<Prepared> {
        if entry.revision.payload.len() > MAX_PAYLOAD {
            return Err(invalid(format!(
                "payload of {} bytes is larger than the limit of {MAX_PAYLOAD} bytes",
                entry.revision.payload.len()
            )));
        }
        let hash = entry.revision.hash();
        let mut seen = Vec::new();
        entry.signatures.retain(|s| {
            let fresh = !seen.contains(&s.key) && s.key.verify(Domain::Revision, &hash, &s.signature).is_ok();
            if fresh {
                seen.push(s.key);
            }
            fresh
        });
        if !seen.contains(&entry.revision.author) {
            return Err(LedgerError::Forbidden(format!(
                "revision {} carries no valid signature by its author {}",
                hex::encode(hash),
                entry.revision.author
            )));
        }
        Ok(Prepared { entry, hash })
    }

    /// Appends a prepared entry if it passes every rule (see the module docs).
    pub fn append(&mut self, prepared: Prepared) -> Result<Receipt> {
        if self.poisoned {
            return Err(LedgerError::Tampered(
                "an earlier index write failed; restart the server to catch the index up".into(),
            ));
        }
        let Prepared { mut entry, hash } = prepared;
        if let Some(at) = self.index.revision_index(&hash)? {
            return Err(LedgerError::Conflict(format!("revision {} is already in the log at {at}", hex::encode(hash))));
        }
        let rev = &entry.revision;
        let fields = self.validate_payload(rev)?;
        let object = rev.object.unwrap_or(hash);
        let policy = self.check_chain_and_rights(rev)?;
        self.check_unique(rev, &object, &fields)?;
        let counted = count_signers(&entry.signatures, policy.as_ref());
        if let Some(p) = &policy {
            if counted < p.quorum {
                return Err(LedgerError::QuorumNotMet { have: counted, need: p.quorum, hash, entry: Box::new(entry) });
            }
        }
        let author = entry.revision.author;
        entry.signatures.retain(|s| s.key == author || policy.as_ref().is_some_and(|p| p.signers.contains(&s.key)));
        let bytes = entry.to_bytes();
        let index = self.store.append(&bytes)?;
        self.tree.push(merkle::leaf_hash(&bytes));
        if entry.revision.schema_url == SCHEMA_URL {
            self.remember_schema(&entry.revision);
        }
        if let Err(e) = self.apply_index(index, &entry, hash, fields) {
            self.poisoned = true;
            return Err(e);
        }
        Ok(Receipt { index, hash, object, version: entry.revision.version })
    }

    /// Validates the payload against its schema; returns the fields to index.
    fn validate_payload(&self, rev: &Revision) -> Result<Vec<(String, IndexValue, bool)>> {
        if rev.op == Op::Delete {
            if !rev.payload.is_empty() {
                return Err(invalid("a delete revision carries no payload"));
            }
            return Ok(Vec::new());
        }
        if rev.schema_url == SCHEMA_URL {
            let schema = parse_schema_payload(rev)?;
            if rev.schema_hash != schema.hash {
                return Err(invalid("a schema revision's schema_hash must be the SHA-256 of its text"));
            }
            return Ok(vec![("url".into(), IndexValue::Text(schema.url), true)]);
        }
        let schema = self.schema(&rev.schema_hash, &rev.schema_url)?;
        let payload: Value =
            serde_json::from_slice(&rev.payload).map_err(|e| invalid(format!("payload is not valid JSON: {e}")))?;
        let normalized = schema
            .validate(&payload, &|url| self.schema_by_url(url))
            .map_err(|e| invalid(format!("payload does not match schema {}: {e}", rev.schema_url)))?;
        Ok(schema.index_entries(&normalized))
    }

    /// The registered schema with this hash, which must be registered under `url`.
    pub fn schema(&self, hash: &Hash, url: &str) -> Result<Arc<Schema>> {
        let schema = self.schemas.get(hash).ok_or_else(|| {
            invalid(format!(
                "schema {} ({url}) is not registered here; register it first with `bcdb schema add FILE`",
                hex::encode(hash)
            ))
        })?;
        if schema.url != url {
            return Err(invalid(format!(
                "schema {} is registered for url {}, not {url}",
                hex::encode(hash),
                schema.url
            )));
        }
        Ok(schema.clone())
    }

    /// The newest registered schema for a url.
    pub fn schema_by_url(&self, url: &str) -> Option<Schema> {
        self.schema_urls.get(url).and_then(|h| self.schemas.get(h)).map(|s| (**s).clone())
    }

    fn remember_schema(&mut self, rev: &Revision) {
        if let Ok(schema) = parse_schema_payload(rev) {
            self.schema_urls.insert(schema.url.clone(), rev.schema_hash);
            self.schemas.insert(rev.schema_hash, Arc::new(schema));
        }
    }

    /// Rules 4 and 5; returns the multisig policy in force.
    fn check_chain_and_rights(&mut self, rev: &Revision) -> Result<Option<crate::revision::Multisig>> {
        if rev.version == 1 {
            if rev.object.is_some() || rev.prev.is_some() {
                return Err(invalid("version 1 starts an object: it has no object id and no prev"));
            }
            if rev.op == Op::Delete {
                return Err(invalid("version 1 cannot be a delete"));
            }
            check_policy_shape(rev)?;
            return Ok(rev.multisig.clone().filter(|m| m.quorum > 0));
        }
        let (Some(object), Some(prev)) = (rev.object, rev.prev) else {
            return Err(invalid(format!("version {} needs the object id and the prev revision hash", rev.version)));
        };
        let head = self
            .index
            .head(&object)?
            .ok_or_else(|| LedgerError::NotFound(format!("object {} does not exist", hex::encode(object))))?;
        check_head(&head, rev, &prev)?;
        let current = self.read(head.idx)?.entry.revision;
        if current.schema_url != rev.schema_url {
            return Err(invalid(format!(
                "object {} follows schema {}, not {}",
                hex::encode(object),
                current.schema_url,
                rev.schema_url
            )));
        }
        let owner = PublicKey(self.index.owner(&object)?.expect("an object with a head has an owner"));
        if rev.author != owner {
            let rights = current.acl.rights_of(&rev.author);
            let (allowed, what) = match rev.op {
                Op::Put => (rights.write, "write"),
                Op::Delete => (rights.delete, "delete"),
            };
            if !allowed {
                return Err(LedgerError::Forbidden(format!(
                    "{} may not {what} object {}: it is not the owner and has no {what} grant",
                    rev.author,
                    hex::encode(object)
                )));
            }
            if rev.acl != current.acl || rev.multisig != current.multisig {
                return Err(LedgerError::Forbidden(
                    "only the owner may change an object's ACL or multisig policy".into(),
                ));
            }
        }
        check_policy_shape(rev)?;
        Ok(current.multisig.filter(|m| m.quorum > 0))
    }

    /// Rule 6.
    fn check_unique(&self, rev: &Revision, object: &Hash, fields: &[(String, IndexValue, bool)]) -> Result<()> {
        for (field, value, unique) in fields {
            // An empty text is "not set" (the schema's zero value), not a value to reserve.
            if !unique || matches!(value, IndexValue::Text(t) if t.is_empty()) {
                continue;
            }
            if let Some(holder) = self.index.unique_holder(&rev.schema_url, field, value, Some(object))? {
                return Err(LedgerError::Conflict(format!(
                    "{}: field `{field}` = {} is unique and already used by object {}",
                    rev.schema_url,
                    describe_value(value),
                    hex::encode(holder)
                )));
            }
        }
        Ok(())
    }

    fn index_fields(&self, rev: &Revision) -> Result<Vec<(String, IndexValue, bool)>> {
        // Entries already in the log were valid when appended; a schema that no longer parses or
        // a payload that no longer validates would be a bug, indexed as field-less.
        Ok(self.validate_payload(rev).unwrap_or_default())
    }

    /// Records entry `idx` (whose revision hash is `hash`) in the index.
    fn apply_index(
        &mut self,
        idx: u64,
        entry: &Entry,
        hash: Hash,
        fields: Vec<(String, IndexValue, bool)>,
    ) -> Result<()> {
        let rev = &entry.revision;
        self.index.apply(&Applied {
            idx,
            hash,
            object: rev.object.unwrap_or(hash),
            version: rev.version,
            schema_url: &rev.schema_url,
            author: *rev.author.as_bytes(),
            op: rev.op,
            fields,
        })?;
        Ok(())
    }

    /// Reads and decodes entry `index`.
    pub fn read(&mut self, index: u64) -> Result<Found> {
        let bytes = self.store.read(index)?;
        let entry = Entry::decode(&bytes).map_err(|e| LedgerError::Tampered(format!("log entry {index}: {e}")))?;
        Ok(Found { index, bytes, entry })
    }

    /// The object's revision current at log size `at` (now when `None`).
    pub fn get(&mut self, object: &Hash, at: Option<u64>) -> Result<Found> {
        let at = self.check_size(at)?;
        let head = self.index.state_at(object, at)?.ok_or_else(|| {
            LedgerError::NotFound(format!("object {} does not exist at this log size", hex::encode(object)))
        })?;
        self.read(head.idx)
    }

    /// Every revision of the object, oldest first (up to log size `at`).
    pub fn history(&mut self, object: &Hash, at: Option<u64>) -> Result<Vec<Found>> {
        let at = self.check_size(at)?;
        let idxs = self.index.history(object, at)?;
        if idxs.is_empty() {
            return Err(LedgerError::NotFound(format!("object {} does not exist", hex::encode(object))));
        }
        idxs.into_iter().map(|i| self.read(i)).collect()
    }

    /// Current revisions (as of `at`) of `schema_url` objects whose indexed `field` equals `value`
    /// (given as text and converted by the field's type).
    pub fn find(&mut self, schema_url: &str, field: &str, value: &str, at: Option<u64>) -> Result<Vec<Found>> {
        let at = self.check_size(at)?;
        let value = self.query_value(schema_url, field, value)?;
        let idxs = self.index.find(schema_url, field, &value, at)?;
        idxs.into_iter().map(|i| self.read(i)).collect()
    }

    /// Converts a query's text value the way the field's type would be indexed.
    fn query_value(&self, schema_url: &str, field: &str, text: &str) -> Result<IndexValue> {
        if schema_url == SCHEMA_URL {
            return Ok(IndexValue::Text(text.to_string()));
        }
        let schema = self
            .schema_by_url(schema_url)
            .ok_or_else(|| LedgerError::NotFound(format!("no schema {schema_url} is registered")))?;
        let spec = schema
            .fields
            .iter()
            .find(|f| f.name == field)
            .ok_or_else(|| invalid(format!("schema {schema_url} has no field `{field}`")))?;
        if !spec.indexed && !spec.unique {
            return Err(invalid(format!("field `{field}` of {schema_url} is not indexed (mark it ** in the schema)")));
        }
        let json = serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_string()));
        let candidates = [json, Value::String(text.to_string())];
        for candidate in candidates {
            let payload = Value::Object([(field.to_string(), candidate)].into_iter().collect());
            if let Ok(normalized) = schema.validate(&payload, &|url| self.schema_by_url(url)) {
                if let Some((_, v, _)) = schema.index_entries(&normalized).into_iter().find(|(f, _, _)| f == field) {
                    return Ok(v);
                }
            }
        }
        Err(invalid(format!("`{text}` is not a valid value for field `{field}` of {schema_url}")))
    }

    fn check_size(&self, at: Option<u64>) -> Result<Option<u64>> {
        match at {
            Some(n) if n > self.len() => {
                Err(LedgerError::NotFound(format!("the log has {} entries; size {n} is in the future", self.len())))
            }
            other => Ok(other),
        }
    }

    /// Whether `reader` may read this revision: public, the owner, or a read grant.
    pub fn can_read(&self, rev: &Revision, reader: Option<&PublicKey>) -> Result<bool> {
        if rev.acl.public {
            return Ok(true);
        }
        let Some(reader) = reader else { return Ok(false) };
        let owner = self.index.owner(&rev.object_id())?.map(PublicKey);
        Ok(owner.as_ref() == Some(reader) || rev.author == *reader || rev.acl.rights_of(reader).read)
    }

    /// The multisig policy that governs a revision: its own for version 1, its object's current
    /// head's after that (so a revision cannot lower the bar it must pass).
    pub fn policy_in_force(&mut self, rev: &Revision) -> Result<Option<crate::revision::Multisig>> {
        match rev.object {
            Some(object) if rev.version > 1 => Ok(self.get(&object, None)?.entry.revision.multisig),
            _ => Ok(rev.multisig.clone()),
        }
    }

    /// How many of the signers the policy in force requires have signed `entry`, and how many
    /// are needed.
    pub fn quorum_status(&mut self, entry: &Entry) -> Result<(u32, u32)> {
        let policy = self.policy_in_force(&entry.revision)?;
        Ok((count_signers(&entry.signatures, policy.as_ref()), policy.map_or(0, |p| p.quorum)))
    }

    /// The owner of an object.
    pub fn owner(&self, object: &Hash) -> Result<Option<PublicKey>> {
        Ok(self.index.owner(object)?.map(PublicKey))
    }

    /// The log index of the revision with this hash.
    pub fn revision_index(&self, hash: &Hash) -> Result<Option<u64>> {
        Ok(self.index.revision_index(hash)?)
    }

    /// A checkpoint for the current log, signed by the server (re-signed only when the log grew).
    pub fn checkpoint(&mut self) -> Result<Checkpoint> {
        if let Some(cp) = &self.checkpoint {
            if cp.size == self.len() {
                return Ok(cp.clone());
            }
        }
        let cp = Checkpoint::sign(&self.server, self.len(), self.tree.root(), crate::now_ms());
        let path = self.dir.join("checkpoint.json");
        let tmp = self.dir.join("checkpoint.json.tmp");
        let text = serde_json::to_string(&cp).expect("a checkpoint serializes");
        fs::write(&tmp, text).and_then(|_| fs::rename(&tmp, &path)).map_err(|e| io_error(&path, e))?;
        self.checkpoint = Some(cp.clone());
        Ok(cp)
    }

    /// RFC 6962 inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.tree.inclusion_proof(index, size).map_err(|e| invalid(e.to_string()))
    }

    /// RFC 6962 consistency proof between two log sizes.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        self.tree.consistency_proof(from, to).map_err(|e| invalid(e.to_string()))
    }

    /// Leaf hashes `from..to` (anyone may fetch them to audit the whole tree).
    pub fn leaf_hashes(&self, from: u64, to: u64) -> Vec<Hash> {
        (from..to.min(self.len())).filter_map(|i| self.tree.leaf(i)).collect()
    }

    /// The index's full contents (for rebuild-equivalence checks).
    pub fn index_dump(&mut self) -> Result<String> {
        Ok(self.index.dump()?)
    }
}

/// Rule 4 against the current head.
fn check_head(head: &Head, rev: &Revision, prev: &Hash) -> Result<()> {
    if head.deleted {
        return Err(LedgerError::Conflict(format!(
            "the object was deleted at version {}; nothing follows a delete",
            head.version
        )));
    }
    if &head.hash != prev || rev.version != head.version + 1 {
        return Err(LedgerError::Conflict(format!(
            "stale revision: the object is at version {} (hash {}); write version {} with that prev",
            head.version,
            hex::encode(head.hash),
            head.version + 1
        )));
    }
    Ok(())
}

/// A policy must be satisfiable and name each signer once.
fn check_policy_shape(rev: &Revision) -> Result<()> {
    let Some(m) = &rev.multisig else { return Ok(()) };
    let mut signers = m.signers.clone();
    signers.sort();
    signers.dedup();
    if signers.len() != m.signers.len() {
        return Err(invalid("the multisig signer list names a key twice"));
    }
    if m.quorum as usize > m.signers.len() {
        return Err(invalid(format!("a quorum of {} out of {} signers can never be met", m.quorum, m.signers.len())));
    }
    Ok(())
}

/// Distinct policy signers among (already verified, deduplicated) signatures.
fn count_signers(signatures: &[Signed], policy: Option<&crate::revision::Multisig>) -> u32 {
    let Some(policy) = policy else { return 0 };
    signatures.iter().filter(|s| policy.signers.contains(&s.key)).count() as u32
}

fn parse_schema_payload(rev: &Revision) -> Result<Schema> {
    let text = std::str::from_utf8(&rev.payload).map_err(|_| invalid("schema text is not UTF-8"))?;
    Schema::parse(text).map_err(|e| invalid(format!("schema does not parse: {e}")))
}

fn describe_value(v: &IndexValue) -> String {
    match v {
        IndexValue::Int(i) => i.to_string(),
        IndexValue::Float(f) => f.to_string(),
        IndexValue::Text(s) => format!("{s:?}"),
        IndexValue::Bool(b) => b.to_string(),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> LedgerError {
    LedgerError::Store(StoreError::Io { context: path.display().to_string(), source: e })
}

/// `dir/lock`, held exclusively: a second server (or a `bcdb reindex`) on the same directory is
/// refused instead of corrupting the log or the index. Released when the process dies.
pub struct DirLock {
    _file: fs::File,
}

impl DirLock {
    /// Creates `dir` if needed and takes its lock, or says who holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        lock_dir(dir).map(|file| DirLock { _file: file })
    }
}

fn lock_dir(dir: &Path) -> Result<fs::File> {
    use std::os::fd::AsRawFd;
    let path = dir.join("lock");
    let file =
        fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| io_error(&path, e))?;
    // SAFETY: flock on a valid file descriptor owned by `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(invalid(format!(
            "{} is in use by another bcdb process (serve or reindex); stop it first",
            dir.display()
        )));
    }
    Ok(file)
}

/// The server's signing key: created on first start, kept in `dir` with mode 0600.
fn load_or_create_key(path: &Path) -> Result<Identity> {
    if path.exists() {
        return Identity::load(path).map_err(|e| invalid(format!("server key {}: {e}", path.display())));
    }
    let id = Identity::generate(identity::KeyScheme::TfV2);
    id.save(path).map_err(|e| invalid(format!("saving server key {}: {e}", path.display())))?;
    Ok(id)
}
