//! HTTP-level behaviour of `bcdb serve`: signed reads of private objects and replay refusal,
//! multisig through the CLI, malformed and hostile input, and acknowledged writes surviving a
//! kill -9.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bcdb::client::Client;
use bcdb::ledger::Receipt;
use bcdb::revision::{Acl, Entry, Op, Revision};
use common::{add_user_schema, Server, Twin, USER_SCHEMA};
use identity::{Domain, Identity, KeyScheme};
use serde_json::Value;

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

/// A GET with the given headers: (status, JSON body).
fn get(url: &str, path: &str, headers: &[(&'static str, String)]) -> (u16, Value) {
    let mut req = http().get(format!("{url}{path}"));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().unwrap();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, json)
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_else(|| panic!("not an ApiError: {v}"))
}

/// The payload of a `Proved` answer.
fn proved_payload(v: &Value) -> Value {
    let entry = Entry::decode(&hex::decode(v["entry"].as_str().unwrap()).unwrap()).unwrap();
    serde_json::from_slice(&entry.revision.payload).unwrap()
}

#[test]
fn private_reads_need_a_fresh_signature_by_a_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(&dir.join("data"), &[]);
    let url = server.url.as_str();
    let alice = Twin::new(dir, "alice");
    let stranger = Twin::new(dir, "stranger");
    add_user_schema(&alice, url, dir);
    let put = alice.ok(url, &["put", "--schema", "test.user.1", r#"{"name":"secret","email":"s@x.org"}"#]);
    let id = put["object"].as_str().unwrap().to_string();
    let index = put["index"].as_u64().unwrap();
    let path = format!("/v1/objects/{id}");

    // The owner, signing this exact request, reads it.
    let signed = bcdb::auth::sign_request(&alice.identity, "GET", &path, b"");
    let (status, body) = get(url, &path, &signed);
    assert_eq!(status, 200, "{body}");
    assert_eq!(proved_payload(&body)["name"], "secret");

    // Nobody else does: unsigned, or signed by a stranger.
    let (status, body) = get(url, &path, &[]);
    assert_eq!(status, 403, "{body}");
    assert!(error_of(&body).contains("may not read"), "{body}");
    let (status, body) = get(url, &path, &bcdb::auth::sign_request(&stranger.identity, "GET", &path, b""));
    assert_eq!(status, 403, "{body}");
    assert!(!body.to_string().contains("secret"));

    // The same signed headers a second time: a replay.
    let (status, body) = get(url, &path, &signed);
    assert_eq!(status, 401, "{body}");
    assert!(error_of(&body).contains("replayed"), "{body}");

    // A signature over another path, or over the path without its query, does not transfer.
    let other = bcdb::auth::sign_request(&alice.identity, "GET", &format!("/v1/objects/{}", "00".repeat(32)), b"");
    let (status, body) = get(url, &path, &other);
    assert_eq!(status, 401, "{body}");
    assert!(error_of(&body).contains("does not verify"), "{body}");
    let bare = bcdb::auth::sign_request(&alice.identity, "GET", &path, b"");
    let (status, _) = get(url, &format!("{path}?size=2"), &bare);
    assert_eq!(status, 401);

    // A request signed ten minutes ago (a captured header) is refused by the clock check.
    let time = bcdb::now_ms() - 10 * 60 * 1000;
    let nonce = "0123456789abcdef0123456789abcdef".to_string();
    let msg = bcdb::auth::request_message("GET", &path, b"", time, &nonce);
    let old = vec![
        (bcdb::auth::KEY, alice.key()),
        (bcdb::auth::TIME, time.to_string()),
        (bcdb::auth::NONCE, nonce),
        (bcdb::auth::SIGNATURE, alice.identity.sign(Domain::Request, &msg).to_string()),
    ];
    let (status, body) = get(url, &path, &old);
    assert_eq!(status, 401, "{body}");
    assert!(error_of(&body).contains("clock"), "{body}");

    // The private entry does not leak through the other read paths either.
    let (status, _) = get(url, &format!("/v1/entries/{index}"), &[]);
    assert_eq!(status, 403);
    let (status, body) = get(url, &format!("{path}/history"), &[]);
    assert_eq!(status, 200);
    assert_eq!(body["entries"], Value::Array(vec![]), "{body}");
    let (status, body) = get(url, "/v1/find?schema=test.user.1&field=email&value=s%40x.org", &[]);
    assert_eq!(status, 200);
    assert_eq!(body["entries"], Value::Array(vec![]), "{body}");
    let (_, body) = get(
        url,
        "/v1/find?schema=test.user.1&field=email&value=s%40x.org",
        &bcdb::auth::sign_request(
            &alice.identity,
            "GET",
            "/v1/find?schema=test.user.1&field=email&value=s%40x.org",
            b"",
        ),
    );
    assert_eq!(body["entries"].as_array().unwrap().len(), 1, "the owner finds it: {body}");

    // And through the CLI, which signs for its twin.
    assert_eq!(alice.ok(url, &["get", &id])["payload"]["name"], "secret");
    let err = stranger.fails(url, &["get", &id]);
    assert!(err.contains("403") && err.contains("may not read"), "{err}");
}

#[test]
fn multisig_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let server = Server::start(&data, &[]);
    let (author, a, b, stranger) =
        (Twin::new(dir, "author"), Twin::new(dir, "a"), Twin::new(dir, "b"), Twin::new(dir, "stranger"));
    add_user_schema(&author, &server.url, dir);

    let put = author.ok(
        &server.url,
        &[
            "put",
            "--schema",
            "test.user.1",
            "--public",
            "--signer",
            &a.key(),
            "--signer",
            &b.key(),
            "--quorum",
            "2",
            r#"{"name":"shared"}"#,
        ],
    );
    assert_eq!(put["status"], "pending", "{put}");
    assert_eq!((put["have"].as_u64(), put["need"].as_u64()), (Some(0), Some(2)), "{put}");
    let hash = put["hash"].as_str().unwrap().to_string();

    let shown = a.ok(&server.url, &["pending", &hash]);
    assert_eq!(shown["hash"], hash.as_str());
    assert_eq!(
        (shown["have"].as_u64(), shown["need"].as_u64()),
        (Some(0), Some(2)),
        "the author is not a signer: {shown}"
    );
    assert_eq!(shown["revision"]["payload"]["name"], "shared", "co-signers see what they sign");

    // A stranger's signature verifies but is refused: it would never count.
    let refused = stranger.fails(&server.url, &["sign", &hash]);
    assert!(refused.contains("not one of this revision's multisig signers"), "{refused}");
    let shown = a.ok(&server.url, &["pending", &hash]);
    assert_eq!(shown["have"], 0, "{shown}");

    let s = a.ok(&server.url, &["sign", &hash]);
    assert_eq!(
        (s["status"].as_str(), s["have"].as_u64(), s["need"].as_u64()),
        (Some("pending"), Some(1), Some(2)),
        "{s}"
    );
    let shown = b.ok(&server.url, &["pending", &hash]);
    assert_eq!(shown["have"], 1, "{shown}");

    // Pending revisions survive a restart.
    server.kill9();
    let server = Server::start(&data, &[]);
    let again = a.ok(&server.url, &["sign", &hash]);
    assert_eq!(
        (again["status"].as_str(), again["have"].as_u64()),
        (Some("pending"), Some(1)),
        "twice counts once: {again}"
    );

    let s = b.ok(&server.url, &["sign", &hash]);
    assert_eq!(s["status"], "accepted", "{s}");
    let object = s["object"].as_str().unwrap().to_string();
    assert_eq!(object, hash, "version 1's hash is the object id");
    let got = stranger.ok(&server.url, &["get", &object]);
    assert_eq!(got["payload"]["name"], "shared");
    let signers: Vec<&str> = got["signers"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(signers, vec![author.key(), a.key(), b.key()], "the stranger's signature is not stored");
    let gone = a.fails(&server.url, &["pending", &hash]);
    assert!(gone.contains("404"), "{gone}");

    // The policy in force governs the next version, even for the owner, even one that would
    // lower it: the quorum shown is the head's (2 of a, b), not the new revision's (1 of a).
    let v2 = author.ok(
        &server.url,
        &[
            "put",
            "--schema",
            "test.user.1",
            "--id",
            &object,
            "--public",
            "--signer",
            &a.key(),
            "--quorum",
            "1",
            r#"{"name":"shared","age":2}"#,
        ],
    );
    assert_eq!(
        (v2["status"].as_str(), v2["have"].as_u64(), v2["need"].as_u64()),
        (Some("pending"), Some(0), Some(2)),
        "{v2}"
    );
    let v2_hash = v2["hash"].as_str().unwrap().to_string();
    let shown = b.ok(&server.url, &["pending", &v2_hash]);
    assert_eq!((shown["have"].as_u64(), shown["need"].as_u64()), (Some(0), Some(2)), "{shown}");
    assert_eq!(stranger.ok(&server.url, &["get", &object])["version"], 1);
    assert_eq!(a.ok(&server.url, &["sign", &v2_hash])["have"], 1);
    assert_eq!(b.ok(&server.url, &["sign", &v2_hash])["status"], "accepted");
    assert_eq!(stranger.ok(&server.url, &["get", &object])["version"], 2);

    // From then on the new policy (1 of a) is the one in force.
    let v3 =
        author.ok(&server.url, &["put", "--schema", "test.user.1", "--id", &object, r#"{"name":"shared","age":3}"#]);
    let v3_hash = v3["hash"].as_str().unwrap().to_string();
    let shown = stranger.ok(&server.url, &["pending", &v3_hash]);
    assert_eq!((shown["have"].as_u64(), shown["need"].as_u64()), (Some(0), Some(1)), "{shown}");
    let refused = b.fails(&server.url, &["sign", &v3_hash]);
    assert!(refused.contains("not one of this revision's multisig signers"), "b no longer counts: {refused}");
    assert_eq!(a.ok(&server.url, &["sign", &v3_hash])["status"], "accepted");
}

#[test]
fn malformed_and_hostile_input_leaves_the_server_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(&dir.join("data"), &[]);
    let url = server.url.as_str();
    let alice = Twin::new(dir, "alice");
    add_user_schema(&alice, url, dir);
    let size = || get(url, "/v1/checkpoint", &[]).1["size"].as_u64().unwrap();
    assert_eq!(size(), 1);

    // Garbage as an entry: 400 with a JSON error.
    let resp = http().post(format!("{url}/v1/entries")).body(b"\x01\xffnot an entry at all".to_vec()).send().unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().unwrap();
    assert!(error_of(&body).contains("not a valid revision"), "{body}");

    // Garbage as a co-signature: 400 with a JSON error as well.
    let path = format!("{url}/v1/pending/{}/signatures", "ab".repeat(32));
    let resp = http().post(path).body("{\"key\": 12}").send().unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().unwrap();
    assert!(error_of(&body).contains("not a signature"), "{body}");

    // Bad parameters: JSON errors too.
    let (status, body) = get(url, "/v1/objects/not-hex", &[]);
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("hex"), "{body}");
    let (status, body) = get(url, "/v1/leaves?from=5&to=1", &[]);
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(url, &format!("/v1/objects/{}", "ab".repeat(32)), &[]);
    assert_eq!(status, 404, "{body}");

    // An oversized body (6 MiB, over the 4 MiB payload limit): refused, the server lives on.
    let big = vec![7u8; 6 << 20];
    match http().post(format!("{url}/v1/entries")).body(big).send() {
        Ok(resp) => assert!([400, 413].contains(&resp.status().as_u16()), "{}", resp.status()),
        // The server may answer and close before the client finished sending.
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    assert_eq!(size(), 1);

    // A client that disconnects in the middle of its body.
    let addr = url.trim_start_matches("http://");
    for _ in 0..3 {
        let mut conn = TcpStream::connect(addr).unwrap();
        write!(conn, "POST /v1/entries HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 100000\r\n\r\n").unwrap();
        conn.write_all(&[1u8; 1000]).unwrap();
        drop(conn);
    }
    // And one that sends only half a request head.
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.write_all(b"GET /v1/checkpo").unwrap();
    drop(conn);

    // Still serving reads and writes.
    let put = alice.ok(url, &["put", "--schema", "test.user.1", "--public", r#"{"name":"after"}"#]);
    assert_eq!(put["index"], 1);
    assert_eq!(size(), 2);
    let mut raw = TcpStream::connect(addr).unwrap();
    write!(raw, "GET /v1/checkpoint HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Version 1 (or, given the receipt of version 1, version 2) of a user named `name`.
fn user_entry(author: &Identity, name: &str, v1: Option<&Receipt>) -> Entry {
    let rev = Revision {
        object: v1.map(|r| r.object),
        version: v1.map_or(1, |r| r.version + 1),
        prev: v1.map(|r| r.hash),
        schema_url: "test.user.1".into(),
        schema_hash: bcdb::ledger::sha256(USER_SCHEMA.as_bytes()),
        author: author.public_key(),
        timestamp_ms: bcdb::now_ms(),
        op: Op::Put,
        payload: format!(r#"{{"name":"{name}","age":{}}}"#, v1.map_or(1, |r| r.version + 1)).into_bytes(),
        acl: Acl { public: true, grants: Vec::new() },
        multisig: None,
    };
    let signature = rev.sign(author);
    Entry { revision: rev, signatures: vec![signature] }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let server = Server::start(&data, &[]);
    let admin = Twin::new(dir, "admin");
    add_user_schema(&admin, &server.url, dir);

    // Writers submit versions 1 and 2 of their users until the server dies under them.
    let receipts: Arc<Mutex<Vec<Receipt>>> = Arc::default();
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (url, receipts, unexpected, stop) =
                (server.url.clone(), receipts.clone(), unexpected.clone(), stop.clone());
            std::thread::spawn(move || {
                let author = Identity::generate(KeyScheme::TfV2);
                let http = http();
                let post = |entry: &Entry| -> Option<Receipt> {
                    let resp = http.post(format!("{url}/v1/entries")).body(entry.to_bytes()).send().ok()?;
                    let status = resp.status().as_u16();
                    let body = resp.bytes().ok()?;
                    if status != 201 {
                        unexpected.lock().unwrap().push(format!("{status}: {}", String::from_utf8_lossy(&body)));
                        return None;
                    }
                    // Acknowledged only once the whole answer arrived.
                    let receipt: Receipt = serde_json::from_slice(&body).ok()?;
                    receipts.lock().unwrap().push(receipt.clone());
                    Some(receipt)
                };
                for i in 0..5000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("crash-{w}-{i}");
                    let Some(v1) = post(&user_entry(&author, &name, None)) else { break };
                    if post(&user_entry(&author, &name, Some(&v1))).is_none() {
                        break;
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while receipts.lock().unwrap().len() < 60 {
        assert!(Instant::now() < deadline, "the writers made no progress: {:?}", unexpected.lock().unwrap());
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let unexpected = unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "every write was valid: {unexpected:?}");
    let receipts = receipts.lock().unwrap().clone();

    // Offline first: the log the crash left is intact.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcdb"))
        .args(["--json", "verify", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["entries"].as_u64().unwrap() > receipts.len() as u64, "{report}");

    // Then every acknowledged revision is there, at its index, in its object's history.
    let server = Server::start(&data, &[]);
    let client =
        Client::new(&server.url, None, dir.join("reader.trust.json"), Some(server.server_key.parse().unwrap()));
    let mut objects: Vec<bcdb::revision::Hash> = receipts.iter().map(|r| r.object).collect();
    objects.sort();
    objects.dedup();
    for object in objects {
        let history = client.history(&object, None).unwrap();
        for r in receipts.iter().filter(|r| r.object == object) {
            let v = &history[r.version as usize - 1];
            assert_eq!((v.index, v.entry.revision.version), (r.index, r.version), "the acknowledged version is logged");
            assert_eq!(v.entry.revision.hash(), r.hash, "entry {} is the acknowledged revision", r.index);
        }
    }
    let last = receipts.iter().max_by_key(|r| r.index).unwrap();
    assert!(client.get_object(&last.object, None).unwrap().entry.revision.version >= last.version);
}
