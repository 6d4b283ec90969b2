//! The ledger's rules, on a real ledger over real segment files: the ACL matrix, multisig edge
//! cases, version chains, and index-rebuild equivalence.

use bcdb::ledger::{Ledger, LedgerError, Receipt};
use bcdb::revision::{Acl, Entry, Grant, Hash, Multisig, Op, Revision, Rights, Signed, SCHEMA_URL};
use bcdb::store::segments::SegmentStore;
use identity::{Identity, KeyScheme, PublicKey, Signature};

const SCHEMA: &str = "@url = test.doc.1\ntitle** = \"\" (S)\n&slug = \"\" (S)\nsize = 0 (I)\n";

struct World {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    ledger: Ledger,
    schema_hash: Hash,
}

fn twin() -> Identity {
    Identity::generate(KeyScheme::TfV2)
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let ledger = Ledger::open(&dir, Box::new(SegmentStore::open(&dir.join("log")).unwrap())).unwrap();
        let mut w = World { _dir: tmp, dir, ledger, schema_hash: bcdb::ledger::sha256(SCHEMA.as_bytes()) };
        let admin = twin();
        let rev = Revision {
            object: None,
            version: 1,
            prev: None,
            schema_url: SCHEMA_URL.into(),
            schema_hash: w.schema_hash,
            author: admin.public_key(),
            timestamp_ms: 1,
            op: Op::Put,
            payload: SCHEMA.as_bytes().to_vec(),
            acl: Acl { public: true, grants: vec![] },
            multisig: None,
        };
        w.append(rev, &[&admin]).unwrap();
        w
    }

    fn reopen(self) -> World {
        let World { _dir, dir, ledger, schema_hash } = self;
        drop(ledger);
        let ledger = Ledger::open(&dir, Box::new(SegmentStore::open(&dir.join("log")).unwrap())).unwrap();
        World { _dir, dir, ledger, schema_hash }
    }

    fn doc(&self, author: &Identity, payload: &str) -> Revision {
        Revision {
            object: None,
            version: 1,
            prev: None,
            schema_url: "test.doc.1".into(),
            schema_hash: self.schema_hash,
            author: author.public_key(),
            timestamp_ms: 2,
            op: Op::Put,
            payload: payload.as_bytes().to_vec(),
            acl: Acl::default(),
            multisig: None,
        }
    }

    /// The next version of `object`'s head, written by `author`.
    fn next(&mut self, object: &Hash, author: &Identity, op: Op, payload: &str) -> Revision {
        let head = self.ledger.get(object, None).unwrap().entry.revision;
        Revision {
            object: Some(*object),
            version: head.version + 1,
            prev: Some(head.hash()),
            author: author.public_key(),
            op,
            payload: payload.as_bytes().to_vec(),
            ..head
        }
    }

    fn append(&mut self, rev: Revision, signers: &[&Identity]) -> Result<Receipt, LedgerError> {
        let signatures = signers.iter().map(|s| rev.sign(s)).collect();
        self.submit(Entry { revision: rev, signatures })
    }

    fn submit(&mut self, entry: Entry) -> Result<Receipt, LedgerError> {
        let prepared = Ledger::prepare(&entry.to_bytes())?;
        self.ledger.append(prepared)
    }
}

#[test]
fn acl_matrix() {
    let mut w = World::new();
    let (owner, reader, writer, deleter, stranger) = (twin(), twin(), twin(), twin(), twin());
    let mut rev = w.doc(&owner, r#"{"title":"t","slug":"s1"}"#);
    let grant = |k: &Identity, r: &str| Grant { key: k.public_key(), rights: Rights::parse(r).unwrap() };
    rev.acl = Acl { public: false, grants: vec![grant(&reader, "r"), grant(&writer, "rw"), grant(&deleter, "d")] };
    let object = w.append(rev, &[&owner]).unwrap().object;

    let head = w.ledger.get(&object, None).unwrap().entry.revision;
    let can_read =
        |w: &World, who: Option<&Identity>| w.ledger.can_read(&head, who.map(|i| i.public_key()).as_ref()).unwrap();
    assert!(can_read(&w, Some(&owner)));
    assert!(can_read(&w, Some(&reader)));
    assert!(can_read(&w, Some(&writer)));
    assert!(!can_read(&w, Some(&deleter)));
    assert!(!can_read(&w, Some(&stranger)));
    assert!(!can_read(&w, None));

    for who in [&reader, &deleter, &stranger] {
        let rev = w.next(&object, who, Op::Put, r#"{"title":"x","slug":"s1"}"#);
        assert!(matches!(w.append(rev, &[who]), Err(LedgerError::Forbidden(_))), "put must be refused");
    }
    let rev = w.next(&object, &writer, Op::Put, r#"{"title":"by writer","slug":"s1"}"#);
    w.append(rev, &[&writer]).unwrap();

    // A writer cannot widen the ACL; the owner can.
    let mut rev = w.next(&object, &writer, Op::Put, r#"{"title":"y","slug":"s1"}"#);
    rev.acl.public = true;
    assert!(matches!(w.append(rev, &[&writer]), Err(LedgerError::Forbidden(_))));
    let mut rev = w.next(&object, &owner, Op::Put, r#"{"title":"y","slug":"s1"}"#);
    rev.acl.public = true;
    w.append(rev, &[&owner]).unwrap();

    for who in [&reader, &writer, &stranger] {
        let rev = w.next(&object, who, Op::Delete, "");
        assert!(matches!(w.append(rev, &[who]), Err(LedgerError::Forbidden(_))), "delete must be refused");
    }
    let rev = w.next(&object, &deleter, Op::Delete, "");
    w.append(rev, &[&deleter]).unwrap();
    let rev = w.next(&object, &owner, Op::Put, r#"{"title":"z","slug":"s1"}"#);
    assert!(matches!(w.append(rev, &[&owner]), Err(LedgerError::Conflict(_))), "nothing follows a delete");
}

#[test]
fn author_must_sign_and_forgeries_do_not_count() {
    let mut w = World::new();
    let (author, other) = (twin(), twin());
    let rev = w.doc(&author, r#"{"slug":"a"}"#);
    assert!(matches!(w.append(rev.clone(), &[&other]), Err(LedgerError::Forbidden(_))), "signed by someone else");
    let forged = Entry {
        revision: rev.clone(),
        signatures: vec![Signed { key: author.public_key(), signature: Signature([7; 64]) }],
    };
    assert!(matches!(w.submit(forged), Err(LedgerError::Forbidden(_))));
    w.append(rev, &[&author]).unwrap();
}

fn multisig_doc(w: &World, author: &Identity, signers: &[&Identity], quorum: u32, slug: &str) -> Revision {
    let mut rev = w.doc(author, &format!(r#"{{"slug":"{slug}"}}"#));
    rev.multisig = Some(Multisig { signers: signers.iter().map(|s| s.public_key()).collect(), quorum });
    rev
}

#[test]
fn multisig_quorum_edge_cases() {
    let mut w = World::new();
    let (author, a, b, c, outsider) = (twin(), twin(), twin(), twin(), twin());

    // Quorum 0: no co-signature needed.
    let rev = multisig_doc(&w, &author, &[&a, &b], 0, "q0");
    w.append(rev, &[&author]).unwrap();

    // Quorum larger than the signer list can never be met: refused outright.
    let rev = multisig_doc(&w, &author, &[&a], 2, "q-impossible");
    assert!(matches!(w.append(rev, &[&author, &a]), Err(LedgerError::Invalid(_))));

    // A signer listed twice is refused.
    let rev = multisig_doc(&w, &author, &[&a, &a], 1, "q-dup-list");
    assert!(matches!(w.append(rev, &[&author, &a]), Err(LedgerError::Invalid(_))));

    // 2 of 3: one signer, the same signer twice, an outsider, a forged signature: not enough.
    let rev = multisig_doc(&w, &author, &[&a, &b, &c], 2, "q2");
    let not_met =
        |r: Result<Receipt, LedgerError>| matches!(r, Err(LedgerError::QuorumNotMet { have: 1, need: 2, .. }));
    assert!(not_met(w.append(rev.clone(), &[&author, &a])));
    assert!(not_met(w.append(rev.clone(), &[&author, &a, &a])), "a duplicate signer counts once");
    assert!(not_met(w.append(rev.clone(), &[&author, &a, &outsider])), "an unknown signer does not count");
    let mut forged = Entry { revision: rev.clone(), signatures: vec![rev.sign(&author), rev.sign(&a)] };
    forged.signatures.push(Signed { key: b.public_key(), signature: Signature([1; 64]) });
    assert!(not_met(w.submit(forged)), "a forged signature does not count");

    // Two distinct valid signers: accepted, and only counted signatures are stored.
    let receipt = w.append(rev, &[&author, &a, &outsider, &c]).unwrap();
    let stored = w.ledger.read(receipt.index).unwrap().entry;
    let keys: Vec<PublicKey> = stored.signatures.iter().map(|s| s.key).collect();
    assert_eq!(keys, vec![author.public_key(), a.public_key(), c.public_key()]);

    // The policy governs later versions too, even for the owner.
    let next = w.next(&receipt.object, &author, Op::Put, r#"{"slug":"q2","title":"v2"}"#);
    assert!(matches!(w.append(next.clone(), &[&author]), Err(LedgerError::QuorumNotMet { have: 0, need: 2, .. })));
    w.append(next, &[&author, &b, &c]).unwrap();
}

#[test]
fn chains_unique_values_and_duplicates() {
    let mut w = World::new();
    let author = twin();
    let rev = w.doc(&author, r#"{"slug":"one"}"#);
    let first = w.append(rev.clone(), &[&author]).unwrap();
    assert!(matches!(w.append(rev, &[&author]), Err(LedgerError::Conflict(_))), "the same revision twice");

    let taken = w.doc(&author, r#"{"slug":"one","title":"other"}"#);
    assert!(matches!(w.append(taken, &[&author]), Err(LedgerError::Conflict(_))), "unique slug");

    let v2 = w.next(&first.object, &author, Op::Put, r#"{"slug":"one","title":"v2"}"#);
    let mut stale = v2.clone();
    w.append(v2, &[&author]).unwrap();
    stale.timestamp_ms += 1;
    assert!(matches!(w.append(stale, &[&author]), Err(LedgerError::Conflict(_))), "prev is no longer the head");

    let bad = w.doc(&author, r#"{"slug":"two","size":"big"}"#);
    assert!(matches!(w.append(bad, &[&author]), Err(LedgerError::Invalid(_))), "schema violation");
}

#[test]
fn index_rebuild_gives_the_same_answers() {
    let mut w = World::new();
    let authors: Vec<Identity> = (0..3).map(|_| twin()).collect();
    let mut objects = Vec::new();
    for i in 0..60u32 {
        let author = &authors[i as usize % 3];
        if i % 4 == 3 {
            let (object, who): (Hash, usize) = objects[i as usize / 8];
            let op = if i % 16 == 15 { Op::Delete } else { Op::Put };
            let payload = if op == Op::Delete {
                String::new()
            } else {
                format!(r#"{{"slug":"s{}","title":"t{}","size":{i}}}"#, i / 8 * 4, i % 5)
            };
            if w.ledger.get(&object, None).unwrap().entry.revision.op == Op::Delete {
                continue;
            }
            let rev = w.next(&object, &authors[who], op, &payload);
            let _ = w.append(rev, &[&authors[who]]);
        } else {
            let rev = w.doc(author, &format!(r#"{{"slug":"s{i}","title":"t{}","size":{i}}}"#, i % 5));
            let r = w.append(rev, &[author]).unwrap();
            objects.push((r.object, i as usize % 3));
        }
    }
    let len = w.ledger.len();
    let answers = |w: &mut World| {
        let mut out = Vec::new();
        for at in [None, Some(len / 3), Some(len / 2), Some(len)] {
            for t in 0..5 {
                let found = w.ledger.find("test.doc.1", "title", &format!("t{t}"), at).unwrap();
                out.push(found.iter().map(|f| f.index).collect::<Vec<_>>());
            }
        }
        out
    };
    let before_dump = w.ledger.index_dump().unwrap();
    let before = answers(&mut w);
    for name in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(w.dir.join(name));
    }
    // A rebuild that crashed half-way leaves its side file behind: it must not be trusted.
    std::fs::write(w.dir.join("index.sqlite.rebuild"), b"half a database").unwrap();
    let mut w = w.reopen();
    assert!(!w.dir.join("index.sqlite.rebuild").exists());
    assert_eq!(w.ledger.index_dump().unwrap(), before_dump);
    assert_eq!(answers(&mut w), before);
}
