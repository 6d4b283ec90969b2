//! The verifying client. It trusts nothing the server says without a proof:
//!
//! - Every checkpoint must be signed by the server key the client pinned (on first use, or given).
//! - A checkpoint newer than the trusted one must come with a consistency proof from it; an older
//!   size is a rollback, the same size with another root a fork. Either is refused, and the
//!   trusted checkpoint is kept, so the evidence survives.
//! - Every entry must come with an inclusion proof against the checkpoint just verified; the client
//!   decodes the entry bytes itself and checks the author's signature, that it is the object asked
//!   for, and (for histories) that the versions chain by hash.
//!
//! The trusted checkpoint lives in a small JSON file (`--trust`, by default under
//! `~/.config/bcdb/trusted/`), one per server URL.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use identity::{Identity, PublicKey};
use serde::de::DeserializeOwned;

use crate::api::{ApiError, ConsistencyProof, Leaves, PendingStatus, Proved, ProvedList, MAX_LEAVES};
use crate::checkpoint::Checkpoint;
use crate::ledger::Receipt;
use crate::revision::{Entry, Hash, Signed};

/// An entry the client has verified: included in the log under a trusted checkpoint, signed by
/// its author.
#[derive(Clone, Debug)]
pub struct Verified {
    /// Log index.
    pub index: u64,
    /// The checkpoint size it was proved against.
    pub size: u64,
    /// The entry.
    pub entry: Entry,
}

/// The outcome of a submission.
#[derive(Debug)]
pub enum Submitted {
    /// In the log (and proved to be).
    Accepted(Receipt),
    /// Waiting for more multisig signatures.
    Pending(PendingStatus),
}

/// A client of one bcdb server.
pub struct Client {
    base: String,
    http: reqwest::blocking::Client,
    identity: Option<Identity>,
    trust_path: PathBuf,
    pinned: Option<PublicKey>,
}

/// The default trust file for a server URL.
pub fn default_trust_path(server: &str) -> PathBuf {
    let name: String = server.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("bcdb").join("trusted").join(format!("{name}.json"))
}

impl Client {
    /// A client for `server` (e.g. `http://127.0.0.1:8900`), signing requests with `identity` when
    /// given, keeping its trusted checkpoint at `trust_path`, optionally pinning the server key.
    pub fn new(server: &str, identity: Option<Identity>, trust_path: PathBuf, pinned: Option<PublicKey>) -> Client {
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Client { base: server.trim_end_matches('/').to_string(), http, identity, trust_path, pinned }
    }

    /// The identity requests are signed with.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    fn request(&self, method: reqwest::Method, path: &str, body: Vec<u8>) -> Result<reqwest::blocking::Response> {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(id) = &self.identity {
            for (name, value) in crate::auth::sign_request(id, method.as_str(), path, &body) {
                req = req.header(name, value);
            }
        }
        let resp = req.body(body).send().with_context(|| format!("cannot reach the bcdb server at {}", self.base))?;
        Ok(resp)
    }

    fn json<T: DeserializeOwned>(&self, resp: reqwest::blocking::Response) -> Result<T> {
        let status = resp.status();
        let bytes = resp.bytes()?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            bail!("server answered {status}: {msg}");
        }
        serde_json::from_slice(&bytes).context("the server's answer is not the expected JSON")
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.request(reqwest::Method::GET, path, Vec::new())?;
        self.json(resp)
    }

    /// The checkpoint this client trusts, if any.
    pub fn trusted(&self) -> Result<Option<Checkpoint>> {
        match fs::read_to_string(&self.trust_path) {
            Ok(text) => Ok(Some(
                serde_json::from_str(&text).with_context(|| format!("{} is damaged", self.trust_path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.trust_path.display())),
        }
    }

    fn save_trusted(&self, cp: &Checkpoint) -> Result<()> {
        if let Some(dir) = self.trust_path.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = self.trust_path.with_extension("tmp");
        fs::write(&tmp, serde_json::to_string_pretty(cp)?)?;
        fs::rename(&tmp, &self.trust_path)?;
        Ok(())
    }

    /// Fetches the server's checkpoint and accepts it only if it is signed by the pinned key and
    /// consistent with the trusted one; then trusts it.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let cp: Checkpoint = self.get("/v1/checkpoint")?;
        cp.verify_signature().map_err(|_| anyhow!("the server's checkpoint signature does not verify"))?;
        let trusted = self.trusted()?;
        let pinned = self.pinned.or(trusted.as_ref().map(|t| t.origin));
        if let Some(key) = pinned {
            if cp.origin != key {
                bail!("the checkpoint is signed by {} but this client trusts server key {key}", cp.origin);
            }
        }
        if let Some(t) = &trusted {
            check_consistent(t, &cp, || {
                let p: ConsistencyProof = self.get(&format!("/v1/consistency?from={}&to={}", t.size, cp.size))?;
                Ok(p.proof)
            })?;
        }
        if trusted.as_ref().is_none_or(|t| t.size != cp.size) {
            self.save_trusted(&cp)?;
        }
        Ok(cp)
    }

    /// Checks a proved entry against a verified checkpoint and decodes it.
    fn verify_proved(&self, p: &Proved, cp: &Checkpoint) -> Result<Verified> {
        if p.size != cp.size {
            bail!(
                "the server proved entry {} against size {} instead of the checkpoint's {}",
                p.index,
                p.size,
                cp.size
            );
        }
        let bytes = hex::decode(&p.entry).context("the server sent an entry that is not hex")?;
        merkle::verify_inclusion(&merkle::leaf_hash(&bytes), p.index, p.size, &p.proof, &cp.root).map_err(|e| {
            anyhow!("the inclusion proof of entry {} does not verify ({e}): the server is lying", p.index)
        })?;
        let entry = Entry::decode(&bytes)?;
        let signed = entry.author_signed(&entry.revision.hash());
        if !signed {
            bail!("entry {} in the log carries no valid signature by its author", p.index);
        }
        Ok(Verified { index: p.index, size: p.size, entry })
    }

    /// The object's revision current now (or at log size `at`), verified.
    pub fn get_object(&self, object: &Hash, at: Option<u64>) -> Result<Verified> {
        let cp = self.checkpoint()?;
        let at_q = at.map(|a| format!("&at={a}")).unwrap_or_default();
        let p: Proved = self.get(&format!("/v1/objects/{}?size={}{at_q}", hex::encode(object), cp.size))?;
        let v = self.verify_proved(&p, &cp)?;
        if &v.entry.revision.object_id() != object {
            bail!("the server answered with a revision of another object");
        }
        if at.is_some_and(|a| v.index >= a) {
            bail!("the server answered with a revision written after the requested size");
        }
        Ok(v)
    }

    /// Every revision of the object, verified, and checked to chain from version 1 by hash.
    pub fn history(&self, object: &Hash, at: Option<u64>) -> Result<Vec<Verified>> {
        let cp = self.checkpoint()?;
        let at_q = at.map(|a| format!("&at={a}")).unwrap_or_default();
        let list: ProvedList =
            self.get(&format!("/v1/objects/{}/history?size={}{at_q}", hex::encode(object), cp.size))?;
        let out = list.entries.iter().map(|p| self.verify_proved(p, &cp)).collect::<Result<Vec<_>>>()?;
        check_chain(object, &out)?;
        Ok(out)
    }

    /// Current revisions of `schema` objects with `field` = `value`, each verified.
    pub fn find(&self, schema: &str, field: &str, value: &str, at: Option<u64>) -> Result<Vec<Verified>> {
        let cp = self.checkpoint()?;
        let mut path =
            format!("/v1/find?size={}&schema={}&field={}&value={}", cp.size, enc(schema), enc(field), enc(value));
        if let Some(a) = at {
            path.push_str(&format!("&at={a}"));
        }
        let list: ProvedList = self.get(&path)?;
        let out = list.entries.iter().map(|p| self.verify_proved(p, &cp)).collect::<Result<Vec<_>>>()?;
        if out.iter().any(|v| v.entry.revision.schema_url != schema) {
            bail!("the server answered a find with objects of another schema");
        }
        Ok(out)
    }

    /// The current revision of the schema registered under `url`, verified.
    pub fn schema(&self, url: &str) -> Result<Verified> {
        let cp = self.checkpoint()?;
        let p: Proved = self.get(&format!("/v1/schemas/{}?size={}", enc(url), cp.size))?;
        let v = self.verify_proved(&p, &cp)?;
        if v.entry.revision.schema_url != crate::revision::SCHEMA_URL {
            bail!("the server answered with a record that is not a schema");
        }
        Ok(v)
    }

    /// Log entry `index`, verified.
    pub fn entry(&self, index: u64) -> Result<Verified> {
        let cp = self.checkpoint()?;
        let p: Proved = self.get(&format!("/v1/entries/{index}?size={}", cp.size))?;
        if p.index != index {
            bail!("the server answered with entry {} instead of {index}", p.index);
        }
        self.verify_proved(&p, &cp)
    }

    /// Submits an entry. When accepted, also checks that the server really logged it.
    pub fn submit(&self, entry: &Entry) -> Result<Submitted> {
        let resp = self.request(reqwest::Method::POST, "/v1/entries", entry.to_bytes())?;
        self.after_submit(resp, entry.revision.hash())
    }

    fn after_submit(&self, resp: reqwest::blocking::Response, hash: Hash) -> Result<Submitted> {
        if resp.status() == reqwest::StatusCode::ACCEPTED {
            return Ok(Submitted::Pending(self.json(resp)?));
        }
        let receipt: Receipt = self.json(resp)?;
        let logged = self.entry(receipt.index)?;
        if logged.entry.revision.hash() != hash {
            bail!("the server's receipt points at entry {}, which is not the submitted revision", receipt.index);
        }
        Ok(Submitted::Accepted(receipt))
    }

    /// A pending entry, with its hash checked.
    pub fn pending(&self, hash: &Hash) -> Result<(Entry, PendingStatus)> {
        let status: PendingStatus = self.get(&format!("/v1/pending/{}", hex::encode(hash)))?;
        let entry = Entry::decode(&hex::decode(&status.entry)?)?;
        if &entry.revision.hash() != hash {
            bail!("the server's pending entry does not hash to {}", hex::encode(hash));
        }
        Ok((entry, status))
    }

    /// Co-signs a pending revision with this client's identity.
    pub fn cosign(&self, hash: &Hash) -> Result<Submitted> {
        let id =
            self.identity.as_ref().ok_or_else(|| anyhow!("signing needs an identity; create one with `tf id new`"))?;
        let (entry, _) = self.pending(hash)?;
        let signed: Signed = entry.revision.sign(id);
        let body = serde_json::to_vec(&signed)?;
        let path = format!("/v1/pending/{}/signatures", hex::encode(hash));
        let resp = self.request(reqwest::Method::POST, &path, body.clone())?;
        let _ = body;
        self.after_submit(resp, *hash)
    }

    /// Audits the whole log: fetches every leaf hash and checks they hash to the (verified,
    /// consistent) checkpoint's root. Returns the checkpoint.
    pub fn audit(&self) -> Result<Checkpoint> {
        let cp = self.checkpoint()?;
        let mut tree = merkle::Tree::new();
        while tree.len() < cp.size {
            let to = (tree.len() + MAX_LEAVES).min(cp.size);
            let leaves: Leaves = self.get(&format!("/v1/leaves?from={}&to={to}", tree.len()))?;
            if leaves.from != tree.len() || leaves.hashes.is_empty() {
                bail!("the server returned the wrong leaves");
            }
            leaves.hashes.into_iter().for_each(|h| tree.push(h));
        }
        if tree.root_at(cp.size)? != cp.root {
            bail!("the log's leaves do not hash to the checkpoint's root: the server is lying");
        }
        Ok(cp)
    }
}

fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Accepts `new` after `trusted` only if it extends it (consistency proof), never a rollback or fork.
pub fn check_consistent(
    trusted: &Checkpoint,
    new: &Checkpoint,
    proof: impl FnOnce() -> Result<Vec<Hash>>,
) -> Result<()> {
    if new.size < trusted.size {
        bail!(
            "the server rolled back: it now shows {} entries but this client verified {} before (trusted checkpoint kept)",
            new.size,
            trusted.size
        );
    }
    if new.size == trusted.size {
        if new.root != trusted.root {
            bail!("the server forked its log: same size {} with a different root (trusted checkpoint kept)", new.size);
        }
        return Ok(());
    }
    if trusted.size == 0 {
        return Ok(());
    }
    let proof = proof()?;
    merkle::verify_consistency(trusted.size, new.size, &proof, &trusted.root, &new.root).map_err(|e| {
        anyhow!(
            "the server's log of {} entries is not an extension of the {} entries this client verified ({e}): \
             it forked or rewrote its history (trusted checkpoint kept)",
            new.size,
            trusted.size
        )
    })
}

/// Checks that an object's revisions chain: versions 1..n, each `prev` the hash of the one before.
fn check_chain(object: &Hash, revisions: &[Verified]) -> Result<()> {
    let mut prev: Option<Hash> = None;
    for (i, v) in revisions.iter().enumerate() {
        let r = &v.entry.revision;
        if r.object_id() != *object || r.version != i as u64 + 1 || r.prev != prev {
            bail!("the object's history does not chain at version {}: the server is lying", i + 1);
        }
        prev = Some(r.hash());
    }
    Ok(())
}

/// Reads a file or `-` for stdin.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        return Ok(buf);
    }
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}
