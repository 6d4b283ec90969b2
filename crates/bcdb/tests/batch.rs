//! `POST /v1/batch`: every entry is judged as if posted alone, outcomes come back in order, and
//! accepted ones are in the log.

mod common;

use bcdb::api::{frame_batch, BatchItem};
use bcdb::revision::{Acl, Entry, Op, Revision};
use common::{add_user_schema, Server, Twin};

fn user(twin: &Twin, name: &str) -> Entry {
    let rev = Revision {
        object: None,
        version: 1,
        prev: None,
        schema_url: "test.user.1".into(),
        schema_hash: bcdb::ledger::sha256(common::USER_SCHEMA.as_bytes()),
        author: twin.identity.public_key(),
        timestamp_ms: 5,
        op: Op::Put,
        payload: format!(r#"{{"name":"{name}"}}"#).into_bytes(),
        acl: Acl { public: true, grants: vec![] },
        multisig: None,
    };
    let sig = rev.sign(&twin.identity);
    Entry { revision: rev, signatures: vec![sig] }
}

fn post(url: &str, body: Vec<u8>) -> (u16, String) {
    let resp = reqwest::blocking::Client::new().post(format!("{url}/v1/batch")).body(body).send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

#[test]
fn batch_outcomes_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let alice = Twin::new(dir.path(), "alice");
    add_user_schema(&alice, &server.url, dir.path());

    let (a, b) = (user(&alice, "ann").to_bytes(), user(&alice, "bob").to_bytes());
    let same_name = user(&alice, "ann");
    let mut renamed = same_name.clone();
    renamed.revision.timestamp_ms += 1;
    renamed.signatures = vec![renamed.revision.sign(&alice.identity)];
    let garbage = b"not an entry".to_vec();
    let body = frame_batch([&a[..], &garbage[..], &b[..], &a[..], &renamed.to_bytes()[..]]);
    let (status, text) = post(&server.url, body);
    assert_eq!(status, 200, "{text}");
    let items: Vec<BatchItem> = serde_json::from_str(&text).unwrap();
    let statuses: Vec<u16> = items.iter().map(|i| i.status).collect();
    assert_eq!(statuses, [201, 400, 201, 409, 409], "{text}");
    assert!(items[3].error.as_deref().unwrap().contains("already in the log"));
    assert!(items[4].error.as_deref().unwrap().contains("unique"));

    // Accepted entries are really in the log, provably.
    let bob = items[2].receipt.as_ref().unwrap();
    let got = alice.ok(&server.url, &["get", &hex::encode(bob.object)]);
    assert_eq!(got["payload"]["name"], "bob");

    // A frame cut short is refused as a whole, and the server keeps serving.
    let mut cut = frame_batch([&a[..]]);
    cut.truncate(cut.len() - 3);
    assert_eq!(post(&server.url, cut).0, 400);
    assert_eq!(alice.ok(&server.url, &["verify"])["ok"], true);
}
