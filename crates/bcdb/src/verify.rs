//! Offline verification of a ledger's store (`bcdb verify --data DIR`): reads every entry, checks
//! its checksum, its encoding, its author's signature and its place in its object's hash chain,
//! rebuilds the Merkle tree and compares it with the last checkpoint the server signed.

use std::collections::HashMap;
use std::path::Path;

use identity::Domain;
use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::revision::{Entry, Hash, Op};
use crate::store::LogStore;

/// What a verification found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Entries read.
    pub entries: u64,
    /// Distinct objects.
    pub objects: u64,
    /// Size and root of the server's last signed checkpoint, if any.
    pub checkpoint_size: Option<u64>,
    /// The recomputed root of the whole log, hex.
    pub root: String,
    /// Every problem found (empty: the log is intact).
    pub problems: Vec<String>,
}

/// The newest revision seen of each object while walking the log.
struct Tip {
    version: u64,
    hash: Hash,
    deleted: bool,
}

/// Verifies every entry of `store` and, if `dir` holds a `checkpoint.json`, the tree against it.
pub fn verify_store(store: &mut dyn LogStore, dir: &Path) -> Report {
    let mut report = Report::default();
    let mut tree = merkle::Tree::new();
    let mut tips: HashMap<Hash, Tip> = HashMap::new();
    for i in 0..store.len() {
        report.entries += 1;
        let bytes = match store.read(i) {
            Ok(b) => b,
            Err(e) => {
                report.problems.push(e.to_string());
                tree.push([0; 32]);
                continue;
            }
        };
        tree.push(merkle::leaf_hash(&bytes));
        match Entry::decode(&bytes) {
            Ok(entry) => check_entry(i, &entry, &mut tips, &mut report.problems),
            Err(e) => report.problems.push(format!("entry {i}: {e}")),
        }
    }
    report.objects = tips.len() as u64;
    report.root = hex::encode(tree.root());
    if let Ok(text) = std::fs::read_to_string(dir.join("checkpoint.json")) {
        match serde_json::from_str::<Checkpoint>(&text) {
            Ok(cp) => check_checkpoint(&cp, &tree, &mut report),
            Err(e) => report.problems.push(format!("checkpoint.json is damaged: {e}")),
        }
    }
    report
}

fn check_checkpoint(cp: &Checkpoint, tree: &merkle::Tree, report: &mut Report) {
    report.checkpoint_size = Some(cp.size);
    if cp.verify_signature().is_err() {
        report.problems.push("checkpoint.json's signature does not verify".into());
    }
    match tree.root_at(cp.size) {
        Ok(root) if root == cp.root => {}
        Ok(_) => {
            report.problems.push(format!("the first {} entries do not hash to the signed checkpoint's root", cp.size))
        }
        Err(_) => report.problems.push(format!(
            "the log has {} entries, fewer than the signed checkpoint's {}",
            tree.len(),
            cp.size
        )),
    }
}

fn check_entry(i: u64, entry: &Entry, tips: &mut HashMap<Hash, Tip>, problems: &mut Vec<String>) {
    let rev = &entry.revision;
    let hash = rev.hash();
    let author = rev.author;
    if !entry.author_signed(&hash) {
        problems.push(format!("entry {i}: no valid signature by its author {author}"));
    }
    if let Some(bad) = entry.signatures.iter().find(|s| s.key.verify(Domain::Revision, &hash, &s.signature).is_err()) {
        problems.push(format!("entry {i}: the signature by {} does not verify", bad.key));
    }
    let object = rev.object_id();
    let linked = match (tips.get(&object), rev.version) {
        (None, 1) => rev.prev.is_none(),
        (Some(tip), v) => !tip.deleted && v == tip.version + 1 && rev.prev == Some(tip.hash),
        (None, _) => false,
    };
    if !linked {
        problems.push(format!(
            "entry {i}: version {} of object {} does not link to its predecessor",
            rev.version,
            hex::encode(object)
        ));
    }
    tips.insert(object, Tip { version: rev.version, hash, deleted: rev.op == Op::Delete });
}
