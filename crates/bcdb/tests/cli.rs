//! End to end through the CLI against a running server: schemas, put, versions, history, find,
//! state as of a past size, delete, proofs, verification, restart and reindex, on both stores.

mod common;

use common::{add_user_schema, Server, Twin, Zdb};
use serde_json::Value;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The whole user story on one store; returns nothing, asserts everything.
fn story(server: &Server, dir: &std::path::Path) {
    let url = server.url.as_str();
    let alice = Twin::new(dir, "alice");
    add_user_schema(&alice, url, dir);

    let created = alice
        .ok(url, &["put", "--schema", "test.user.1", "--public", r#"{"name":"alice","email":"a@x.org","age":30}"#]);
    assert_eq!(s(&created["status"]), "accepted");
    assert_eq!(created["version"], 1);
    let id = s(&created["object"]).to_string();

    let got = alice.ok(url, &["get", &id]);
    assert_eq!(got["payload"]["name"], "alice");
    assert_eq!(got["author"], alice.key());
    let size_after_v1 = got["proved_in_size"].as_u64().unwrap();

    let v2 = alice.ok(
        url,
        &["put", "--schema", "test.user.1", "--id", &id, r#"{"name":"alice","email":"alice@y.org","age":31}"#],
    );
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["object"], created["object"]);

    let history = alice.ok(url, &["history", &id]);
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["prev"], history[0]["hash"], "v2 links to v1");

    // Find by an indexed field: the current state only; the past with --at.
    let found = alice.ok(url, &["find", "test.user.1", "email=alice@y.org"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert!(alice.ok(url, &["find", "test.user.1", "email=a@x.org"]).as_array().unwrap().is_empty());
    let past = alice.ok(url, &["find", "test.user.1", "email=a@x.org", "--at", &size_after_v1.to_string()]);
    assert_eq!(past.as_array().unwrap().len(), 1);
    let old = alice.ok(url, &["get", &id, "--at", &size_after_v1.to_string()]);
    assert_eq!(old["version"], 1);
    assert_eq!(old["payload"]["email"], "a@x.org");

    // Rules: a unique value taken, a payload that breaks the schema, a stale version.
    let dup = alice.fails(url, &["put", "--schema", "test.user.1", r#"{"name":"alice"}"#]);
    assert!(dup.contains("unique"), "{dup}");
    let bad = alice.fails(url, &["put", "--schema", "test.user.1", r#"{"name":"bob","age":"old"}"#]);
    assert!(bad.contains("age"), "{bad}");
    let unknown = alice.fails(url, &["put", "--schema", "no.such.schema", r#"{}"#]);
    assert!(unknown.contains("no.such.schema"), "{unknown}");

    // Proof and audit.
    let proof = alice.ok(url, &["proof", &id]);
    assert_eq!(proof["verified"], true);
    assert_eq!(proof["server_key"], server.server_key);
    let audit = alice.ok(url, &["verify"]);
    assert_eq!(audit["ok"], true);

    // Delete: history stays, current state is a tombstone, find forgets it.
    let deleted = alice.ok(url, &["delete", &id]);
    assert_eq!(deleted["version"], 3);
    assert_eq!(alice.ok(url, &["get", &id])["op"], "delete");
    assert!(alice.ok(url, &["find", "test.user.1", "email=alice@y.org"]).as_array().unwrap().is_empty());
    assert_eq!(alice.ok(url, &["history", &id]).as_array().unwrap().len(), 3);
    let after = alice.fails(url, &["put", "--schema", "test.user.1", "--id", &id, r#"{"name":"alice"}"#]);
    assert!(after.contains("delete"), "{after}");
}

#[test]
fn story_on_segment_files_survives_restart_and_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    story(&server, dir.path());
    let alice = Twin::new(dir.path(), "reader");
    let before = alice.ok(&server.url, &["find", "test.user.1", "name=alice", "--at", "3"]);
    server.kill9();

    // Offline verification and an index rebuild from the log.
    let bcdb = env!("CARGO_BIN_EXE_bcdb");
    let verify = std::process::Command::new(bcdb).args(["--json", "verify", "--data"]).arg(&data).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert!(report["problems"].as_array().unwrap().is_empty());
    let reindex = std::process::Command::new(bcdb).args(["--json", "reindex", "--data"]).arg(&data).output().unwrap();
    assert!(reindex.status.success(), "{}", String::from_utf8_lossy(&reindex.stderr));

    let server = Server::start(&data, &[]);
    let after = alice.ok(&server.url, &["find", "test.user.1", "name=alice", "--at", "3"]);
    assert_eq!(before, after, "the same answers after a rebuild");
}

#[test]
fn story_on_zdb() {
    let dir = tempfile::tempdir().unwrap();
    let zdb = Zdb::start(dir.path(), "admin-secret");
    let data = dir.path().join("data");
    let args =
        ["--zdb", zdb.addr.as_str(), "--namespace", "ledger", "--password", "ns-secret", "--zdb-admin", "admin-secret"];
    let server = Server::start(&data, &args);
    story(&server, dir.path());
    server.kill9();
    // Restart on the same namespace: the log is read back from zdb.
    let server = Server::start(&data, &args);
    let reader = Twin::new(dir.path(), "reader");
    assert_eq!(reader.ok(&server.url, &["verify"])["ok"], true);
    assert_eq!(
        reader.ok(&server.url, &["find", "test.user.1", "name=alice", "--at", "3"]).as_array().unwrap().len(),
        1
    );
}

#[test]
fn one_process_per_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Server::start(&data, &[]);
    let err = Server::try_start(&data, &[]).err().expect("a second server on the same directory must be refused");
    assert!(err.contains("in use"), "{err}");
    let reindex =
        std::process::Command::new(env!("CARGO_BIN_EXE_bcdb")).args(["reindex", "--data"]).arg(&data).output().unwrap();
    assert!(!reindex.status.success());
    assert!(String::from_utf8_lossy(&reindex.stderr).contains("in use"));
    assert!(data.join("index.sqlite").exists(), "a refused reindex leaves the running server's index alone");
    first.kill9();
    // The lock dies with its process: a restart after kill -9 works.
    Server::start(&data, &[]);
}
