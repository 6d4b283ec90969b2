//! Compatibility with a database written by the original 0-db v2.0.7.
//!
//! `shared/fixtures/zdb-v2` holds a data and an index directory left by the
//! reference server, and `expected.json`, every fact the original reported
//! about them (see the fixture's README.md for its schema). These tests start
//! our server on a copy of that directory and assert every fact:
//!
//! - `fixture_facts_hold_and_files_stay_untouched`: a read-only session
//!   (NSLIST, DBSIZE, NSINFO, SCAN/RSCAN, every live key with its complete
//!   HISTORY chain, deleted and unallocated ids, INFO), then SIGTERM, then
//!   the files must be byte-identical; a restart must change nothing.
//! - `writes_on_fixture_survive_restart`: a few writes on the copy (a new
//!   key, an update of a key with history, a DEL, a sequential append), then
//!   the old and the new facts, before and after a restart.
//!
//! One known difference from the original, on purpose: v2.0.7's HISTORY
//! reads the wrong data file for some versions (README, "HISTORY returns
//! wrong data"). We return the true stored payload, `history[i].value`, and
//! never look at `reference_history_reply`.
//!
//! Mismatches are collected, not fatal one by one: the test fails at the end
//! with every mismatch, each naming its namespace, key (hex) and field.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{fixture_dir, Dirs, Server};
use redis::{Connection, ConnectionLike, Value};
use serde::Deserialize;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// expected.json
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, Deserialize)]
struct Expected {
    format: String,
    /// INFO's version lines.
    server: BTreeMap<String, String>,
    nslist: Vec<String>,
    /// Every file under `data/` and `index/`, by path relative to the
    /// fixture root.
    files: BTreeMap<String, FileFact>,
    namespaces: Vec<NsFact>,
}

#[derive(Clone, Debug, Deserialize)]
struct FileFact {
    size: u64,
    sha256: String,
}

#[derive(Clone, Debug, Deserialize)]
struct NsFact {
    name: String,
    password: Option<String>,
    dbsize: i64,
    /// NSINFO fields as printed; compared exactly.
    nsinfo: BTreeMap<String, String>,
    select_checks: Option<SelectChecks>,
    scan: Vec<ScanFact>,
    rscan: Vec<ScanFact>,
    keys: Vec<KeyFact>,
    deleted_keys: Vec<DeadKeyFact>,
    next_id: Option<u64>,
    history_copy_ids: Option<Vec<DeadKeyFact>>,
    unallocated_ids: Option<Vec<DeadKeyFact>>,
}

/// Replies to SELECT with no password, a wrong one and the right one.
#[derive(Clone, Debug, Deserialize)]
struct SelectChecks {
    no_password: serde_json::Value,
    wrong_password: serde_json::Value,
    right_password: serde_json::Value,
}

#[derive(Clone, Debug, Deserialize)]
struct ScanFact {
    key_hex: String,
    len: i64,
    timestamp: i64,
}

/// A stored payload: length and SHA-256, plus the bytes when short.
#[derive(Clone, Debug, Deserialize)]
struct ValueFact {
    len: usize,
    sha256: String,
    hex: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct KeyFact {
    /// For seq namespaces, the 8-byte little-endian id.
    key_hex: String,
    value: ValueFact,
    length: i64,
    keytime: i64,
    exists: i64,
    check: i64,
    keycur_hex: String,
    /// Newest first.
    history: Vec<VersionFact>,
}

#[derive(Clone, Debug, Deserialize)]
struct VersionFact {
    timestamp: i64,
    /// The true stored payload (what we must return).
    value: ValueFact,
    /// The cursor leading to the next older version; `None` on the oldest.
    next_cursor_hex: Option<String>,
    /// Where this version's index entry is (what a HISTORY cursor to it
    /// names); unknown for versions the tests write.
    #[serde(default)]
    index_file: Option<u32>,
    #[serde(default)]
    index_offset: Option<u32>,
}

impl VersionFact {
    /// The 8-byte HISTORY cursor that leads to this version: file id and
    /// offset of its index entry, both u32 little-endian.
    fn cursor_to(&self) -> Vec<u8> {
        let (file, offset) = (self.index_file.expect("index_file"), self.index_offset.expect("index_offset"));
        [file.to_le_bytes(), offset.to_le_bytes()].concat()
    }
}

/// A key (or seq id) that is not live, and the exact replies to GET, EXISTS,
/// LENGTH, KEYTIME, CHECK, KEYCUR and HISTORY on it.
#[derive(Clone, Debug, Deserialize)]
struct DeadKeyFact {
    key_hex: String,
    replies: BTreeMap<String, serde_json::Value>,
}

fn load_expected() -> Expected {
    let path = fixture_dir().join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let expected: Expected = serde_json::from_str(&text).expect("expected.json matches the documented schema");
    assert_eq!(expected.format, "zdb-v2-fixture/1", "unknown fixture format");
    expected
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:?} in expected.json: {e}"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl ValueFact {
    /// The fact describing `bytes`, in the fixture's own encoding.
    fn of(bytes: &[u8]) -> ValueFact {
        ValueFact {
            len: bytes.len(),
            sha256: sha256_hex(bytes),
            hex: (bytes.len() <= 8192).then(|| hex::encode(bytes)),
        }
    }
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/// A RESP2 reply, with error texts kept whole (no `ERR` prefix in 0-db).
#[derive(Clone, PartialEq)]
enum Reply {
    Nil,
    Int(i64),
    Bulk(Vec<u8>),
    Status(String),
    Error(String),
    Array(Vec<Reply>),
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Nil => write!(f, "nil"),
            Reply::Int(n) => write!(f, ":{n}"),
            Reply::Bulk(b) if b.len() > 64 => {
                write!(f, "${} \"{}…\" (sha256 {})", b.len(), b[..48].escape_ascii(), &sha256_hex(b)[..16])
            }
            Reply::Bulk(b) => write!(f, "${} \"{}\"", b.len(), b.escape_ascii()),
            Reply::Status(s) => write!(f, "+{s}"),
            Reply::Error(s) => write!(f, "-{s}"),
            Reply::Array(items) => f.debug_list().entries(items).finish(),
        }
    }
}

impl Reply {
    fn from_redis(v: Value) -> Reply {
        match v {
            Value::Nil => Reply::Nil,
            Value::Int(n) => Reply::Int(n),
            Value::BulkString(b) => Reply::Bulk(b),
            Value::Okay => Reply::Status("OK".into()),
            Value::SimpleString(s) => Reply::Status(s),
            Value::Array(items) => Reply::Array(items.into_iter().map(Reply::from_redis).collect()),
            // The client splits "-Key not found" into code "Key" and details
            // "not found"; put the text back together.
            Value::ServerError(e) => Reply::Error(match e.details() {
                Some(details) => format!("{} {details}", e.code()),
                None => e.code().to_string(),
            }),
            other => panic!("unexpected RESP3 reply from a RESP2 server: {other:?}"),
        }
    }

    /// A reply as `expected.json` encodes it: `null`, an int,
    /// `{"error": text}`, `{"bulk_hex": hex}` or `{"status": text}`.
    fn from_fact(v: &serde_json::Value) -> Reply {
        use serde_json::Value as J;
        match v {
            J::Null => Reply::Nil,
            J::Number(n) => Reply::Int(n.as_i64().expect("integer reply")),
            J::Object(m) if m.len() == 1 => {
                let (kind, text) = m.iter().next().unwrap();
                let text = text.as_str().expect("reply text is a string");
                match kind.as_str() {
                    "error" => Reply::Error(text.into()),
                    "status" => Reply::Status(text.into()),
                    "bulk_hex" => Reply::Bulk(unhex(text)),
                    _ => panic!("unknown reply encoding {v}"),
                }
            }
            _ => panic!("unknown reply encoding {v}"),
        }
    }

    fn cursor(bytes: Option<&[u8]>) -> Reply {
        bytes.map_or(Reply::Nil, |b| Reply::Bulk(b.to_vec()))
    }
}

/// A connection that returns every reply, errors included, as a `Reply`.
struct Client {
    con: Connection,
}

impl Client {
    fn new(server: &Server) -> Client {
        Client { con: server.client() }
    }

    fn cmd(&mut self, name: &str, args: &[&[u8]]) -> Reply {
        let mut cmd = redis::cmd(name);
        for a in args {
            cmd.arg(*a);
        }
        let value = self.con.req_command(&cmd).unwrap_or_else(|e| panic!("{name}: connection failed: {e}"));
        Reply::from_redis(value)
    }

    /// `key: value` lines of an INFO or NSINFO text reply.
    fn fields(&mut self, name: &str, args: &[&[u8]]) -> Result<BTreeMap<String, String>, Reply> {
        match self.cmd(name, args) {
            Reply::Bulk(text) => Ok(String::from_utf8_lossy(&text)
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect()),
            other => Err(other),
        }
    }
}

// ---------------------------------------------------------------------------
// Collecting mismatches
// ---------------------------------------------------------------------------

/// Where a fact lives: namespace, key and field, for messages.
fn at(ns: &str, key: &[u8], field: &str) -> String {
    let printable = key.escape_ascii().to_string();
    let shown = if printable.len() > 40 { format!("{}…", &printable[..40]) } else { printable };
    format!("ns {ns} / key {} (\"{shown}\") / {field}", hex::encode(key))
}

#[derive(Default)]
struct Checker {
    checks: usize,
    failures: Vec<String>,
}

impl Checker {
    fn eq<T: PartialEq + fmt::Debug>(&mut self, what: impl fmt::Display, got: T, want: T) -> bool {
        self.checks += 1;
        let ok = got == want;
        if !ok {
            self.failures.push(format!("{what}: got {got:?}, expected {want:?}"));
        }
        ok
    }

    fn fail(&mut self, what: impl fmt::Display, why: impl fmt::Display) {
        self.checks += 1;
        self.failures.push(format!("{what}: {why}"));
    }

    /// A payload against its value fact: length, SHA-256, and the bytes
    /// when the fixture has them.
    fn value(&mut self, what: &str, got: &Reply, want: &ValueFact) {
        let Reply::Bulk(bytes) = got else {
            return self.fail(what, format!("expected a bulk string of {} bytes, got {got:?}", want.len));
        };
        if self.eq(format!("{what} (length)"), bytes.len(), want.len) {
            if let Some(hex) = &want.hex {
                self.eq(format!("{what} (bytes, hex)"), hex::encode(bytes), hex.clone());
            }
            self.eq(format!("{what} (sha256)"), sha256_hex(bytes), want.sha256.clone());
        }
    }

    /// Panics with every mismatch found.
    fn finish(self, label: &str) {
        eprintln!("{label}: {} checks, {} failures", self.checks, self.failures.len());
        if !self.failures.is_empty() {
            let shown: Vec<&str> = self.failures.iter().take(80).map(|s| s.as_str()).collect();
            panic!(
                "{label}: {} of {} checks failed:\n  {}{}",
                self.failures.len(),
                self.checks,
                shown.join("\n  "),
                if self.failures.len() > shown.len() { "\n  …" } else { "" }
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// Every fact of `expected` (files aside) against a running server.
fn check_database(ck: &mut Checker, server: &Server, expected: &Expected) {
    let mut client = Client::new(server);

    match client.cmd("NSLIST", &[]) {
        Reply::Array(items) => {
            let mut names: Vec<Vec<u8>> = items
                .into_iter()
                .map(|r| if let Reply::Bulk(b) = r { b } else { format!("{r:?}").into_bytes() })
                .collect();
            names.sort();
            let want: Vec<Vec<u8>> = expected.nslist.iter().map(|n| n.as_bytes().to_vec()).collect();
            ck.eq("NSLIST (sorted)", names, want);
        }
        other => ck.fail("NSLIST", format!("expected an array, got {other:?}")),
    }

    match client.fields("INFO", &[]) {
        Ok(info) => {
            for field in ["sequential_key_size", "data_version", "index_version"] {
                ck.eq(format!("INFO {field}"), info.get(field), expected.server.get(field));
            }
        }
        Err(other) => ck.fail("INFO", format!("expected a bulk text, got {other:?}")),
    }

    for ns in &expected.namespaces {
        check_namespace(ck, &mut client, ns);
    }
}

fn check_namespace(ck: &mut Checker, client: &mut Client, ns: &NsFact) {
    let name = ns.name.as_str();
    select(ck, client, ns);

    ck.eq(format!("ns {name} / DBSIZE"), client.cmd("DBSIZE", &[]), Reply::Int(ns.dbsize));

    match client.fields("NSINFO", &[name.as_bytes()]) {
        Ok(info) => {
            for (field, want) in &ns.nsinfo {
                ck.eq(format!("ns {name} / NSINFO {field}"), info.get(field), Some(want));
            }
        }
        Err(other) => ck.fail(format!("ns {name} / NSINFO"), format!("expected a bulk text, got {other:?}")),
    }

    for (command, want) in [("SCAN", &ns.scan), ("RSCAN", &ns.rscan)] {
        check_scan(ck, client, name, command, want);
    }

    for key in &ns.keys {
        check_live_key(ck, client, name, key);
    }
    let dead =
        ns.deleted_keys.iter().chain(ns.history_copy_ids.iter().flatten()).chain(ns.unallocated_ids.iter().flatten());
    for key in dead {
        check_dead_key(ck, client, name, key);
    }
}

/// SELECT the namespace; with a password, first the recorded refusals.
fn select(ck: &mut Checker, client: &mut Client, ns: &NsFact) {
    let name = ns.name.as_bytes();
    let what = |case: &str| format!("ns {} / SELECT ({case})", ns.name);
    match (&ns.password, &ns.select_checks) {
        (Some(password), Some(checks)) => {
            let no_password = client.cmd("SELECT", &[name]);
            ck.eq(what("no password"), no_password, Reply::from_fact(&checks.no_password));
            let wrong = client.cmd("SELECT", &[name, b"not-the-password"]);
            ck.eq(what("wrong password"), wrong, Reply::from_fact(&checks.wrong_password));
            let right = client.cmd("SELECT", &[name, password.as_bytes()]);
            ck.eq(what("right password"), right, Reply::from_fact(&checks.right_password));
        }
        (None, None) => {
            ck.eq(what("no password"), client.cmd("SELECT", &[name]), Reply::Status("OK".into()));
        }
        _ => panic!("namespace {}: password and select_checks go together", ns.name),
    }
}

/// SCAN or RSCAN from no cursor, following cursors until "No more data".
fn check_scan(ck: &mut Checker, client: &mut Client, ns: &str, command: &str, want: &[ScanFact]) {
    let what = format!("ns {ns} / {command}");
    let want: Vec<(Vec<u8>, i64, i64)> = want.iter().map(|s| (unhex(&s.key_hex), s.len, s.timestamp)).collect();
    let mut got = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let reply = match &cursor {
            None => client.cmd(command, &[]),
            Some(c) => client.cmd(command, &[c]),
        };
        match reply {
            Reply::Error(e) if e == "No more data" => break,
            Reply::Array(parts) => match parts.as_slice() {
                [Reply::Bulk(next), Reply::Array(items)] => {
                    for item in items {
                        match item {
                            Reply::Array(f) => match f.as_slice() {
                                [Reply::Bulk(k), Reply::Int(len), Reply::Int(ts)] => got.push((k.clone(), *len, *ts)),
                                _ => return ck.fail(&what, format!("bad entry {item:?}")),
                            },
                            _ => return ck.fail(&what, format!("bad entry {item:?}")),
                        }
                    }
                    ck.eq(format!("{what} (cursor length)"), next.len(), 17);
                    if cursor.as_deref() == Some(&next[..]) || got.len() > want.len() + 10 {
                        return ck.fail(&what, format!("does not end: {} entries so far", got.len()));
                    }
                    cursor = Some(next.clone());
                }
                _ => return ck.fail(&what, format!("bad reply {parts:?}")),
            },
            other => return ck.fail(&what, format!("expected a page or -No more data, got {other:?}")),
        }
    }
    if got.len() != want.len() {
        ck.fail(&what, format!("{} entries, expected {}", got.len(), want.len()));
    }
    // Keys as hex, so that a mismatch reads well.
    let readable = |(k, len, ts): &(Vec<u8>, i64, i64)| (hex::encode(k), *len, *ts);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        ck.eq(at(ns, &w.0, &format!("{command} entry {i} (key hex, len, timestamp)")), readable(g), readable(w));
    }
}

fn check_live_key(ck: &mut Checker, client: &mut Client, ns: &str, fact: &KeyFact) {
    let key = unhex(&fact.key_hex);
    let k = key.as_slice();
    ck.value(&at(ns, k, "GET"), &client.cmd("GET", &[k]), &fact.value);
    ck.eq(at(ns, k, "LENGTH"), client.cmd("LENGTH", &[k]), Reply::Int(fact.length));
    ck.eq(at(ns, k, "KEYTIME"), client.cmd("KEYTIME", &[k]), Reply::Int(fact.keytime));
    ck.eq(at(ns, k, "EXISTS"), client.cmd("EXISTS", &[k]), Reply::Int(fact.exists));
    ck.eq(at(ns, k, "CHECK"), client.cmd("CHECK", &[k]), Reply::Int(fact.check));
    ck.eq(at(ns, k, "KEYCUR"), client.cmd("KEYCUR", &[k]), Reply::Bulk(unhex(&fact.keycur_hex)));
    check_history(ck, client, ns, k, &fact.history);
}

/// The whole HISTORY chain: step 0 is `HISTORY key`, step i passes the
/// cursor of step i-1. Each reply is `[cursor or nil, "timestamp", payload]`.
fn check_history(ck: &mut Checker, client: &mut Client, ns: &str, key: &[u8], versions: &[VersionFact]) {
    let mut cursor: Option<Vec<u8>> = None;
    for (i, version) in versions.iter().enumerate() {
        let what = |field: &str| at(ns, key, &format!("HISTORY step {i} {field}"));
        let reply = match &cursor {
            None => client.cmd("HISTORY", &[key]),
            Some(c) => client.cmd("HISTORY", &[key, c]),
        };
        let want_cursor = version.next_cursor_hex.as_deref().map(unhex);
        match reply {
            Reply::Array(parts) if parts.len() == 3 => {
                ck.eq(what("cursor"), &parts[0], &Reply::cursor(want_cursor.as_deref()));
                ck.eq(what("timestamp"), &parts[1], &Reply::Bulk(version.timestamp.to_string().into_bytes()));
                ck.value(&what("payload"), &parts[2], &version.value);
            }
            other => ck.fail(what("reply"), format!("expected [cursor, timestamp, payload], got {other:?}")),
        }
        // Follow the recorded chain even after a mismatch, so that one bad
        // step does not hide the rest.
        cursor = want_cursor;
        if cursor.is_none() && i + 1 < versions.len() {
            panic!("{}: expected.json chain ends early", what("cursor"));
        }
    }
}

fn check_dead_key(ck: &mut Checker, client: &mut Client, ns: &str, fact: &DeadKeyFact) {
    let key = unhex(&fact.key_hex);
    for (command, want) in &fact.replies {
        ck.eq(at(ns, &key, command), client.cmd(command, &[&key]), Reply::from_fact(want));
    }
}

/// Our copy of a fixture path like `data/default/d0`.
fn copy_path(dirs: &Dirs, rel: &str) -> PathBuf {
    match rel.split_once('/') {
        Some(("data", rest)) => dirs.data.join(rest),
        Some(("index", rest)) => dirs.index.join(rest),
        _ => panic!("unexpected path {rel:?} in expected.json files"),
    }
}

fn is_empty_lockfile(rel: &str, fact: &FileFact) -> bool {
    rel.ends_with("/.lockfile") && fact.size == 0
}

/// Every listed file has its recorded size and SHA-256 (empty `.lockfile`s
/// aside: they carry nothing).
fn check_listed_files(ck: &mut Checker, dirs: &Dirs, files: &BTreeMap<String, FileFact>) {
    for (rel, want) in files {
        if is_empty_lockfile(rel, want) {
            continue;
        }
        match std::fs::read(copy_path(dirs, rel)) {
            Ok(bytes) => {
                ck.eq(format!("file {rel} (size)"), bytes.len() as u64, want.size);
                ck.eq(format!("file {rel} (sha256)"), sha256_hex(&bytes), want.sha256.clone());
            }
            Err(e) => ck.fail(format!("file {rel}"), e),
        }
    }
}

/// The files are exactly the fixture's: every listed file unchanged, and no
/// other file appeared (`.lockfile`s aside).
fn check_files(ck: &mut Checker, dirs: &Dirs, files: &BTreeMap<String, FileFact>) {
    check_listed_files(ck, dirs, files);
    let listed: BTreeSet<PathBuf> = files.keys().map(|rel| copy_path(dirs, rel)).collect();
    let mut present = Vec::new();
    list_files(&dirs.data, &mut present);
    list_files(&dirs.index, &mut present);
    for path in present {
        if !listed.contains(&path) && path.file_name().is_some_and(|n| n != ".lockfile") {
            ck.fail(format!("file {}", path.display()), "appeared during a read-only session");
        }
    }
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            list_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn namespace<'a>(expected: &'a mut Expected, name: &str) -> &'a mut NsFact {
    expected.namespaces.iter_mut().find(|n| n.name == name).unwrap_or_else(|| panic!("no namespace {name}"))
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn fixture_facts_hold_and_files_stay_untouched() {
    let expected = load_expected();
    let dirs = Dirs::from_fixture();

    let server = Server::start(&dirs, &[]);
    let mut ck = Checker::default();
    check_database(&mut ck, &server, &expected);
    assert_eq!(server.terminate(), Some(143), "SIGTERM exit code");
    check_files(&mut ck, &dirs, &expected.files);
    ck.finish("first session");

    // A restart on the same files sees the same database (all of it again:
    // it takes a fraction of a second) and still writes nothing.
    let server = Server::start(&dirs, &[]);
    let mut ck = Checker::default();
    check_database(&mut ck, &server, &expected);
    assert_eq!(server.terminate(), Some(143), "SIGTERM exit code after restart");
    check_files(&mut ck, &dirs, &expected.files);
    ck.finish("restarted session");
}

/// What a write test observed about a key it wrote, before restarting.
struct Written {
    key: Vec<u8>,
    value: Vec<u8>,
    timestamp: i64,
    keycur: Vec<u8>,
    /// The HISTORY cursor of the new version (to the one it replaced).
    history_cursor: Option<Vec<u8>>,
}

impl Written {
    /// Reads back what the server says about a key just written.
    fn observe(ck: &mut Checker, client: &mut Client, ns: &str, key: &[u8], value: &[u8], window: (i64, i64)) -> Self {
        let timestamp = match client.cmd("KEYTIME", &[key]) {
            Reply::Int(t) => t,
            other => panic!("{}: {other:?}", at(ns, key, "KEYTIME after write")),
        };
        if timestamp < window.0 || timestamp > window.1 {
            ck.fail(at(ns, key, "KEYTIME after write"), format!("{timestamp} is outside {window:?}"));
        }
        let keycur = match client.cmd("KEYCUR", &[key]) {
            Reply::Bulk(c) if c.len() == 17 => c,
            other => panic!("{}: {other:?}", at(ns, key, "KEYCUR after write")),
        };
        let history_cursor = match client.cmd("HISTORY", &[key]) {
            Reply::Array(parts) if parts.len() == 3 => match &parts[0] {
                Reply::Nil => None,
                Reply::Bulk(c) if c.len() == 8 => Some(c.clone()),
                other => panic!("{}: {other:?}", at(ns, key, "HISTORY cursor after write")),
            },
            other => panic!("{}: {other:?}", at(ns, key, "HISTORY after write")),
        };
        Written { key: key.to_vec(), value: value.to_vec(), timestamp, keycur, history_cursor }
    }

    fn version(&self) -> VersionFact {
        VersionFact {
            timestamp: self.timestamp,
            value: ValueFact::of(&self.value),
            next_cursor_hex: self.history_cursor.as_deref().map(hex::encode),
            index_file: None,
            index_offset: None,
        }
    }

    /// The key's facts, on top of the versions it had before.
    fn key_fact(&self, older: &[VersionFact]) -> KeyFact {
        KeyFact {
            key_hex: hex::encode(&self.key),
            value: ValueFact::of(&self.value),
            length: self.value.len() as i64,
            keytime: self.timestamp,
            exists: 1,
            check: 1,
            keycur_hex: hex::encode(&self.keycur),
            history: std::iter::once(self.version()).chain(older.iter().cloned()).collect(),
        }
    }

    fn scan_fact(&self) -> ScanFact {
        ScanFact { key_hex: hex::encode(&self.key), len: self.value.len() as i64, timestamp: self.timestamp }
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Keeps only the NSINFO fields a write cannot change (sizes and offsets
/// move), with the new entry count.
fn stable_nsinfo(ns: &mut NsFact) {
    ns.nsinfo
        .retain(|k, _| matches!(k.as_str(), "name" | "public" | "worm" | "password" | "data_limits_bytes" | "mode"));
    ns.nsinfo.insert("entries".into(), ns.dbsize.to_string());
}

fn remove_key(ns: &mut NsFact, key: &[u8]) -> KeyFact {
    let hex = hex::encode(key);
    ns.scan.retain(|s| s.key_hex != hex);
    ns.rscan.retain(|s| s.key_hex != hex);
    let i = ns.keys.iter().position(|k| k.key_hex == hex).unwrap_or_else(|| panic!("{hex} is not a live key"));
    ns.keys.remove(i)
}

/// Appends a write at the end of the write order.
fn push_write(ns: &mut NsFact, key: KeyFact, scan: ScanFact) {
    ns.keys.push(key);
    ns.scan.push(scan.clone());
    ns.rscan.insert(0, scan);
}

#[test]
fn writes_on_fixture_survive_restart() {
    const NEW_KEY: &[u8] = b"zdb-rs:new\x00key";
    const NEW_VALUE: &[u8] = b"written by the fixture test\r\n\xff";
    const UPDATED: &[u8] = b"counter";
    const UPDATED_VALUE: &[u8] = b"7";
    const DELETED: &[u8] = b"key:001";
    const APPENDED: &[u8] = b"appended after the fixture (id 26)";

    let mut expected = load_expected();
    let dirs = Dirs::from_fixture();
    let server = Server::start(&dirs, &[]);
    let mut client = Client::new(&server);
    let mut ck = Checker::default();

    // The writes, and what they reply.
    let start = now();
    ck.eq("SELECT default", client.cmd("SELECT", &[b"default"]), Reply::Status("OK".into()));
    ck.eq(
        at("default", NEW_KEY, "SET (new key)"),
        client.cmd("SET", &[NEW_KEY, NEW_VALUE]),
        Reply::Bulk(NEW_KEY.into()),
    );
    ck.eq(
        at("default", UPDATED, "SET (update)"),
        client.cmd("SET", &[UPDATED, UPDATED_VALUE]),
        Reply::Bulk(UPDATED.into()),
    );
    ck.eq(at("default", UPDATED, "SET (same value again)"), client.cmd("SET", &[UPDATED, UPDATED_VALUE]), Reply::Nil);
    ck.eq(at("default", DELETED, "DEL"), client.cmd("DEL", &[DELETED]), Reply::Status("OK".into()));
    ck.eq("SELECT seqns", client.cmd("SELECT", &[b"seqns"]), Reply::Status("OK".into()));
    let id26 = 26u64.to_le_bytes();
    ck.eq(at("seqns", &id26, "SET \"\" (append)"), client.cmd("SET", &[b"", APPENDED]), Reply::Bulk(id26.to_vec()));
    let window = (start, now());

    // Observe the new versions (time, cursor) and fold them into the facts.
    client.cmd("SELECT", &[b"default"]);
    let new_key = Written::observe(&mut ck, &mut client, "default", NEW_KEY, NEW_VALUE, window);
    let updated = Written::observe(&mut ck, &mut client, "default", UPDATED, UPDATED_VALUE, window);
    client.cmd("SELECT", &[b"seqns"]);
    let appended = Written::observe(&mut ck, &mut client, "seqns", &id26, APPENDED, window);
    ck.eq(at("default", NEW_KEY, "HISTORY cursor after write"), new_key.history_cursor.is_some(), false);
    ck.eq(at("default", UPDATED, "HISTORY cursor after write"), updated.history_cursor.is_some(), true);
    ck.eq(at("seqns", &id26, "HISTORY cursor after write"), appended.history_cursor.is_some(), false);
    drop(client);

    let default = namespace(&mut expected, "default");
    let old_counter = remove_key(default, UPDATED);
    // The new version's HISTORY cursor leads to the fixture's newest one.
    let to_old = Some(old_counter.history[0].cursor_to());
    ck.eq(at("default", UPDATED, "HISTORY cursor after update"), &updated.history_cursor, &to_old);
    let old_deleted = remove_key(default, DELETED);
    let tombstone_replies = default.deleted_keys[0].replies.clone();
    default.deleted_keys.push(DeadKeyFact { key_hex: old_deleted.key_hex, replies: tombstone_replies });
    push_write(default, new_key.key_fact(&[]), new_key.scan_fact());
    push_write(default, updated.key_fact(&old_counter.history), updated.scan_fact());
    assert_eq!(default.keys.len(), 52);
    default.dbsize = 52;
    stable_nsinfo(default);

    let seqns = namespace(&mut expected, "seqns");
    push_write(seqns, appended.key_fact(&[]), appended.scan_fact());
    let unallocated = seqns.unallocated_ids.as_mut().expect("seqns has unallocated_ids");
    assert_eq!(unallocated.remove(0).key_hex, hex::encode(id26));
    let next = unallocated[0].clone();
    unallocated.push(DeadKeyFact { key_hex: hex::encode(28u64.to_le_bytes()), replies: next.replies });
    seqns.dbsize += 1;
    stable_nsinfo(seqns);
    seqns.nsinfo.insert("next_internal_id".into(), format!("0x{:016x}", 27u64.swap_bytes()));
    seqns.next_id = Some(27);

    // Everything holds while running, and after a clean restart.
    check_database(&mut ck, &server, &expected);
    assert_eq!(server.terminate(), Some(143), "SIGTERM exit code");
    // Namespaces nobody wrote to keep their files byte for byte.
    let untouched: BTreeMap<String, FileFact> = expected
        .files
        .iter()
        .filter(|(rel, _)| !["/default/", "/seqns/"].iter().any(|ns| rel.contains(ns)))
        .map(|(rel, fact)| (rel.clone(), fact.clone()))
        .collect();
    check_listed_files(&mut ck, &dirs, &untouched);
    ck.finish("session with writes");

    let server = Server::start(&dirs, &[]);
    let mut ck = Checker::default();
    check_database(&mut ck, &server, &expected);
    ck.finish("restart after writes");
}
