//! A malicious server against the verifying client (the lesson of immudb's GHSA-672p-m5jq-mrh8:
//! a verifying client is only as good as its tests against servers that lie).
//!
//! Every case follows the same pattern: a twin's client first verifies a checkpoint from an honest
//! server (the real `bcdb serve`), then the server misbehaves (rolled back to an old copy of its
//! data, forked, a record rewritten on disk, or answers altered by a proxy in front of it), and
//! the CLI must fail with a message that says what happened while leaving the twin's trust file
//! exactly as it was, so the evidence survives.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use bcdb::checkpoint::Checkpoint;
use common::{add_user_schema, Server, Twin};
use identity::{Identity, KeyScheme};
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_string()
}

/// Puts a public user named `name` as `twin`; returns the object id.
fn put_user(twin: &Twin, url: &str, name: &str) -> String {
    let out = twin.ok(url, &["put", "--schema", "test.user.1", "--public", &format!(r#"{{"name":"{name}"}}"#)]);
    assert_eq!(out["status"], "accepted", "{out}");
    s(&out["object"])
}

fn trust(twin: &Twin) -> Vec<u8> {
    std::fs::read(&twin.trust_file).expect("the twin has a trust file")
}

fn trusted_size(twin: &Twin) -> u64 {
    let v: Value = serde_json::from_slice(&trust(twin)).unwrap();
    v["size"].as_u64().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), &target).unwrap();
        }
    }
}

/// Asserts that `err` contains every word, case-insensitively.
fn says(err: &str, words: &[&str]) {
    let lower = err.to_lowercase();
    for w in words {
        assert!(lower.contains(&w.to_lowercase()), "expected {w:?} in the error, got: {err}");
    }
}

/// A server (restarted once so that the snapshot is taken from a stopped server) with a schema
/// and two users, a copy of its data dir at that point, then two more users the twin verified.
struct Diverged {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    data: std::path::PathBuf,
    snapshot: std::path::PathBuf,
    alice: Twin,
    key: String,
    /// The trusted size after the later writes.
    trusted: u64,
    /// The snapshot's size.
    snap_size: u64,
    later: String,
}

fn diverged() -> Diverged {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let data = dir.join("data");
    let server = Server::start(&data, &[]);
    let alice = Twin::new(&dir, "alice");
    add_user_schema(&alice, &server.url, &dir);
    put_user(&alice, &server.url, "u0");
    put_user(&alice, &server.url, "u1");
    let snap_size = trusted_size(&alice);
    assert_eq!(snap_size, 3);
    let key = server.server_key.clone();
    server.kill9();
    let snapshot = dir.join("snapshot");
    copy_dir(&data, &snapshot);

    let server = Server::start(&data, &[]);
    assert_eq!(server.server_key, key, "the key lives in the data dir");
    put_user(&alice, &server.url, "u2");
    let later = put_user(&alice, &server.url, "u3");
    assert_eq!(alice.ok(&server.url, &["get", &later])["payload"]["name"], "u3");
    let trusted = trusted_size(&alice);
    assert_eq!(trusted, 5);
    server.kill9();
    Diverged { _tmp: tmp, dir, data, snapshot, alice, key, trusted, snap_size, later }
}

#[test]
fn rollback_to_an_older_copy_is_refused() {
    let d = diverged();
    let before = trust(&d.alice);
    let old = Server::start(&d.snapshot, &[]);
    assert_eq!(old.server_key, d.key, "same server key: only the log was rolled back");

    let err = d.alice.fails(&old.url, &["get", &d.later]);
    says(&err, &["rolled back", "3 entries", "verified 5"]);
    let err = d.alice.fails(&old.url, &["verify"]);
    says(&err, &["rolled back"]);
    assert_eq!(trust(&d.alice), before, "the trusted checkpoint is kept as evidence");

    // The old copy is otherwise a healthy server: a twin that never saw the bigger log has no
    // evidence and accepts it, so the refusal above is the rollback being caught.
    let newcomer = Twin::new(&d.dir, "newcomer");
    assert_eq!(newcomer.ok(&old.url, &["verify"])["size"], d.snap_size);
}

#[test]
fn forks_longer_or_of_the_same_size_are_refused() {
    let d = diverged();
    let before = trust(&d.alice);

    // A fork longer than what the twin verified: the consistency proof cannot exist.
    let longer = d.dir.join("fork-longer");
    copy_dir(&d.snapshot, &longer);
    let server = Server::start(&longer, &[]);
    let mallory = Twin::new(&d.dir, "mallory");
    for name in ["m2", "m3", "m4"] {
        put_user(&mallory, &server.url, name);
    }
    assert_eq!(trusted_size(&mallory), d.trusted + 1);
    let err = d.alice.fails(&server.url, &["verify"]);
    says(&err, &["forked or rewrote", "not an extension", "trusted checkpoint kept"]);
    let err = d.alice.fails(&server.url, &["get", &d.later]);
    says(&err, &["forked or rewrote"]);
    assert_eq!(trust(&d.alice), before);
    server.kill9();

    // A fork of exactly the trusted size with another root.
    let same = d.dir.join("fork-same");
    copy_dir(&d.snapshot, &same);
    let server = Server::start(&same, &[]);
    let eve = Twin::new(&d.dir, "eve");
    put_user(&eve, &server.url, "e2");
    put_user(&eve, &server.url, "e3");
    assert_eq!(trusted_size(&eve), d.trusted);
    let err = d.alice.fails(&server.url, &["get", &d.later]);
    says(&err, &["forked", "same size 5", "different root"]);
    assert_eq!(trust(&d.alice), before);

    // The honest log still satisfies the twin: the refusals above were not a broken client.
    let honest = Server::start(&d.data, &[]);
    assert_eq!(d.alice.ok(&honest.url, &["get", &d.later])["payload"]["name"], "u3");
}

/// The records of a segment file: (offset of the record header, entry length).
fn records(seg: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 16;
    while at + 8 <= seg.len() {
        let len = u32::from_le_bytes(seg[at..at + 4].try_into().unwrap()) as usize;
        out.push((at, len));
        at += 8 + len;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn segment_file(data: &Path) -> std::path::PathBuf {
    data.join("log").join(format!("seg-{:020}.log", 0))
}

fn bcdb(args: &[&str], data: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bcdb")).args(args).arg("--data").arg(data).output().unwrap()
}

#[test]
fn a_record_rewritten_with_a_valid_crc_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let server = Server::start(&data, &[]);
    let alice = Twin::new(dir, "alice");
    add_user_schema(&alice, &server.url, dir);
    let victim = put_user(&alice, &server.url, "victim-record");
    put_user(&alice, &server.url, "bystander");
    assert_eq!(alice.ok(&server.url, &["verify"])["ok"], true);
    let before = trust(&alice);
    server.kill9();

    // Rewrite the payload in place (same length) and fix up the record's CRC32C: the storage
    // layer cannot notice, only the Merkle log can.
    let path = segment_file(&data);
    let mut seg = std::fs::read(&path).unwrap();
    let at = find(&seg, b"victim-record").expect("the payload is stored verbatim");
    seg[at..at + 13].copy_from_slice(b"forged-record");
    let (start, len) = records(&seg).into_iter().find(|&(o, l)| o < at && at < o + 8 + l).unwrap();
    let crc = crc32c::crc32c(&seg[start + 8..start + 8 + len]);
    seg[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &seg).unwrap();

    // Offline, with the server's last checkpoint: the root no longer matches; exit code 1.
    let out = bcdb(&["--json", "verify"], &data);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<String> = report["problems"].as_array().unwrap().iter().map(s).collect();
    assert!(problems.iter().any(|p| p.contains("do not hash to the signed checkpoint's root")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("entry 1") && p.contains("signature")), "{problems:?}");

    // The server itself refuses to start on it.
    let err = Server::try_start(&data, &[]).err().expect("serve must refuse an altered log");
    says(&err, &["altered", "no longer hash to the root this server signed"]);

    // Without its checkpoint (and with the index rebuilt from the rewritten log, so that the
    // forged version 1 is served under its own object id) the server starts, but the twin's
    // trusted root exposes it.
    for name in ["checkpoint.json", "index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(name));
    }
    let (start, len) = records(&seg)[1];
    let forged = bcdb::revision::Entry::decode(&seg[start + 8..start + 8 + len]).unwrap();
    let forged_id = hex::encode(forged.revision.object_id());
    let server = Server::start(&data, &[]);
    let err = alice.fails(&server.url, &["get", &victim]);
    says(&err, &["forked", "different root"]);
    let err = alice.fails(&server.url, &["verify"]);
    says(&err, &["forked"]);
    assert_eq!(trust(&alice), before);
    // A twin with no history accepts the new root, but not the record: its author never signed it.
    let newcomer = Twin::new(dir, "newcomer");
    let err = newcomer.fails(&server.url, &["get", &forged_id]);
    says(&err, &["no valid signature by its author"]);
    assert!(!err.contains("forged-record"), "the forged payload must not be shown: {err}");
}

#[test]
fn a_server_with_another_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(&dir.join("data"), &[]);
    let alice = Twin::new(dir, "alice");
    add_user_schema(&alice, &server.url, dir);
    let id = put_user(&alice, &server.url, "pinned");
    let before = trust(&alice);

    // Pinned with --server-key: a client expecting another key refuses, and trusts nothing.
    let bob = Twin::new(dir, "bob");
    let other = Identity::generate(KeyScheme::TfV2).public_key().to_string();
    let err = bob.fails(&server.url, &["get", &id, "--server-key", &other]);
    says(&err, &["signed by", "trusts server key", &other]);
    assert!(!bob.trust_file.exists(), "nothing is trusted from a server with the wrong key");
    let got = bob.ok(&server.url, &["get", &id, "--server-key", &server.server_key]);
    assert_eq!(got["payload"]["name"], "pinned");

    // Pinned on first use: another server (another key) behind the same trust file is refused.
    let impostor = Server::start(&dir.join("impostor"), &[]);
    assert_ne!(impostor.server_key, server.server_key);
    let err = alice.fails(&impostor.url, &["get", &id]);
    says(&err, &["trusts server key", &server.server_key]);
    assert_eq!(trust(&alice), before);
}

// ---------------------------------------------------------------------------------------------
// A lying server, played by an HTTP/1.1 proxy in front of the real one.

/// A request as the proxy received it.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A response: status line text (`200 OK`) and body.
struct Reply {
    status: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn with_json(status: &str, v: &Value) -> Reply {
        Reply { status: status.to_string(), body: serde_json::to_vec(v).unwrap() }
    }
}

/// The real server, reached with one `Connection: close` request per exchange.
struct Upstream {
    addr: String,
}

impl Upstream {
    fn send(&self, req: &Request) -> Reply {
        let mut conn = TcpStream::connect(&self.addr).unwrap();
        let mut head = format!("{} {} HTTP/1.1\r\nhost: {}\r\n", req.method, req.path, self.addr);
        for (name, value) in &req.headers {
            if !["host", "connection", "keep-alive", "content-length"].contains(&name.to_lowercase().as_str()) {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", req.body.len()));
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(&req.body).unwrap();
        let mut raw = Vec::new();
        conn.read_to_end(&mut raw).unwrap();
        let split = find(&raw, b"\r\n\r\n").expect("a response head");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.lines();
        let status = lines.next().unwrap().split_once(' ').unwrap().1.to_string();
        let mut body = raw[split + 4..].to_vec();
        for line in lines {
            let (name, value) = line.split_once(':').unwrap();
            let name = name.trim().to_lowercase();
            assert_ne!(name, "transfer-encoding", "the proxy expects sized bodies");
            if name == "content-length" {
                body.truncate(value.trim().parse().unwrap());
            }
        }
        Reply { status, body }
    }

    /// An unsigned GET (the objects used here are public).
    fn get(&self, path: &str) -> Reply {
        let reply =
            self.send(&Request { method: "GET".into(), path: path.into(), headers: Vec::new(), body: Vec::new() });
        assert!(reply.status.starts_with("200"), "{path}: {} {}", reply.status, String::from_utf8_lossy(&reply.body));
        reply
    }
}

/// What the lying server does with one exchange: forward it (or not) and answer something.
type Rule = Arc<dyn Fn(&Upstream, Request) -> Reply + Send + Sync>;

struct Proxy {
    url: String,
    rule: Arc<Mutex<Rule>>,
}

fn honest() -> Rule {
    Arc::new(|up: &Upstream, req: Request| up.send(&req))
}

/// A rule that forwards everything and rewrites the JSON answers to requests matching `applies`.
fn rewrite(
    applies: impl Fn(&Request) -> bool + Send + Sync + 'static,
    f: impl Fn(&Upstream, &Request, &mut Value) + Send + Sync + 'static,
) -> Rule {
    Arc::new(move |up: &Upstream, req: Request| {
        let reply = up.send(&req);
        if !applies(&req) || !reply.status.starts_with('2') {
            return reply;
        }
        let mut v = reply.json();
        f(up, &req, &mut v);
        Reply::with_json(&reply.status, &v)
    })
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let rule = Arc::new(Mutex::new(honest()));
        let upstream = Arc::new(Upstream { addr: upstream.trim_start_matches("http://").to_string() });
        let shared = rule.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let rule = shared.lock().unwrap().clone();
                let upstream = upstream.clone();
                std::thread::spawn(move || serve_one(conn, &upstream, &rule));
            }
        });
        Proxy { url, rule }
    }

    fn set(&self, rule: Rule) {
        *self.rule.lock().unwrap() = rule;
    }
}

/// Reads one request, answers it through `rule`, and closes the connection.
fn serve_one(conn: TcpStream, upstream: &Upstream, rule: &Rule) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap().to_string(), parts.next().unwrap().to_string());
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':').unwrap();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().unwrap();
        }
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let reply = rule(upstream, Request { method, path, headers, body });
    let mut out = format!(
        "HTTP/1.1 {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        reply.status,
        reply.body.len()
    )
    .into_bytes();
    out.extend_from_slice(&reply.body);
    let mut conn = conn;
    let _ = conn.write_all(&out);
}

/// Flips one hex digit of a JSON string at character `at` (the result is still hex).
fn flip_hex(v: &mut Value, at: usize) {
    let mut text = s(v).into_bytes();
    text[at] = if text[at] == b'0' { b'1' } else { b'0' };
    *v = Value::String(String::from_utf8(text).unwrap());
}

fn random_hash() -> String {
    hex::encode(Identity::generate(KeyScheme::TfV2).public_key().0)
}

fn checkpoint_json(cp: &Checkpoint) -> Value {
    serde_json::to_value(cp).unwrap()
}

#[test]
fn forged_proofs_and_answers_through_a_proxy_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let server = Server::start(&data, &[]);
    let alice = Twin::new(dir, "alice");
    add_user_schema(&alice, &server.url, dir);
    let x = put_user(&alice, &server.url, "xavier");
    let v2 = alice.ok(&server.url, &["put", "--schema", "test.user.1", "--id", &x, r#"{"name":"xavier","age":2}"#]);
    assert_eq!(v2["version"], 2);
    let y = put_user(&alice, &server.url, "yolanda");
    assert_eq!(alice.ok(&server.url, &["verify"])["size"], 4);
    let size = 4u64;
    let server_id = Identity::load(&data.join("server-identity.json")).unwrap();

    // Through an honest proxy everything verifies: a refusal below is the lie being caught.
    let proxy = Proxy::start(&server.url);
    let p = proxy.url.as_str();
    assert_eq!(alice.ok(p, &["get", &x])["version"], 2);
    assert_eq!(alice.ok(p, &["get", &x, "--at", "2"])["version"], 1);
    assert_eq!(alice.ok(p, &["history", &x]).as_array().unwrap().len(), 2);
    assert_eq!(alice.ok(p, &["verify"])["ok"], true);
    let before = trust(&alice);

    let is_object = {
        let x = x.clone();
        move |r: &Request| r.path.starts_with(&format!("/v1/objects/{x}?"))
    };
    let is_checkpoint = |r: &Request| r.path == "/v1/checkpoint";
    let cases: Vec<(&str, Vec<&str>, Rule, Vec<&str>)> = vec![
        (
            "an inclusion proof element flipped",
            vec!["get", &x],
            rewrite(is_object.clone(), |_, _, v| flip_hex(&mut v["proof"][0], 7)),
            vec!["inclusion proof", "does not verify"],
        ),
        (
            "a hex digit of the entry bytes flipped",
            vec!["get", &x],
            rewrite(is_object.clone(), |_, _, v| {
                let at = s(&v["entry"]).len() / 2;
                flip_hex(&mut v["entry"], at)
            }),
            vec!["inclusion proof", "does not verify"],
        ),
        (
            "the checkpoint root replaced, signature left as it was",
            vec!["get", &x],
            rewrite(is_checkpoint, |_, _, v| v["root"] = Value::String(random_hash())),
            vec!["checkpoint signature does not verify"],
        ),
        (
            "the checkpoint root replaced and re-signed with the server's own key",
            vec!["get", &x],
            rewrite(is_checkpoint, {
                let id = server_id.clone();
                move |_, _, v| {
                    let root = bcdb::parse_hash(&random_hash()).unwrap();
                    *v = checkpoint_json(&Checkpoint::sign(&id, size, root, bcdb::now_ms()));
                }
            }),
            vec!["forked", "different root"],
        ),
        (
            "a longer log re-signed by the server with a made-up consistency proof",
            vec!["verify"],
            Arc::new({
                let id = server_id.clone();
                move |up: &Upstream, req: Request| {
                    if req.path == "/v1/checkpoint" {
                        let root = bcdb::parse_hash(&random_hash()).unwrap();
                        return Reply::with_json(
                            "200 OK",
                            &checkpoint_json(&Checkpoint::sign(&id, size + 1, root, bcdb::now_ms())),
                        );
                    }
                    if req.path.starts_with("/v1/consistency") {
                        let proof: Vec<String> = (0..3).map(|_| random_hash()).collect();
                        return Reply::with_json(
                            "200 OK",
                            &serde_json::json!({"from": size, "to": size + 1, "proof": proof}),
                        );
                    }
                    up.send(&req)
                }
            }),
            vec!["forked or rewrote", "trusted checkpoint kept"],
        ),
        (
            "a checkpoint signed by another key",
            vec!["get", &x],
            rewrite(is_checkpoint, move |_, _, v| {
                let other = Identity::generate(KeyScheme::TfV2);
                let root = bcdb::parse_hash(&random_hash()).unwrap();
                *v = checkpoint_json(&Checkpoint::sign(&other, size + 3, root, bcdb::now_ms()));
            }),
            vec!["signed by", "trusts server key"],
        ),
        (
            "another object's valid, proved entry",
            vec!["get", &x],
            rewrite(is_object.clone(), {
                let y = y.clone();
                move |up, _, v| *v = up.get(&format!("/v1/objects/{y}?size={size}")).json()
            }),
            vec!["another object"],
        ),
        (
            "an entry proved against an older tree size",
            vec!["get", &x],
            rewrite(is_object.clone(), {
                let x = x.clone();
                move |up, _, v| *v = up.get(&format!("/v1/objects/{x}?size={}", size - 1)).json()
            }),
            vec!["against size 3", "instead of the checkpoint's 4"],
        ),
        (
            "the current state given for a past size",
            vec!["get", &x, "--at", "2"],
            rewrite(is_object.clone(), {
                let x = x.clone();
                move |up, req, v| {
                    assert!(req.path.contains("at=2"), "{}", req.path);
                    *v = up.get(&format!("/v1/objects/{x}?size={size}")).json()
                }
            }),
            vec!["written after the requested size"],
        ),
        (
            "a history with its first revision hidden",
            vec!["history", &x],
            rewrite(
                |r: &Request| r.path.contains("/history"),
                |_, _, v| {
                    v["entries"].as_array_mut().unwrap().remove(0);
                },
            ),
            vec!["does not chain at version 1"],
        ),
        (
            "an inclusion proof with an extra element",
            vec!["get", &x],
            rewrite(is_object.clone(), |_, _, v| v["proof"].as_array_mut().unwrap().push(Value::String(random_hash()))),
            vec!["inclusion proof", "does not verify"],
        ),
        (
            "a leaf hash replaced in an audit",
            vec!["verify"],
            rewrite(
                |r: &Request| r.path.starts_with("/v1/leaves"),
                |_, _, v| v["hashes"][1] = Value::String(random_hash()),
            ),
            vec!["do not hash to the checkpoint's root"],
        ),
    ];
    for (what, args, rule, words) in cases {
        proxy.set(rule);
        let out = alice.run(p, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: the client accepted it: {}", String::from_utf8_lossy(&out.stdout));
        for w in words {
            assert!(err.contains(w), "{what}: expected {w:?} in: {err}");
        }
        assert_eq!(trust(&alice), before, "{what}: the trusted checkpoint must be kept");
    }

    // A receipt pointing at another (valid) entry: the write happened, the lie about it is caught.
    proxy.set(rewrite(|r: &Request| r.method == "POST", |_, _, v| v["index"] = 1.into()));
    let err = alice.fails(p, &["put", "--schema", "test.user.1", "--public", r#"{"name":"zoe"}"#]);
    says(&err, &["receipt points at entry 1", "not the submitted revision"]);

    // And with the proxy honest again, the same twin verifies the same server.
    proxy.set(honest());
    assert_eq!(alice.ok(p, &["get", &x])["version"], 2);
    assert_eq!(alice.ok(p, &["verify"])["ok"], true);
}
