//! Every command's success and error replies, checked against a real `zdb`
//! process through the `redis` crate (reply TYPES via `redis::Value`, error
//! texts compared exactly), a few raw sockets and `redis-cli`.
//!
//! The expected behaviour is the original's (`shared/reference/0db.md`,
//! sections 2-4 and 6) with our deliberate differences: exact (no prefix)
//! command names, SELECT SECURE consumes its nonce, FLUSH really deletes,
//! KSCAN always available in user-key mode, STOP admin-only with a clean
//! exit, HISTORY returns the right payloads, DATA RAW serves tombstones.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{raw_exchange, Dirs, Server};
use redis::{Connection, ConnectionLike, Value};
use sha1::{Digest, Sha1};

const ADMIN: &str = "pw";

// ------------------------------------------------------------------ helpers

/// Sends one command; the reply comes back as-is, errors included (as
/// `Value::ServerError`). Only an I/O failure panics.
macro_rules! q {
    ($con:expr, $name:expr $(, $arg:expr)* $(,)?) => {{
        #[allow(unused_mut)]
        let mut c = redis::cmd($name);
        $( c.arg($arg); )*
        $con.query_value(&c)
    }};
}

/// Lets `q!` take an owned connection or a `&mut` binding alike.
trait Query {
    fn query_value(&mut self, cmd: &redis::Cmd) -> Value;
}

impl Query for Connection {
    fn query_value(&mut self, cmd: &redis::Cmd) -> Value {
        self.req_command(cmd).expect("the connection works")
    }
}

fn send(con: &mut Connection, cmd: &redis::Cmd) -> Value {
    con.query_value(cmd)
}

/// A `redis` connection that gives up instead of hanging forever.
fn client(server: &Server) -> Connection {
    let con = server.client();
    con.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    con
}

/// A connection authenticated as admin.
fn admin_client(server: &Server) -> Connection {
    let mut con = client(server);
    assert_status(q!(con, "AUTH", ADMIN), "OK");
    con
}

/// A short rendering of a reply for failure messages (values can be 8 MiB).
fn show(v: &Value) -> String {
    let s = format!("{v:?}");
    if s.len() > 400 {
        format!("{}… ({} chars)", s.chars().take(400).collect::<String>(), s.len())
    } else {
        s
    }
}

/// The text of an error reply, exactly as sent after the `-`.
fn err_text(v: &Value) -> Option<String> {
    match v {
        Value::ServerError(e) => Some(match e.details() {
            Some(d) => format!("{} {}", e.code(), d),
            None => e.code().to_string(),
        }),
        _ => None,
    }
}

#[track_caller]
fn assert_err(v: Value, text: &str) {
    assert_eq!(err_text(&v).as_deref(), Some(text), "expected -{text}, got {}", show(&v));
}

#[track_caller]
fn assert_is_err(v: Value) -> String {
    err_text(&v).unwrap_or_else(|| panic!("expected an error, got {}", show(&v)))
}

#[track_caller]
fn assert_not_err(v: &Value) {
    assert!(err_text(v).is_none(), "unexpected error reply {}", show(v));
}

#[track_caller]
fn assert_status(v: Value, want: &str) {
    let ok = match &v {
        Value::Okay => want == "OK",
        Value::SimpleString(s) => s == want,
        _ => false,
    };
    assert!(ok, "expected status +{want}, got {}", show(&v));
}

#[track_caller]
fn assert_bulk(v: Value, want: impl AsRef<[u8]>) {
    let want = want.as_ref();
    match &v {
        Value::BulkString(b) => assert!(
            b == want,
            "expected bulk {:?} ({} bytes), got {}",
            String::from_utf8_lossy(&want[..want.len().min(200)]),
            want.len(),
            show(&v)
        ),
        _ => panic!("expected a bulk string, got {}", show(&v)),
    }
}

#[track_caller]
fn assert_nil(v: Value) {
    assert!(matches!(v, Value::Nil), "expected nil, got {}", show(&v));
}

#[track_caller]
fn assert_int(v: Value, n: i64) {
    assert!(matches!(v, Value::Int(x) if x == n), "expected :{n}, got {}", show(&v));
}

#[track_caller]
fn bulk(v: Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b,
        other => panic!("expected a bulk string, got {}", show(&other)),
    }
}

#[track_caller]
fn array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => panic!("expected an array, got {}", show(&other)),
    }
}

#[track_caller]
fn int(v: Value) -> i64 {
    match v {
        Value::Int(n) => n,
        other => panic!("expected an integer, got {}", show(&other)),
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// NSINFO as a map of its `key: value` lines.
#[track_caller]
fn nsinfo(con: &mut Connection, ns: &str) -> HashMap<String, String> {
    let text = String::from_utf8(bulk(q!(con, "NSINFO", ns))).unwrap();
    text.lines().filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[track_caller]
fn nsinfo_u64(con: &mut Connection, ns: &str, field: &str) -> u64 {
    let info = nsinfo(con, ns);
    info.get(field).unwrap_or_else(|| panic!("NSINFO {ns} has no {field}: {info:?}")).parse().unwrap()
}

/// `AUTH SECURE CHALLENGE`: a fresh 16-hex-digit nonce.
#[track_caller]
fn challenge(con: &mut Connection) -> String {
    match q!(con, "AUTH", "SECURE", "CHALLENGE") {
        Value::SimpleString(nonce) => {
            assert_eq!(nonce.len(), 16, "nonce {nonce:?}");
            assert!(nonce.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "nonce {nonce:?}");
            nonce
        }
        other => panic!("expected a status nonce, got {}", show(&other)),
    }
}

/// What `AUTH SECURE` and `SELECT … SECURE` expect: sha1("nonce:password").
fn secure_hash(nonce: &str, password: &str) -> String {
    hex::encode(Sha1::digest(format!("{nonce}:{password}").as_bytes()))
}

/// The 8-byte little-endian key of sequential id `n`.
fn id(n: u64) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

/// One SCAN item: key, payload length, timestamp.
type Item = (Vec<u8>, i64, i64);

/// Calls SCAN/SCANX/RSCAN from `cursor` (the start without one) until
/// "No more data"; returns the items and how many calls it took.
#[track_caller]
fn scan_from(con: &mut Connection, cmd: &str, cursor: Option<Vec<u8>>) -> (Vec<Item>, usize) {
    let mut items = Vec::new();
    let mut cursor = cursor;
    let mut calls = 0;
    loop {
        let mut c = redis::cmd(cmd);
        if let Some(cur) = &cursor {
            c.arg(cur);
        }
        let v = send(con, &c);
        calls += 1;
        if err_text(&v).as_deref() == Some("No more data") {
            return (items, calls);
        }
        let mut reply = array(v);
        assert_eq!(reply.len(), 2, "a {cmd} reply is [cursor, entries]");
        let page = array(reply.pop().unwrap());
        let next = bulk(reply.pop().unwrap());
        assert_eq!(next.len(), 17, "{cmd} cursors are 17 bytes");
        assert!(!page.is_empty(), "{cmd} returned a page without entries instead of 'No more data'");
        for e in page {
            let mut e = array(e);
            assert_eq!(e.len(), 3, "a {cmd} entry is [key, length, timestamp]");
            let ts = int(e.pop().unwrap());
            let len = int(e.pop().unwrap());
            items.push((bulk(e.pop().unwrap()), len, ts));
        }
        assert!(calls < 100_000, "{cmd} never ends");
        cursor = Some(next);
    }
}

#[track_caller]
fn scan_keys(con: &mut Connection, cmd: &str, cursor: Option<Vec<u8>>) -> Vec<Vec<u8>> {
    scan_from(con, cmd, cursor).0.into_iter().map(|i| i.0).collect()
}

fn keys(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|k| k.as_bytes().to_vec()).collect()
}

/// One HISTORY step: (previous-version cursor, timestamp text, payload).
#[track_caller]
fn history(con: &mut Connection, key: &[u8], cursor: Option<&[u8]>) -> (Option<Vec<u8>>, String, Vec<u8>) {
    let mut c = redis::cmd("HISTORY");
    c.arg(key);
    if let Some(cur) = cursor {
        c.arg(cur);
    }
    let mut r = array(send(con, &c));
    assert_eq!(r.len(), 3, "HISTORY replies [cursor, timestamp, payload]");
    let payload = bulk(r.pop().unwrap());
    // The timestamp is a bulk string, not an integer (as the original).
    let ts = String::from_utf8(bulk(r.pop().unwrap())).unwrap();
    assert!(ts.parse::<u32>().is_ok(), "timestamp {ts:?}");
    let cursor = match r.pop().unwrap() {
        Value::Nil => None,
        Value::BulkString(c) => {
            assert_eq!(c.len(), 8, "HISTORY cursors are 8 bytes");
            Some(c)
        }
        other => panic!("expected a cursor or nil, got {}", show(&other)),
    };
    (cursor, ts, payload)
}

/// Every version of `key`, newest first, as (timestamp, payload).
#[track_caller]
fn history_chain(con: &mut Connection, key: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let (next, ts, payload) = history(con, key, cursor.as_deref());
        out.push((ts, payload));
        match next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
        assert!(out.len() < 1000, "HISTORY chain never ends");
    }
}

/// Runs `WAIT args…` on `con` in a thread; the reply arrives on the channel.
fn spawn_wait(mut con: Connection, args: &[&str]) -> Receiver<Value> {
    let mut c = redis::cmd("WAIT");
    for a in args {
        c.arg(*a);
    }
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let v = send(&mut con, &c);
        let _ = tx.send(v);
        // Keep the connection until the reply is consumed.
        drop(con);
    });
    rx
}

/// Calls `poke` again and again until the waiter replies; the waiter may
/// not be registered yet when the first pokes run, so there is no timing
/// assumption here (only an overall 10 s limit).
#[track_caller]
fn pump_until_reply(rx: &Receiver<Value>, mut poke: impl FnMut()) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        poke();
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(v) => return v,
            Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => continue,
            Err(e) => panic!("the WAITing client never answered: {e:?}"),
        }
    }
}

/// Waits (at most 10 s) for the server to exit by itself.
fn wait_exit(server: Server) -> Option<i32> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(server.wait_exit());
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("the server exits after STOP")
}

// ------------------------------------------------------------ system commands

#[test]
fn ping_time_info_and_dispatch() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);

    assert_status(q!(con, "PING"), "PONG");
    assert_status(q!(con, "PING", "extra", "args"), "PONG");
    assert_status(q!(con, "ping"), "PONG");
    assert_status(q!(con, "pInG"), "PONG");

    let t = array(q!(con, "TIME"));
    assert_eq!(t.len(), 2, "TIME is [seconds, microseconds]");
    let secs: i64 = String::from_utf8(bulk(t[0].clone())).unwrap().parse().unwrap();
    let micros: i64 = String::from_utf8(bulk(t[1].clone())).unwrap().parse().unwrap();
    assert!((secs - now()).abs() <= 5, "TIME {secs} far from the clock {}", now());
    assert!((0..1_000_000).contains(&micros), "microseconds {micros}");

    let info = String::from_utf8(bulk(q!(con, "INFO"))).unwrap();
    for needle in [
        "# server",
        "server_name: ",
        "instance_id: ",
        "boot_time: ",
        "uptime: ",
        "# clients",
        "clients_lifetime: ",
        "# internals",
        "sequential_key_size: 8",
        "data_version: 3",
        "index_version: 4",
        "# stats",
        "commands_executed: ",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle:?}:\n{info}");
    }

    // Exact names only: no prefix matching (a deliberate difference).
    assert_err(q!(con, "CONFIG", "GET", "save"), "Command not supported");
    assert_err(q!(con, "S", "k", "v"), "Command not supported");
    assert_err(q!(con, "SE", "k", "v"), "Command not supported");
    assert_err(q!(con, "SETXX", "k", "v"), "Command not supported");
    assert_err(q!(con, "G", "k"), "Command not supported");
    assert_err(q!(con, "PINGPONG"), "Command not supported");
    // The empty name and `*` are the pseudo-command used by `WAIT *`.
    assert_err(q!(con, ""), "This is not a valid command");
    assert_err(q!(con, "*"), "This is not a valid command");
    // None of that wrote anything, and the connection is still fine.
    assert_int(q!(con, "DBSIZE"), 0);
    assert_status(q!(con, "PING"), "PONG");

    // Without --admin there is nothing to authenticate against, but the
    // challenge works (SELECT … SECURE needs it).
    assert_err(q!(con, "AUTH", "whatever"), "Authentication disabled");
    let n1 = challenge(&mut con);
    let n2 = challenge(&mut con);
    assert_ne!(n1, n2, "every challenge is a new nonce");
}

#[test]
fn stop_without_admin_password_exits_cleanly() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_bulk(q!(con, "SET", "kept", "after stop"), "kept");
    assert_status(q!(con, "STOP"), "Stopping");
    assert!(con.req_command(&redis::cmd("PING")).is_err(), "STOP closes the connection");
    assert_eq!(wait_exit(server), Some(0), "STOP is a clean exit (status 0)");

    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_bulk(q!(con, "GET", "kept"), "after stop");
}

#[test]
fn stop_is_admin_only() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--admin", ADMIN]);
    let mut con = client(&server);
    assert_err(q!(con, "STOP"), "Permission denied");
    assert_status(q!(con, "PING"), "PONG");
    assert_status(client(&server).req_command(&redis::cmd("PING")).unwrap(), "PONG");
    assert_status(q!(con, "AUTH", ADMIN), "OK");
    assert_status(q!(con, "STOP"), "Stopping");
    assert_eq!(wait_exit(server), Some(0));
}

#[test]
fn auth_plain_and_secure_challenge() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--admin", ADMIN]);
    let mut con = client(&server);

    assert_err(q!(con, "NSNEW", "x"), "Permission denied");
    assert_err(q!(con, "AUTH", "wrong"), "Access denied");
    assert_err(q!(con, "AUTH", "p".repeat(129)), "Password too long");
    assert_err(q!(con, "AUTH"), "Unexpected arguments");
    assert_err(q!(con, "AUTH", "a", "b", "c"), "Unexpected arguments");
    assert_err(q!(con, "AUTH", "FOO", "BAR"), "Only SECURE extra method supported");
    assert_err(
        q!(con, "AUTH", "SECURE", secure_hash("0011223344556677", ADMIN)),
        "No CHALLENGE requested, secure authentication not available",
    );
    assert_err(q!(con, "NSNEW", "x"), "Permission denied");

    // A newer challenge replaces the older one.
    let old = challenge(&mut con);
    let _new = challenge(&mut con);
    assert_err(q!(con, "AUTH", "SECURE", secure_hash(&old, ADMIN)), "Access denied");
    let nonce = challenge(&mut con);
    assert_err(q!(con, "AUTH", "SECURE", secure_hash(&nonce, "not the password")), "Access denied");
    let _ = challenge(&mut con);
    assert_err(q!(con, "AUTH", "SECURE", "abcdef"), "Invalid hash length");
    assert_err(q!(con, "NSNEW", "x"), "Permission denied");

    let nonce = challenge(&mut con);
    let hash = secure_hash(&nonce, ADMIN);
    assert_status(q!(con, "AUTH", "SECURE", &hash), "OK");
    assert_status(q!(con, "NSNEW", "x"), "OK");
    // The nonce was used up: the same hash cannot be replayed, here or on
    // another connection.
    assert_err(q!(con, "AUTH", "SECURE", &hash), "No CHALLENGE requested, secure authentication not available");
    let mut other = client(&server);
    assert_err(q!(other, "AUTH", "SECURE", &hash), "No CHALLENGE requested, secure authentication not available");
    let _ = challenge(&mut other);
    assert_err(q!(other, "AUTH", "SECURE", &hash), "Access denied");
    assert_err(q!(other, "NSNEW", "y"), "Permission denied");

    // Plain AUTH, and admin rights stay with their connection.
    let mut third = client(&server);
    assert_status(q!(third, "AUTH", ADMIN), "OK");
    assert_status(q!(third, "NSNEW", "y"), "OK");
    assert_err(q!(other, "NSDEL", "y"), "Permission denied");
    assert_status(q!(third, "NSDEL", "y"), "OK");
}

/// Admin-only commands, in an order where each one succeeds for an admin.
const ADMIN_COMMANDS: &[&[&str]] = &[
    &["HOOKS"],
    &["INDEX", "DIRTY"],
    &["INDEX", "DIRTY", "RESET"],
    &["DATA", "RAW", "0", "28"],
    &["NSNEW", "matrix"],
    &["NSSET", "matrix", "maxsize", "1000"],
    &["RELOAD", "matrix"],
    &["NSJUMP"],
    &["NSDEL", "matrix"],
    &["SET", "stamped", "v", "1000"],
    &["DEL", "stamped", "2000"],
];

fn run(con: &mut Connection, args: &[&str]) -> Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    send(con, &c)
}

#[test]
fn admin_commands_without_admin_password_are_open_to_everybody() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_bulk(q!(con, "SET", "a", "b"), "a");
    for args in ADMIN_COMMANDS {
        let v = run(&mut con, args);
        assert_not_err(&v);
    }
    // NSINFO shows everybody the admin fields.
    assert!(nsinfo(&mut con, "default").contains_key("data_path"));
    assert_status(q!(con, "STOP"), "Stopping");
    assert_eq!(wait_exit(server), Some(0));
}

#[test]
fn admin_commands_need_auth_when_admin_password_is_set() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--admin", ADMIN]);
    let mut con = client(&server);
    assert_bulk(q!(con, "SET", "a", "b"), "a");
    assert_bulk(q!(con, "SET", "stamped", "v"), "stamped");
    for args in ADMIN_COMMANDS.iter().chain([&["STOP"][..]].iter()) {
        assert_err(run(&mut con, args), "Permission denied");
    }
    // Nothing happened.
    assert_status(q!(con, "PING"), "PONG");
    assert_eq!(array(q!(con, "NSLIST")), vec![Value::BulkString(b"default".to_vec())]);
    assert_bulk(q!(con, "GET", "stamped"), "v");
    assert!(int(q!(con, "KEYTIME", "stamped")) > 1000);
    let info = String::from_utf8(bulk(q!(con, "INFO"))).unwrap();
    let unauthorized: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("commands_unauthorized: "))
        .expect("INFO has commands_unauthorized")
        .parse()
        .unwrap();
    // The admin commands and STOP.
    assert!(unauthorized > ADMIN_COMMANDS.len() as u64, "commands_unauthorized: {unauthorized}");

    // Everything else is open to anybody.
    assert_bulk(q!(con, "GET", "a"), "b");
    assert_int(q!(con, "EXISTS", "a"), 1);
    assert_int(q!(con, "DBSIZE"), 2);
    assert_status(q!(con, "SELECT", "default"), "OK");
    assert_not_err(&q!(con, "SCAN"));
    assert_not_err(&q!(con, "TIME"));
    assert_not_err(&q!(con, "INFO"));
    assert_status(q!(con, "DEL", "a"), "OK");
    // NSINFO hides the paths and positions from non-admins.
    let info = nsinfo(&mut con, "default");
    assert_eq!(info.get("name").map(String::as_str), Some("default"));
    for admin_only in
        ["data_path", "data_active", "index_path", "index_active", "data_current_id", "data_current_offset"]
    {
        assert!(!info.contains_key(admin_only), "non-admin NSINFO shows {admin_only}");
    }

    assert_status(q!(con, "AUTH", ADMIN), "OK");
    for args in ADMIN_COMMANDS {
        let v = run(&mut con, args);
        assert_not_err(&v);
    }
    let info = nsinfo(&mut con, "default");
    for admin_only in
        ["data_path", "data_active", "index_path", "index_active", "data_current_id", "data_current_offset"]
    {
        assert!(info.contains_key(admin_only), "admin NSINFO lacks {admin_only}");
    }
    assert_status(q!(con, "STOP"), "Stopping");
    assert_eq!(wait_exit(server), Some(0));
}

#[test]
fn protect_makes_default_read_only_until_selected_with_admin_password() {
    let dirs = Dirs::new();
    assert!(Server::try_start(&dirs, &["--protect"]).is_err(), "--protect needs --admin");
    let server = Server::start(&dirs, &["--admin", ADMIN, "--protect"]);
    let mut anon = client(&server);
    assert_nil(q!(anon, "GET", "k"));
    assert_err(q!(anon, "SET", "k", "v"), "Namespace is in read-only mode");
    assert_err(q!(anon, "DEL", "k"), "Namespace is in read-only mode");
    assert_status(q!(anon, "SELECT", "default"), "OK");
    assert_err(q!(anon, "SET", "k", "v"), "Namespace is in read-only mode");
    assert_err(q!(anon, "SELECT", "default", "nope"), "Access denied");
    assert_eq!(nsinfo(&mut anon, "default").get("password").map(String::as_str), Some("yes"));

    assert_status(q!(anon, "SELECT", "default", ADMIN), "OK");
    assert_bulk(q!(anon, "SET", "k", "v"), "k");
    // The namespace password does not make the client admin.
    assert_err(q!(anon, "NSNEW", "open"), "Permission denied");

    let mut other = client(&server);
    assert_bulk(q!(other, "GET", "k"), "v");
    assert_err(q!(other, "SET", "k", "w"), "Namespace is in read-only mode");
    assert_err(q!(other, "DEL", "k"), "Namespace is in read-only mode");

    // Other namespaces are not concerned.
    let mut admin = admin_client(&server);
    assert_status(q!(admin, "NSNEW", "open"), "OK");
    assert_status(q!(other, "SELECT", "open"), "OK");
    assert_bulk(q!(other, "SET", "k", "w"), "k");
    assert_status(q!(other, "SELECT", "default"), "OK");
    assert_err(q!(other, "SET", "k", "w"), "Namespace is in read-only mode");
}

#[test]
fn namespace_password_public_and_private() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut admin = client(&server);
    assert_status(q!(admin, "NSNEW", "ns"), "OK");
    assert_status(q!(admin, "NSSET", "ns", "password", "secret"), "OK");
    let info = nsinfo(&mut admin, "ns");
    assert_eq!(info["password"], "yes");
    assert_eq!(info["public"], "yes");

    // Public with a password: read-only without it.
    let mut ro = client(&server);
    assert_status(q!(ro, "SELECT", "ns", "secret"), "OK");
    assert_bulk(q!(ro, "SET", "k", "v"), "k");
    let mut reader = client(&server);
    assert_status(q!(reader, "SELECT", "ns"), "OK");
    assert_bulk(q!(reader, "GET", "k"), "v");
    assert_int(q!(reader, "EXISTS", "k"), 1);
    assert_int(q!(reader, "DBSIZE"), 1);
    assert_err(q!(reader, "SET", "k", "w"), "Namespace is in read-only mode");
    assert_err(q!(reader, "SET", "new", "w"), "Namespace is in read-only mode");
    assert_err(q!(reader, "DEL", "k"), "Namespace is in read-only mode");
    assert_err(q!(reader, "SELECT", "ns", "wrong"), "Access denied");
    assert_status(q!(reader, "SELECT", "ns", "secret"), "OK");
    assert_bulk(q!(reader, "SET", "k2", "v2"), "k2");

    // Private: refused without the password.
    assert_status(q!(admin, "NSSET", "ns", "public", "0"), "OK");
    assert_eq!(nsinfo(&mut admin, "ns")["public"], "no");
    let mut priv_client = client(&server);
    assert_err(q!(priv_client, "SELECT", "ns"), "Namespace protected and private");
    assert_err(q!(priv_client, "SELECT", "ns", "wrong"), "Access denied");
    assert_int(q!(priv_client, "DBSIZE"), 0); // still in default
    assert_err(q!(priv_client, "SELECT", "ns", "x".repeat(256)), "Password too long");
    assert_status(q!(priv_client, "SELECT", "ns", "secret"), "OK");
    assert_int(q!(priv_client, "DBSIZE"), 2);
    assert_bulk(q!(priv_client, "SET", "k3", "v3"), "k3");

    // SELECT argument errors.
    assert_err(q!(priv_client, "SELECT", "nosuch"), "Namespace not found");
    assert_err(q!(priv_client, "SELECT"), "Invalid argument");
    assert_err(q!(priv_client, "SELECT", "ns", "a", "b", "c"), "Too many arguments");
    assert_err(q!(priv_client, "SELECT", "ns", "FOO", "bar"), "Only SECURE extra method supported");

    // Properties survive a restart.
    drop((admin, ro, reader, priv_client));
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut admin = client(&server);
    assert_err(q!(admin, "SELECT", "ns"), "Namespace protected and private");
    assert_status(q!(admin, "SELECT", "ns", "secret"), "OK");
    assert_int(q!(admin, "DBSIZE"), 3);

    // `password *` clears the password: open read-write again.
    assert_status(q!(admin, "NSSET", "ns", "password", "*"), "OK");
    assert_eq!(nsinfo(&mut admin, "ns")["password"], "no");
    let mut open = client(&server);
    assert_status(q!(open, "SELECT", "ns"), "OK");
    assert_bulk(q!(open, "SET", "k4", "v4"), "k4");
}

#[test]
fn select_secure_consumes_the_nonce() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--admin", ADMIN]);
    let mut admin = admin_client(&server);
    assert_status(q!(admin, "NSNEW", "sec"), "OK");
    assert_status(q!(admin, "NSSET", "sec", "password", "s3cret"), "OK");
    assert_status(q!(admin, "NSSET", "sec", "public", "0"), "OK");

    let mut con = client(&server);
    assert_err(
        q!(con, "SELECT", "sec", "SECURE", secure_hash("0011223344556677", "s3cret")),
        "No CHALLENGE requested, secure authentication not available",
    );
    let nonce = challenge(&mut con);
    assert_err(q!(con, "SELECT", "sec", "SECURE", secure_hash(&nonce, "wrong")), "Access denied");
    let _ = challenge(&mut con);
    assert_err(q!(con, "SELECT", "sec", "SECURE", "abc"), "Invalid hash length");
    assert_int(q!(con, "DBSIZE"), 0);

    let nonce = challenge(&mut con);
    let hash = secure_hash(&nonce, "s3cret");
    assert_status(q!(con, "SELECT", "sec", "SECURE", &hash), "OK");
    assert_bulk(q!(con, "SET", "k", "v"), "k"); // read-write
    assert_int(q!(con, "DBSIZE"), 1);
    // The nonce is used up: replaying the hash is refused (a deliberate
    // difference: the original lets SELECT SECURE be replayed).
    assert_status(q!(con, "SELECT", "default"), "OK");
    assert_err(
        q!(con, "SELECT", "sec", "SECURE", &hash),
        "No CHALLENGE requested, secure authentication not available",
    );
    assert_int(q!(con, "DBSIZE"), 0);
    // So is using it for AUTH.
    assert_err(q!(con, "AUTH", "SECURE", &hash), "No CHALLENGE requested, secure authentication not available");
}

#[test]
fn lock_and_freeze() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut admin = client(&server);
    let mut con = client(&server);
    assert_status(q!(admin, "NSNEW", "ns"), "OK");
    assert_status(q!(con, "SELECT", "ns"), "OK");
    assert_bulk(q!(con, "SET", "k", "v"), "k");

    const LOCKED: &str = "Namespace is temporarily locked (read-only)";
    assert_status(q!(admin, "NSSET", "ns", "lock", "1"), "OK");
    assert_eq!(nsinfo(&mut admin, "ns")["locked"], "yes");
    assert_bulk(q!(con, "GET", "k"), "v");
    assert_int(q!(con, "EXISTS", "k"), 1);
    assert_eq!(scan_keys(&mut con, "SCAN", None), keys(&["k"]));
    assert_err(q!(con, "SET", "k", "w"), LOCKED);
    assert_err(q!(con, "SET", "new", "w"), LOCKED);
    assert_err(q!(con, "DEL", "k"), LOCKED);
    assert_status(q!(admin, "NSSET", "ns", "lock", "0"), "OK");
    assert_eq!(nsinfo(&mut admin, "ns")["locked"], "no");
    assert_bulk(q!(con, "SET", "k", "w"), "k");

    const FROZEN: &str = "Namespace is temporarily frozen (read-write disabled)";
    assert_status(q!(admin, "NSSET", "ns", "freeze", "1"), "OK");
    assert_err(q!(con, "GET", "k"), FROZEN);
    assert_err(q!(con, "MGET", "k"), FROZEN);
    assert_err(q!(con, "EXISTS", "k"), FROZEN);
    assert_err(q!(con, "SCAN"), FROZEN);
    assert_err(q!(con, "HISTORY", "k"), FROZEN);
    assert_err(q!(con, "SET", "k", "x"), FROZEN);
    assert_err(q!(con, "DEL", "k"), FROZEN);
    assert_status(q!(con, "PING"), "PONG");
    assert_status(q!(admin, "NSSET", "ns", "freeze", "0"), "OK");
    assert_bulk(q!(con, "GET", "k"), "w");

    // Allowed on the default namespace too.
    assert_status(q!(admin, "NSSET", "default", "lock", "1"), "OK");
    assert_err(q!(admin, "SET", "d", "v"), LOCKED);
    assert_status(q!(admin, "NSSET", "default", "lock", "0"), "OK");
    assert_status(q!(admin, "NSSET", "default", "freeze", "1"), "OK");
    assert_err(q!(admin, "GET", "d"), FROZEN);
    assert_status(q!(admin, "NSSET", "default", "freeze", "0"), "OK");
    assert_bulk(q!(admin, "SET", "d", "v"), "d");

    // Runtime only: gone after a restart.
    assert_status(q!(admin, "NSSET", "ns", "lock", "1"), "OK");
    drop((admin, con));
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_status(q!(con, "SELECT", "ns"), "OK");
    assert_bulk(q!(con, "SET", "k", "after restart"), "k");
}

#[test]
fn worm_mode_refuses_overwrite_and_delete() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_status(q!(con, "NSNEW", "w"), "OK");
    assert_status(q!(con, "SELECT", "w"), "OK");
    assert_bulk(q!(con, "SET", "a", "1"), "a");
    assert_status(q!(con, "NSSET", "w", "worm", "1"), "OK");
    assert_eq!(nsinfo(&mut con, "w")["worm"], "yes");

    assert_err(q!(con, "SET", "a", "2"), "Namespace is protected by worm mode");
    assert_err(q!(con, "SETX", "a", "2"), "Namespace is protected by worm mode");
    assert_err(q!(con, "DEL", "a"), "Cannot delete a key when namespace is in worm mode");
    assert_bulk(q!(con, "SET", "b", "1"), "b");
    assert_err(q!(con, "SET", "b", "2"), "Namespace is protected by worm mode");
    assert_err(q!(con, "DEL", "missing"), "Key not found");
    assert_bulk(q!(con, "GET", "a"), "1");
    assert_bulk(q!(con, "GET", "b"), "1");
    assert_int(q!(con, "DBSIZE"), 2);
    assert_eq!(history_chain(&mut con, b"a").len(), 1);

    assert_status(q!(con, "NSSET", "w", "worm", "0"), "OK");
    assert_bulk(q!(con, "SET", "a", "2"), "a");
    assert_status(q!(con, "DEL", "b"), "OK");
}

#[test]
fn maxsize_counts_replacements_and_allows_an_exact_fit() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    const FULL: &str = "No space left on this namespace";
    assert_status(q!(con, "NSNEW", "m"), "OK");
    assert_status(q!(con, "NSSET", "m", "maxsize", "10"), "OK");
    assert_status(q!(con, "SELECT", "m"), "OK");
    assert_bulk(q!(con, "SET", "a", "12345"), "a");
    assert_bulk(q!(con, "SET", "b", "12345"), "b"); // 10 of 10: exact fit
    let info = nsinfo(&mut con, "m");
    assert_eq!(info["data_limits_bytes"], "10");
    assert_eq!(info["space_available"], "0");
    assert_err(q!(con, "SET", "c", "x"), FULL);
    assert_err(q!(con, "SET", "a", "123456"), FULL); // 5 replaced by 6: 11
    assert_bulk(q!(con, "SET", "a", "1234"), "a"); // 9
    assert_bulk(q!(con, "SET", "c", "x"), "c"); // 10
    assert_err(q!(con, "SET", "d", "y"), FULL);
    assert_status(q!(con, "DEL", "b"), "OK"); // 5
    assert_bulk(q!(con, "SET", "c", "123456"), "c"); // 4 + 6 = 10
    assert_eq!(nsinfo(&mut con, "m")["space_available"], "0");
    assert_err(q!(con, "SET", "e", "z"), FULL);
    assert_int(q!(con, "DBSIZE"), 2);

    // The default namespace's quota comes from --maxsize only.
    assert_err(q!(con, "NSSET", "default", "maxsize", "10"), "Cannot update default namespace");
    drop(con);
    drop(server);
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--maxsize", "4"]);
    let mut con = client(&server);
    assert_bulk(q!(con, "SET", "k", "1234"), "k");
    assert_err(q!(con, "SET", "l", "5"), FULL);
    assert_bulk(q!(con, "SET", "k", "4321"), "k");
}

#[test]
fn timestamp_argument_is_admin_only() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--admin", ADMIN]);
    let mut anon = client(&server);
    assert_err(q!(anon, "SET", "k", "v", "1234"), "Permission denied");
    assert_int(q!(anon, "EXISTS", "k"), 0);
    assert_bulk(q!(anon, "SET", "k", "v"), "k");
    assert_err(q!(anon, "DEL", "k", "1234"), "Permission denied");
    assert_int(q!(anon, "EXISTS", "k"), 1);
    let t = int(q!(anon, "KEYTIME", "k"));
    assert!((t - now()).abs() <= 5, "KEYTIME {t} is the write time");

    let mut admin = admin_client(&server);
    assert_bulk(q!(admin, "SET", "t", "v1", "1234567890"), "t");
    assert_int(q!(admin, "KEYTIME", "t"), 1234567890);
    assert_eq!(scan_from(&mut admin, "SCAN", None).0.iter().find(|i| i.0 == b"t").unwrap().2, 1234567890);
    assert_eq!(history(&mut admin, b"t", None).1, "1234567890");
    assert_bulk(q!(admin, "SETX", "t", "v2", "1300000000"), "t");
    assert_int(q!(admin, "KEYTIME", "t"), 1300000000);
    assert_bulk(q!(admin, "SET", "t", "v3"), "t");
    assert!((int(q!(admin, "KEYTIME", "t")) - now()).abs() <= 5);

    // DEL's timestamp goes into the tombstone.
    let offset = nsinfo_u64(&mut admin, "default", "data_current_offset");
    assert_status(q!(admin, "DEL", "t", "1500000000"), "OK");
    assert_int(q!(anon, "EXISTS", "t"), 0);
    let raw = array(q!(admin, "DATA", "RAW", "0", offset.to_string()));
    assert_eq!(raw.len(), 6);
    assert_eq!(raw[0], Value::BulkString(b"t".to_vec()));
    assert_eq!(raw[3], Value::Int(1), "tombstone flag");
    assert_eq!(raw[4], Value::Int(1500000000), "tombstone timestamp");
    assert_eq!(raw[5], Value::BulkString(Vec::new()), "tombstones have no payload");
}

#[test]
fn data_raw_index_dirty_and_hooks() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);

    assert_err(q!(con, "DATA", "RAW", "0", "28"), "EOF"); // only the header
    assert_eq!(array(q!(con, "INDEX", "DIRTY")), vec![]);
    assert_eq!(array(q!(con, "HOOKS")), vec![]);

    assert_bulk(q!(con, "SET", "a", "world"), "a");
    let raw = array(q!(con, "DATA", "RAW", "0", "28"));
    assert_eq!(raw.len(), 6, "DATA RAW is [key, previous, crc, flags, timestamp, payload]: {raw:?}");
    assert_eq!(raw[0], Value::BulkString(b"a".to_vec()));
    assert!(matches!(raw[1], Value::Int(_)));
    // CRC32C of "world" as 0-db computes it (init 0, no final xor).
    assert_eq!(raw[2], Value::BulkString(b"0x74d8f77b".to_vec()));
    assert_eq!(raw[3], Value::Int(0));
    assert!(matches!(raw[4], Value::Int(t) if (t - now()).abs() <= 5));
    assert_eq!(raw[5], Value::BulkString(b"world".to_vec()));
    let next = 28 + 18 + 1 + 5;
    assert_err(q!(con, "DATA", "RAW", "0", next.to_string()), "EOF");
    assert_err(q!(con, "DATA", "RAW", "0", "100000"), "EOF");
    // Bad offsets: inside the header, inside an entry, no such file.
    for (file, offset) in [("0", "3"), ("0", "29"), ("0", "30"), ("0", "40"), ("5", "28")] {
        assert_err(q!(con, "DATA", "RAW", file, offset), "Invalid Request");
    }
    assert_is_err(q!(con, "DATA", "RAW", "zero", "28"));
    assert_is_err(q!(con, "DATA", "RAW", "0"));

    // Tombstones are served (a deliberate difference).
    assert_status(q!(con, "DEL", "a"), "OK");
    let raw = array(q!(con, "DATA", "RAW", "0", next.to_string()));
    assert_eq!(raw.len(), 6);
    assert_eq!(raw[0], Value::BulkString(b"a".to_vec()));
    assert_eq!(raw[1], Value::Int(28), "previous points at the entry before");
    assert_eq!(raw[3], Value::Int(1));
    assert_eq!(raw[5], Value::BulkString(Vec::new()));

    // DEL flagged the index entry in place.
    assert_eq!(array(q!(con, "INDEX", "DIRTY")), vec![Value::Int(0)]);
    assert_status(q!(con, "INDEX", "DIRTY", "RESET"), "OK");
    assert_eq!(array(q!(con, "INDEX", "DIRTY")), vec![]);
    assert_bulk(q!(con, "SET", "b", "1"), "b"); // a new key modifies nothing in place
    assert_eq!(array(q!(con, "INDEX", "DIRTY")), vec![]);
    assert_bulk(q!(con, "SET", "b", "2"), "b");
    assert_eq!(array(q!(con, "INDEX", "DIRTY")), vec![Value::Int(0)]);
    assert_status(q!(con, "INDEX", "DIRTY", "RESET"), "OK");
    assert_status(q!(con, "NSJUMP"), "OK");
    assert_bulk(q!(con, "SET", "c", "1"), "c");
    assert_bulk(q!(con, "SET", "c", "2"), "c");
    assert_eq!(array(q!(con, "INDEX", "DIRTY")), vec![Value::Int(1)]);
    assert_bulk(q!(con, "SET", "b", "3"), "b");
    assert_eq!(array(q!(con, "INDEX", "DIRTY")), vec![Value::Int(0), Value::Int(1)]);

    assert_err(q!(con, "INDEX"), "Missing arguments");
    assert_err(q!(con, "INDEX", "FOO"), "Unknown INDEX subcommand");
    assert_err(q!(con, "INDEX", "DIRTY", "FOO"), "Unknown INDEX DIRTY subcommand");
}

#[test]
fn hooks_lists_hook_runs() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--hook", "/bin/true"]);
    let mut con = client(&server);
    assert_status(q!(con, "NSNEW", "hooked"), "OK");
    let runs = array(q!(con, "HOOKS"));
    let found = runs.into_iter().map(array).find(|r| r[0] == Value::BulkString(b"namespace-created".to_vec()));
    let run = found.expect("HOOKS lists the namespace-created hook");
    assert_eq!(run.len(), 6, "[type, [args], pid, created, finished, status]");
    let args = array(run[1].clone());
    assert!(args.contains(&Value::BulkString(b"hooked".to_vec())), "hook args {args:?}");
    assert!(int(run[2].clone()) > 0, "pid");
    assert!((int(run[3].clone()) - now()).abs() <= 5, "created");
    assert!(matches!(run[4], Value::Int(_)));
    assert!(matches!(run[5], Value::Int(_)));
    assert_status(q!(con, "NSSET", "hooked", "maxsize", "10"), "OK");
    let runs = array(q!(con, "HOOKS"));
    assert!(
        runs.into_iter().map(array).any(|r| r[0] == Value::BulkString(b"namespace-updated".to_vec())
            && array(r[1].clone()).contains(&Value::BulkString(b"hooked".to_vec()))),
        "NSSET fires namespace-updated"
    );
}

// ------------------------------------------------------------ key commands

#[test]
fn set_get_del_and_friends() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);

    assert_bulk(q!(con, "SET", "k", "hello"), "k");
    assert_bulk(q!(con, "set", "k2", "hi"), "k2");
    assert_bulk(q!(con, "SETX", "k3", "x"), "k3");
    assert_bulk(q!(con, "GET", "k"), "hello");
    assert_bulk(q!(con, "GET", "k3"), "x");
    assert_nil(q!(con, "GET", "missing"));
    assert_int(q!(con, "EXISTS", "k"), 1);
    assert_int(q!(con, "EXISTS", "missing"), 0);
    assert_int(q!(con, "CHECK", "k"), 1);
    assert_nil(q!(con, "CHECK", "missing"));
    assert_int(q!(con, "LENGTH", "k"), 5);
    assert_nil(q!(con, "LENGTH", "missing"));
    let t = int(q!(con, "KEYTIME", "k"));
    assert!((t - now()).abs() <= 5);
    assert_nil(q!(con, "KEYTIME", "missing"));
    assert_eq!(bulk(q!(con, "KEYCUR", "k")).len(), 17);
    assert_err(q!(con, "KEYCUR", "missing"), "Key not found");
    assert_int(q!(con, "DBSIZE"), 3);

    let m = array(q!(con, "MGET", "k", "missing", "k2", "k"));
    assert_eq!(
        m,
        vec![
            Value::BulkString(b"hello".to_vec()),
            Value::Nil,
            Value::BulkString(b"hi".to_vec()),
            Value::BulkString(b"hello".to_vec())
        ]
    );
    assert_err(q!(con, "MGET"), "Invalid arguments");

    // Empty values are values.
    assert_bulk(q!(con, "SET", "empty", ""), "empty");
    assert_bulk(q!(con, "GET", "empty"), "");
    assert_int(q!(con, "LENGTH", "empty"), 0);
    assert_int(q!(con, "EXISTS", "empty"), 1);
    assert_nil(q!(con, "SET", "empty", ""));

    // DEL, then every read sees the key as missing.
    assert_status(q!(con, "DEL", "k"), "OK");
    assert_err(q!(con, "DEL", "k"), "Key not found");
    assert_err(q!(con, "DEL", "missing"), "Key not found");
    assert_nil(q!(con, "GET", "k"));
    assert_int(q!(con, "EXISTS", "k"), 0);
    assert_nil(q!(con, "CHECK", "k"));
    assert_nil(q!(con, "LENGTH", "k"));
    assert_nil(q!(con, "KEYTIME", "k"));
    assert_err(q!(con, "KEYCUR", "k"), "Key not found");
    assert_err(q!(con, "HISTORY", "k"), "Key not found");
    assert_eq!(array(q!(con, "MGET", "k")), vec![Value::Nil]);
    assert_int(q!(con, "DBSIZE"), 3);
    // A deleted key can be set again, with a fresh history.
    assert_bulk(q!(con, "SET", "k", "again"), "k");
    assert_eq!(history_chain(&mut con, b"k"), vec![(int(q!(con, "KEYTIME", "k")).to_string(), b"again".to_vec())]);

    // Argument errors.
    assert_err(q!(con, "SET", "", "v"), "Invalid argument, key needed");
    assert_err(q!(con, "SET", "k"), "Unexpected arguments");
    assert_err(q!(con, "SET"), "Unexpected arguments");
    assert_err(q!(con, "SET", "k", "v", "1", "2"), "Unexpected arguments");
    for cmd in ["GET", "EXISTS", "CHECK", "LENGTH", "KEYTIME", "KEYCUR", "DEL"] {
        assert_err(q!(con, cmd), "Unexpected arguments");
        assert_err(q!(con, cmd, ""), "Invalid argument");
    }
    for cmd in ["GET", "EXISTS", "CHECK", "LENGTH", "KEYTIME", "KEYCUR"] {
        assert_err(q!(con, cmd, "a", "b"), "Unexpected arguments");
    }
    assert_int(q!(con, "DBSIZE"), 4);
}

#[test]
fn binary_safe_keys_and_values() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let key255: Vec<u8> = (0..255u32).map(|i| (i * 7 % 256) as u8).collect();
    let key256 = vec![b'k'; 256];
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"nul\0key".to_vec(), b"nul\0value\0".to_vec()),
        (b"crlf\r\nkey".to_vec(), b"\r\n$3\r\nfoo\r\n".to_vec()),
        (vec![0xff, 0xfe, 0x00, 0x80], all_bytes.clone()),
        (vec![0], vec![0]),
        (key255.clone(), b"long key".to_vec()),
    ];
    for (k, v) in &pairs {
        assert_bulk(q!(con, "SET", k, v), k);
    }
    for (k, v) in &pairs {
        assert_bulk(q!(con, "GET", k), v);
        assert_int(q!(con, "LENGTH", k), v.len() as i64);
        assert_int(q!(con, "EXISTS", k), 1);
        assert_int(q!(con, "CHECK", k), 1);
        assert_nil(q!(con, "SET", k, v));
    }
    let mut c = redis::cmd("MGET");
    for (k, _) in &pairs {
        c.arg(k);
    }
    let got = array(send(&mut con, &c));
    assert_eq!(got, pairs.iter().map(|(_, v)| Value::BulkString(v.clone())).collect::<Vec<_>>());
    let scanned: BTreeSet<Vec<u8>> = scan_keys(&mut con, "SCAN", None).into_iter().collect();
    assert_eq!(scanned, pairs.iter().map(|(k, _)| k.clone()).collect());
    assert_eq!(bulk(q!(con, "KEYCUR", &key255)).len(), 17);
    assert_eq!(history_chain(&mut con, &pairs[2].0)[0].1, all_bytes);

    assert_err(q!(con, "SET", &key256, "v"), "Key too large");
    for cmd in ["GET", "EXISTS", "CHECK", "LENGTH", "KEYTIME", "KEYCUR", "DEL"] {
        assert_err(q!(con, cmd, &key256), "Invalid key");
    }
    assert_status(q!(con, "DEL", &pairs[0].0), "OK");
    assert_nil(q!(con, "GET", &pairs[0].0));
    assert_int(q!(con, "DBSIZE"), pairs.len() as i64 - 1);
}

#[test]
fn identical_set_replies_nil_and_writes_nothing() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_bulk(q!(con, "SET", "k", "v1"), "k");
    let data = nsinfo_u64(&mut con, "default", "data_current_offset");
    let index = nsinfo_u64(&mut con, "default", "index_current_offset");
    assert_nil(q!(con, "SET", "k", "v1"));
    assert_nil(q!(con, "SETX", "k", "v1"));
    assert_eq!(nsinfo_u64(&mut con, "default", "data_current_offset"), data);
    assert_eq!(nsinfo_u64(&mut con, "default", "index_current_offset"), index);
    assert_eq!(history_chain(&mut con, b"k").len(), 1, "no history entry for an unchanged value");

    // Same length, different bytes; and a prefix of the old value: written.
    assert_bulk(q!(con, "SET", "k", "v2"), "k");
    assert_bulk(q!(con, "SET", "k", "v"), "k");
    assert_nil(q!(con, "SET", "k", "v"));
    let chain: Vec<Vec<u8>> = history_chain(&mut con, b"k").into_iter().map(|(_, p)| p).collect();
    assert_eq!(chain, vec![b"v".to_vec(), b"v2".to_vec(), b"v1".to_vec()]);
    assert_int(q!(con, "DBSIZE"), 1);
}

#[test]
fn eight_mib_value_works_one_byte_more_is_refused() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    let big: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    assert_bulk(q!(con, "SET", "big", &big), "big");
    assert_int(q!(con, "LENGTH", "big"), 8 * 1024 * 1024);
    assert_int(q!(con, "CHECK", "big"), 1);
    let got = bulk(q!(con, "GET", "big"));
    assert!(got == big, "the 8 MiB value came back different ({} bytes)", got.len());
    assert_nil(q!(con, "SET", "big", &big));

    // 8 MiB + 1: refused as soon as the length is announced; connection closed.
    let mut raw = server.raw();
    let header = format!("*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n${}\r\n", 8 * 1024 * 1024 + 1);
    let reply = raw_exchange(&mut raw, header.as_bytes(), b"-Payload too big\r\n".len());
    assert_eq!(String::from_utf8_lossy(&reply), "-Payload too big\r\n");
    let mut rest = Vec::new();
    let closed = raw.read_to_end(&mut rest);
    assert!(matches!(closed, Ok(0)) || closed.is_err(), "the connection is closed, got {rest:?}");
    assert_int(q!(con, "EXISTS", "huge"), 0);
}

#[test]
fn check_reports_corrupt_and_unreadable_payloads() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_bulk(q!(con, "SET", "k", "hello world"), "k");
    assert_bulk(q!(con, "SET", "tail", "0123456789"), "tail");
    let d0 = dirs.data.join("default").join("d0");
    let file = std::fs::OpenOptions::new().write(true).open(&d0).unwrap();
    // Flip the last payload byte of "k" (entry at 28: 18 + 1 + 11 bytes).
    file.write_all_at(b"D", 28 + 18 + 1 + 10).unwrap();
    assert_int(q!(con, "CHECK", "k"), 0);
    assert_is_err(q!(con, "GET", "k")); // never corrupt data
    assert_int(q!(con, "CHECK", "tail"), 1);
    // Cut the last payload short: unreadable.
    let len = file.metadata().unwrap().len();
    file.set_len(len - 3).unwrap();
    assert_int(q!(con, "CHECK", "tail"), -1);
    assert_err(q!(con, "GET", "tail"), "Internal Error");
}

// ------------------------------------------------------------ modes

#[test]
fn seq_mode_server() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--mode", "seq"]);
    let mut con = client(&server);
    assert_eq!(nsinfo(&mut con, "default")["mode"], "sequential");

    assert_bulk(q!(con, "SET", "", "a"), id(0));
    assert_bulk(q!(con, "SET", "", "b"), id(1));
    assert_bulk(q!(con, "SET", id(0), "c"), id(0)); // uses up id 2
    assert_bulk(q!(con, "SET", "", "d"), id(3));
    assert_nil(q!(con, "GET", id(2)));
    assert_bulk(q!(con, "GET", id(0)), "c");
    assert_bulk(q!(con, "GET", id(1)), "b");
    assert_bulk(q!(con, "GET", id(3)), "d");
    assert_nil(q!(con, "SET", id(0), "c"));
    assert_int(q!(con, "EXISTS", id(0)), 1);
    assert_int(q!(con, "EXISTS", id(2)), 0);
    assert_int(q!(con, "LENGTH", id(3)), 1);

    const ONLY_UPDATE: &str = "Invalid key, only update authorized";
    assert_err(q!(con, "SET", id(99), "x"), ONLY_UPDATE);
    assert_err(q!(con, "SET", id(4), "x"), ONLY_UPDATE);
    assert_err(q!(con, "SET", id(2), "x"), ONLY_UPDATE);
    assert_err(q!(con, "SET", "abc", "x"), ONLY_UPDATE);
    assert_status(q!(con, "DEL", id(1)), "OK");
    assert_nil(q!(con, "GET", id(1)));
    assert_err(q!(con, "SET", id(1), "z"), ONLY_UPDATE); // deleted ids are not reused
    assert_err(q!(con, "DEL", id(1)), "Key not found");
    assert_int(q!(con, "DBSIZE"), 2);
    assert_eq!(nsinfo(&mut con, "default")["next_internal_id"], "0x0400000000000000");

    assert_eq!(history_chain(&mut con, &id(0)).into_iter().map(|(_, p)| p).collect::<Vec<_>>(), keys(&["c", "a"]));
    let mut scanned = scan_keys(&mut con, "SCAN", None);
    scanned.sort();
    assert_eq!(scanned, vec![id(0), id(3)]);
    assert_err(q!(con, "KSCAN", "x"), "Index running mode doesn't support this feature");
    const SINGLE: &str = "This server instance is configured to use a single runtime mode";
    assert_err(q!(con, "NSSET", "default", "mode", "user"), SINGLE);
    assert_status(q!(con, "NSNEW", "fresh"), "OK");
    assert_err(q!(con, "NSSET", "fresh", "mode", "user"), SINGLE);
    assert_eq!(nsinfo(&mut con, "fresh")["mode"], "sequential");

    drop(con);
    assert_eq!(server.terminate(), Some(143));
    assert!(Server::try_start(&dirs, &["--mode", "user"]).is_err(), "a seq index cannot be opened in user mode");
    let server = Server::start(&dirs, &["--mode", "seq"]);
    let mut con = client(&server);
    assert_bulk(q!(con, "SET", "", "e"), id(4));
    assert_bulk(q!(con, "GET", id(0)), "c");
    assert_nil(q!(con, "GET", id(1)));
}

#[test]
fn user_mode_server_refuses_mode_changes() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--mode", "user"]);
    let mut con = client(&server);
    assert_status(q!(con, "NSNEW", "n"), "OK");
    const SINGLE: &str = "This server instance is configured to use a single runtime mode";
    assert_err(q!(con, "NSSET", "n", "mode", "seq"), SINGLE);
    assert_err(q!(con, "NSSET", "default", "mode", "seq"), SINGLE);
    assert_eq!(nsinfo(&mut con, "n")["mode"], "userkey");
    assert_err(q!(con, "SET", "", "v"), "Invalid argument, key needed");
}

#[test]
fn mixed_mode_namespace_switched_to_seq() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_status(q!(con, "NSNEW", "s"), "OK");
    assert_eq!(nsinfo(&mut con, "s")["mode"], "userkey");
    assert_err(q!(con, "NSSET", "s", "mode", "bogus"), "Invalid property value (expected: user, seq)");
    assert_status(q!(con, "NSSET", "s", "mode", "seq"), "OK");
    assert_status(q!(con, "NSSET", "s", "mode", "seq"), "OK");
    assert_eq!(nsinfo(&mut con, "s")["mode"], "sequential");

    assert_status(q!(con, "SELECT", "s"), "OK");
    assert_bulk(q!(con, "SET", "", "v0"), id(0));
    assert_bulk(q!(con, "SET", "", "v1"), id(1));
    assert_bulk(q!(con, "SET", id(0), "v0 updated"), id(0));
    assert_bulk(q!(con, "SET", "", "v3"), id(3));
    assert_nil(q!(con, "GET", id(2)));
    assert_bulk(q!(con, "GET", id(0)), "v0 updated");
    assert_err(q!(con, "SET", id(7), "x"), "Invalid key, only update authorized");
    assert_err(q!(con, "NSSET", "s", "mode", "user"), "Cannot change mode of used namespace");

    // The other namespaces are unaffected.
    assert_status(q!(con, "SELECT", "default"), "OK");
    assert_err(q!(con, "SET", "", "v"), "Invalid argument, key needed");
    assert_bulk(q!(con, "SET", "k", "v"), "k");
    assert_err(q!(con, "NSSET", "default", "mode", "seq"), "Cannot change mode of used namespace");
    // "Used" includes a namespace that only jumped to its next file.
    assert_status(q!(con, "NSNEW", "jumped"), "OK");
    assert_status(q!(con, "SELECT", "jumped"), "OK");
    assert_status(q!(con, "NSJUMP"), "OK");
    assert_err(q!(con, "NSSET", "jumped", "mode", "seq"), "Cannot change mode of used namespace");

    // The quota is checked before the key: a full sequential namespace
    // answers "No space left" even for an id that does not exist.
    assert_status(q!(con, "NSNEW", "q"), "OK");
    assert_status(q!(con, "NSSET", "q", "mode", "seq"), "OK");
    assert_status(q!(con, "NSSET", "q", "maxsize", "4"), "OK");
    assert_status(q!(con, "SELECT", "q"), "OK");
    assert_bulk(q!(con, "SET", "", "1234"), id(0));
    assert_err(q!(con, "SET", "", "5"), "No space left on this namespace");
    assert_err(q!(con, "SET", id(5), "5"), "No space left on this namespace");
    assert_err(q!(con, "SET", id(5), ""), "Invalid key, only update authorized");
    assert_bulk(q!(con, "SET", id(0), "4321"), id(0));

    // The mode is stored with the namespace.
    drop(con);
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_eq!(nsinfo(&mut con, "s")["mode"], "sequential");
    assert_eq!(nsinfo(&mut con, "default")["mode"], "userkey");
    assert_status(q!(con, "SELECT", "s"), "OK");
    assert_bulk(q!(con, "SET", "", "v4"), id(4));
    assert_bulk(q!(con, "GET", id(0)), "v0 updated");
    assert_bulk(q!(con, "GET", id(1)), "v1");
}

// ------------------------------------------------------------ walking

#[test]
fn scan_and_rscan_walk_10000_keys_in_last_write_order() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    let n = 10_000usize;
    let key = |i: usize| format!("key:{i:05}").into_bytes();
    let value = |i: usize| format!("value number {i}");
    for range in [0..n / 2, n / 2..n] {
        let mut pipe = redis::pipe();
        for i in range {
            pipe.cmd("SET").arg(key(i)).arg(value(i));
        }
        let replies: Vec<Value> = pipe.query(&mut con).unwrap();
        assert_eq!(replies.len(), n / 2);
        // The second half goes to the next file pair.
        assert_status(q!(con, "NSJUMP"), "OK");
    }
    // Updates move a key to the end; deletes remove it.
    assert_bulk(q!(con, "SET", key(0), "updated"), key(0));
    assert_bulk(q!(con, "SET", key(n / 2), "updated too"), key(n / 2));
    assert_status(q!(con, "DEL", key(7)), "OK");
    assert_status(q!(con, "DEL", key(n - 1)), "OK");
    let mut expected: Vec<Vec<u8>> = (1..n - 1).filter(|&i| i != 7 && i != n / 2).map(key).collect();
    expected.push(key(0));
    expected.push(key(n / 2));
    assert_int(q!(con, "DBSIZE"), expected.len() as i64);

    let (items, calls) = scan_from(&mut con, "SCAN", None);
    assert!(calls > 2, "{} keys fit in {calls} SCAN calls: no continuation was exercised", items.len());
    let scanned: Vec<Vec<u8>> = items.iter().map(|i| i.0.clone()).collect();
    assert_eq!(scanned.len(), expected.len(), "every live key exactly once");
    assert!(scanned == expected, "SCAN order differs from the last-write order");
    for (k, len, ts) in &items {
        let want = if k == &key(0) {
            "updated".len()
        } else if k == &key(n / 2) {
            "updated too".len()
        } else {
            let i: usize = std::str::from_utf8(&k[4..]).unwrap().parse().unwrap();
            value(i).len()
        };
        assert_eq!(*len, want as i64, "length of {}", String::from_utf8_lossy(k));
        assert!((ts - now()).abs() <= 60);
    }

    let (items, calls) = scan_from(&mut con, "RSCAN", None);
    assert!(calls > 2);
    let mut reversed = expected.clone();
    reversed.reverse();
    assert!(items.into_iter().map(|i| i.0).collect::<Vec<_>>() == reversed, "RSCAN is SCAN backwards");

    // SCANX is SCAN.
    let (scanx, _) = scan_from(&mut con, "SCANX", None);
    assert!(scanx.into_iter().map(|i| i.0).collect::<Vec<_>>() == expected);
}

#[test]
fn scan_cursors_keycur_and_bad_cursors() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_err(q!(con, "SCAN"), "No more data");
    assert_err(q!(con, "SCANX"), "No more data");
    assert_err(q!(con, "RSCAN"), "No more data");

    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
        assert_bulk(q!(con, "SET", k, v), k);
    }
    let items = scan_from(&mut con, "SCAN", None).0;
    assert_eq!(items.iter().map(|i| i.0.clone()).collect::<Vec<_>>(), keys(&["a", "b", "c", "d"]));
    assert!(items.iter().all(|i| i.1 == 1));
    assert_eq!(scan_keys(&mut con, "RSCAN", None), keys(&["d", "c", "b", "a"]));
    // The cursor of the last key: nothing after it.
    let cur_d = bulk(q!(con, "KEYCUR", "d"));
    assert_err(q!(con, "SCAN", &cur_d), "No more data");
    let cur_a = bulk(q!(con, "KEYCUR", "a"));
    assert_err(q!(con, "RSCAN", &cur_a), "No more data");
    // KEYCUR positions SCAN and RSCAN on a key.
    let cur_b = bulk(q!(con, "KEYCUR", "b"));
    assert_eq!(cur_b.len(), 17);
    assert_eq!(scan_keys(&mut con, "SCAN", Some(cur_b.clone())), keys(&["c", "d"]));
    assert_eq!(scan_keys(&mut con, "RSCAN", Some(cur_b.clone())), keys(&["a"]));

    // A cursor stays valid after its key is updated…
    assert_bulk(q!(con, "SET", "b", "22"), "b");
    assert_ne!(bulk(q!(con, "KEYCUR", "b")), cur_b);
    assert_eq!(scan_keys(&mut con, "SCAN", Some(cur_b.clone())), keys(&["c", "d", "b"]));
    // …or deleted.
    let cur_c = bulk(q!(con, "KEYCUR", "c"));
    assert_status(q!(con, "DEL", "c"), "OK");
    assert_eq!(scan_keys(&mut con, "SCAN", Some(cur_c.clone())), keys(&["d", "b"]));
    assert_eq!(scan_keys(&mut con, "RSCAN", Some(cur_c.clone())), keys(&["a"]));
    assert_eq!(scan_keys(&mut con, "SCAN", None), keys(&["a", "d", "b"]));

    // Bad cursors.
    let mut wrong_crc = cur_b.clone();
    wrong_crc[16] ^= 0xff;
    let mut wrong_len = cur_b.clone();
    wrong_len[5] ^= 0x01;
    let past_end = {
        let mut c = cur_b.clone();
        c[9..13].copy_from_slice(&1_000_000u32.to_le_bytes());
        c
    };
    for cmd in ["SCAN", "SCANX", "RSCAN"] {
        for bad in [
            b"short".to_vec(),
            vec![0u8; 17],
            vec![0u8; 16],
            vec![0u8; 18],
            [cur_b.clone(), vec![0]].concat(),
            wrong_crc.clone(),
            wrong_len.clone(),
            past_end.clone(),
        ] {
            assert_err(q!(con, cmd, &bad), "Invalid key format");
        }
    }
    assert_is_err(q!(con, "SCAN", &cur_b, "extra"));
}

#[test]
fn kscan_lists_keys_by_prefix() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    for k in ["apple", "apricot", "banana", "ap"] {
        assert_bulk(q!(con, "SET", k, "fruit"), k);
    }
    assert_bulk(q!(con, "SET", &b"ap\0\xff"[..], "binary"), b"ap\0\xff");
    assert_status(q!(con, "DEL", "ap"), "OK");
    let kscan = |con: &mut Connection, prefix: &[u8]| -> Vec<Vec<u8>> {
        let mut r = array(q!(con, "KSCAN", prefix));
        assert_eq!(r.len(), 2);
        let mut ks: Vec<Vec<u8>> = array(r.pop().unwrap()).into_iter().map(bulk).collect();
        assert_bulk(r.pop().unwrap(), "0");
        ks.sort();
        ks
    };
    assert_eq!(kscan(&mut con, b"ap"), vec![b"ap\0\xff".to_vec(), b"apple".to_vec(), b"apricot".to_vec()]);
    assert_eq!(kscan(&mut con, b"b"), keys(&["banana"]));
    assert_eq!(kscan(&mut con, b"apple"), keys(&["apple"]));
    assert_err(q!(con, "KSCAN", "z"), "No keys match");
    assert_err(q!(con, "KSCAN", "applepie"), "No keys match");
    assert_err(q!(con, "KSCAN"), "Unexpected arguments");
    assert_err(q!(con, "KSCAN", ""), "Invalid argument");
    // Only the current namespace.
    assert_status(q!(con, "NSNEW", "other"), "OK");
    assert_status(q!(con, "SELECT", "other"), "OK");
    assert_err(q!(con, "KSCAN", "a"), "No keys match");
    assert_bulk(q!(con, "SET", "avocado", "x"), "avocado");
    assert_eq!(kscan(&mut con, b"a"), keys(&["avocado"]));
}

#[test]
fn history_chains_across_nsjump() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_bulk(q!(con, "SET", "h", "v1", "1000"), "h");
    assert_status(q!(con, "NSJUMP"), "OK");
    assert_bulk(q!(con, "SET", "other", "x"), "other");
    assert_bulk(q!(con, "SET", "h", "v2", "2000"), "h");
    assert_status(q!(con, "NSJUMP"), "OK");
    assert_bulk(q!(con, "SET", "h", "version three", "3000"), "h");
    assert_eq!(nsinfo_u64(&mut con, "default", "data_current_id"), 2);

    let (c1, ts, payload) = history(&mut con, b"h", None);
    assert_eq!((ts.as_str(), payload.as_slice()), ("3000", &b"version three"[..]));
    let c1 = c1.expect("a previous version");
    let (c2, ts, payload) = history(&mut con, b"h", Some(&c1));
    assert_eq!((ts.as_str(), payload.as_slice()), ("2000", &b"v2"[..]));
    let c2 = c2.expect("a previous version");
    let (c3, ts, payload) = history(&mut con, b"h", Some(&c2));
    assert_eq!((ts.as_str(), payload.as_slice()), ("1000", &b"v1"[..]));
    assert_eq!(c3, None, "v1 is the first version");
    assert_eq!(history_chain(&mut con, b"other").len(), 1);

    assert_err(q!(con, "HISTORY", "other", &c1), "Invalid arguments (invalid key)");
    assert_err(q!(con, "HISTORY", "h", vec![0u8; 8]), "No more history");
    assert_err(q!(con, "HISTORY", "h", "abc"), "Invalid arguments");
    assert_err(q!(con, "HISTORY", "h", vec![0u8; 9]), "Invalid arguments");
    assert_err(q!(con, "HISTORY", "h", &c1, "extra"), "Invalid arguments");
    assert_err(q!(con, "HISTORY"), "Invalid arguments");
    assert_err(q!(con, "HISTORY", "missing"), "Key not found");
    let mut bad = 0u32.to_le_bytes().to_vec();
    bad.extend_from_slice(&3u32.to_le_bytes()); // inside the file header
    assert_err(q!(con, "HISTORY", "h", &bad), "Invalid arguments (index query)");
    let mut bad = 9u32.to_le_bytes().to_vec(); // no such file
    bad.extend_from_slice(&29u32.to_le_bytes());
    assert_err(q!(con, "HISTORY", "h", &bad), "Invalid arguments (index query)");

    // The chain is on disk.
    drop(con);
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    let chain = history_chain(&mut con, b"h");
    assert_eq!(
        chain,
        vec![
            ("3000".to_string(), b"version three".to_vec()),
            ("2000".to_string(), b"v2".to_vec()),
            ("1000".to_string(), b"v1".to_vec())
        ]
    );
    // A delete ends the chain; a new SET starts a new one.
    assert_status(q!(con, "DEL", "h"), "OK");
    assert_err(q!(con, "HISTORY", "h"), "Key not found");
    assert_err(q!(con, "HISTORY", "h", &c1), "Key not found");
    assert_bulk(q!(con, "SET", "h", "v4", "4000"), "h");
    assert_eq!(history_chain(&mut con, b"h"), vec![("4000".to_string(), b"v4".to_vec())]);
}

// ------------------------------------------------------------ WAIT

#[test]
fn wait_is_woken_by_another_connection() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut other = client(&server);

    // WAIT SET: reads by others do not wake it, a SET does; the reply is
    // the table spelling of the command.
    let rx = start_wait(&mut other, client(&server), &["set", "10000"]);
    assert_nil(q!(other, "GET", "nothing"));
    assert_int(q!(other, "EXISTS", "nothing"), 0);
    assert_status(q!(other, "PING"), "PONG");
    let mut i = 0;
    let reply = pump_until_reply(&rx, || {
        i += 1;
        assert_not_err(&q!(other, "SET", "k", format!("v{i}")));
    });
    assert_status(reply, "SET");

    // WAIT *: any command (INFO would wake it too: no start_wait here).
    let rx = spawn_wait(client(&server), &["*"]);
    let reply = pump_until_reply(&rx, || assert_int(q!(other, "EXISTS", "k"), 1));
    assert_status(reply, "EXISTS");

    // Only commands in the waiter's namespace count.
    assert_status(q!(other, "NSNEW", "elsewhere"), "OK");
    let mut waiter = client(&server);
    assert_status(q!(waiter, "SELECT", "elsewhere"), "OK");
    let rx = start_wait(&mut other, waiter, &["SET", "100"]);
    let mut i = 0;
    let reply = pump_until_reply(&rx, || {
        i += 1;
        assert_not_err(&q!(other, "SET", "k", format!("w{i}")));
    });
    assert_err(reply, "Timeout");
}

/// INFO's `commands_executed`.
fn commands_executed(con: &mut Connection) -> u64 {
    let info = String::from_utf8(bulk(q!(con, "INFO"))).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("commands_executed: "))
        .expect("INFO has commands_executed")
        .parse()
        .unwrap()
}

/// Starts `WAIT args…` on `waiter` and returns once the server has taken
/// it (its command counter moved past the WAIT), polling through `probe`,
/// so that what `probe` sends next is seen by the waiting client.
fn start_wait(probe: &mut Connection, waiter: Connection, args: &[&str]) -> Receiver<Value> {
    let before = commands_executed(probe); // counts this INFO too
    let rx = spawn_wait(waiter, args);
    let deadline = Instant::now() + Duration::from_secs(10);
    for polls in 1.. {
        // Each poll is one more INFO; the WAIT is one more command.
        if commands_executed(probe) > before + polls {
            break;
        }
        assert!(Instant::now() < deadline, "the server never received the WAIT");
        thread::sleep(Duration::from_millis(1));
    }
    rx
}

#[test]
fn wait_timeout_and_errors() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_err(q!(con, "WAIT", "SET", "100"), "Timeout");
    assert_err(q!(con, "WAIT", "*", "100"), "Timeout");
    assert_status(q!(con, "PING"), "PONG");
    assert_err(q!(con, "WAIT"), "Invalid arguments");
    assert_err(q!(con, "WAIT", "SET", "100", "extra"), "Invalid arguments");
    assert_err(q!(con, "WAIT", "NOPE"), "Unknown command to watch");
    assert_err(q!(con, "WAIT", "S", "100"), "Unknown command to watch");
    assert_err(q!(con, "WAIT", "SET", "99"), "Invalid timeout");
    assert_err(q!(con, "WAIT", "SET", "0"), "Invalid timeout");
    assert_err(q!(con, "WAIT", "SET", "1800001"), "Invalid timeout");
    assert_err(q!(con, "WAIT", "SET", "-5"), "Invalid timeout");
    assert_err(q!(con, "WAIT", "SET", "abc"), "Invalid timeout");
    assert_status(q!(con, "PING"), "PONG");
}

// ------------------------------------------------------------ namespaces

#[test]
fn nsnew_nslist_nsinfo_nsset_reload_nsjump() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);

    assert_status(q!(con, "NSNEW", "a"), "OK");
    assert_err(q!(con, "NSNEW", "a"), "This namespace is not available");
    for bad in ["default", ".", "..", "a/b", "../../hello"] {
        assert_err(q!(con, "NSNEW", bad), "This name is not allowed");
    }
    assert_err(q!(con, "NSNEW", "n".repeat(129)), "Namespace too long");
    assert_status(q!(con, "NSNEW", "n".repeat(128)), "OK");
    assert_status(q!(con, "NSNEW", "0"), "OK");
    assert_is_err(q!(con, "NSNEW"));
    let list: Vec<String> = array(q!(con, "NSLIST")).into_iter().map(|v| String::from_utf8(bulk(v)).unwrap()).collect();
    assert_eq!(list[0], "default", "default comes first");
    let rest: BTreeSet<&str> = list[1..].iter().map(String::as_str).collect();
    let n128 = "n".repeat(128);
    assert_eq!(rest, BTreeSet::from(["a", "0", n128.as_str()]));

    let info = nsinfo(&mut con, "a");
    for (k, v) in [
        ("name", "a"),
        ("entries", "0"),
        ("public", "yes"),
        ("worm", "no"),
        ("locked", "no"),
        ("password", "no"),
        ("data_limits_bytes", "0"),
        ("data_size_bytes", "0"),
        ("index_size_bytes", "0"),
        ("mode", "userkey"),
    ] {
        assert_eq!(info.get(k).map(String::as_str), Some(v), "NSINFO a {k}: {info:?}");
    }
    assert!(!info.contains_key("space_available"), "no space_available without maxsize");
    assert_err(q!(con, "NSINFO", "nope"), "Namespace not found");
    assert_is_err(q!(con, "NSINFO"));

    assert_status(q!(con, "SELECT", "a"), "OK");
    assert_bulk(q!(con, "SET", "k1", "hello"), "k1");
    assert_bulk(q!(con, "SET", "k22", "hi"), "k22");
    let info = nsinfo(&mut con, "a");
    assert_eq!(info["entries"], "2");
    assert_eq!(info["data_size_bytes"], "7");
    assert_eq!(info["index_size_bytes"], (64 + 2 + 64 + 3).to_string());
    assert_int(q!(con, "DBSIZE"), 2);
    assert_status(q!(con, "SELECT", "default"), "OK");
    assert_int(q!(con, "DBSIZE"), 0); // namespaces are separate
    assert_nil(q!(con, "GET", "k1"));

    // NSSET errors.
    assert_err(q!(con, "NSSET", "a", "foo", "1"), "Invalid property");
    assert_err(q!(con, "NSSET", "a", "maxsize", "1".repeat(64)), "Argument too long");
    assert_err(q!(con, "NSSET", "a", "password", "p".repeat(64)), "Argument too long");
    assert_status(q!(con, "NSSET", "a", "password", "p".repeat(63)), "OK");
    assert_status(q!(con, "NSSET", "a", "password", "*"), "OK");
    for (prop, value) in [("password", "x"), ("public", "0"), ("worm", "1"), ("maxsize", "10")] {
        assert_err(q!(con, "NSSET", "default", prop, value), "Cannot update default namespace");
    }
    assert_is_err(q!(con, "NSSET", "nope", "maxsize", "1"));
    assert_is_err(q!(con, "NSSET", "a", "maxsize"));

    // Properties are persisted.
    for (prop, value) in [("worm", "1"), ("maxsize", "1000"), ("public", "0"), ("password", "pp")] {
        assert_status(q!(con, "NSSET", "a", prop, value), "OK");
    }
    drop(con);
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    let info = nsinfo(&mut con, "a");
    for (k, v) in
        [("worm", "yes"), ("public", "no"), ("password", "yes"), ("data_limits_bytes", "1000"), ("entries", "2")]
    {
        assert_eq!(info.get(k).map(String::as_str), Some(v), "NSINFO a {k} after restart: {info:?}");
    }
    assert_eq!(info["space_available"], "993");

    // RELOAD re-reads a namespace.
    assert_status(q!(con, "RELOAD", "a"), "OK");
    assert_err(q!(con, "RELOAD", "nope"), "Namespace not found");
    assert_status(q!(con, "SELECT", "a", "pp"), "OK");
    assert_int(q!(con, "DBSIZE"), 2);
    assert_bulk(q!(con, "GET", "k1"), "hello");

    // NSJUMP moves to the next file pair; everything stays readable.
    assert_eq!(nsinfo_u64(&mut con, "a", "data_current_id"), 0);
    assert_status(q!(con, "NSJUMP"), "OK");
    assert_eq!(nsinfo_u64(&mut con, "a", "data_current_id"), 1);
    assert_bulk(q!(con, "SET", "k3", "new file"), "k3");
    assert_bulk(q!(con, "GET", "k1"), "hello");
    assert_bulk(q!(con, "GET", "k3"), "new file");
    assert_status(q!(con, "RELOAD", "a"), "OK");
    assert_int(q!(con, "DBSIZE"), 3);
    assert_bulk(q!(con, "GET", "k3"), "new file");
    assert!(dirs.data.join("a").join("d1").exists());
}

#[test]
fn flush_empties_a_private_namespace() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_status(q!(con, "NSNEW", "f"), "OK");
    assert_status(q!(con, "NSSET", "f", "password", "pw"), "OK");
    assert_status(q!(con, "NSSET", "f", "public", "0"), "OK");
    assert_status(q!(con, "SELECT", "f", "pw"), "OK");
    let mut other = client(&server);
    assert_status(q!(other, "SELECT", "f", "pw"), "OK");
    assert_bulk(q!(con, "SET", "a", "1"), "a");
    assert_bulk(q!(con, "SET", "b", "2"), "b");
    assert_bulk(q!(con, "SET", "a", "3"), "a");
    assert_status(q!(con, "NSJUMP"), "OK");
    assert_bulk(q!(con, "SET", "c", "4"), "c");
    assert_int(q!(con, "DBSIZE"), 3);

    assert_status(q!(con, "FLUSH"), "OK");
    assert_int(q!(con, "DBSIZE"), 0);
    assert_nil(q!(con, "GET", "a"));
    assert_int(q!(con, "EXISTS", "c"), 0);
    assert_err(q!(con, "SCAN"), "No more data");
    assert_err(q!(con, "RSCAN"), "No more data");
    assert_err(q!(con, "HISTORY", "a"), "Key not found");
    assert_nil(q!(other, "GET", "b"));
    assert_int(q!(other, "DBSIZE"), 0);
    let info = nsinfo(&mut con, "f");
    assert_eq!(info["entries"], "0");
    assert_eq!(info["data_size_bytes"], "0");
    assert_eq!(info["data_current_id"], "0");
    assert!(!dirs.data.join("f").join("d1").exists(), "the old files are gone");
    assert!(!dirs.index.join("f").join("i1").exists(), "the old files are gone");
    // The properties are kept.
    assert_eq!(info["password"], "yes");
    assert_eq!(info["public"], "no");

    // Still usable.
    assert_bulk(q!(con, "SET", "n", "new"), "n");
    assert_eq!(history_chain(&mut con, b"n").len(), 1);
    assert_bulk(q!(other, "GET", "n"), "new");
    assert_int(q!(con, "DBSIZE"), 1);

    // Survives a restart.
    drop((con, other));
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_err(q!(con, "SELECT", "f"), "Namespace protected and private");
    assert_status(q!(con, "SELECT", "f", "pw"), "OK");
    assert_int(q!(con, "DBSIZE"), 1);
    assert_nil(q!(con, "GET", "a"));
    assert_nil(q!(con, "GET", "c"));
    assert_bulk(q!(con, "GET", "n"), "new");
    assert_eq!(scan_keys(&mut con, "SCAN", None), keys(&["n"]));

    // Locked: refused like any write.
    assert_status(q!(con, "NSSET", "f", "lock", "1"), "OK");
    assert_err(q!(con, "FLUSH"), "Namespace is temporarily locked (read-only)");
    assert_int(q!(con, "DBSIZE"), 1);
    assert_status(q!(con, "NSSET", "f", "lock", "0"), "OK");

    // Public namespaces (with or without password) and private ones
    // without a password cannot be flushed.
    const DENIED: &str = "Flushing public namespace denied";
    assert_status(q!(con, "SELECT", "default"), "OK");
    assert_bulk(q!(con, "SET", "d", "v"), "d");
    assert_err(q!(con, "FLUSH"), DENIED);
    assert_int(q!(con, "DBSIZE"), 1);
    assert_status(q!(con, "NSNEW", "nopass"), "OK");
    assert_status(q!(con, "NSSET", "nopass", "public", "0"), "OK");
    assert_status(q!(con, "SELECT", "nopass"), "OK");
    assert_bulk(q!(con, "SET", "d", "v"), "d");
    assert_err(q!(con, "FLUSH"), DENIED);
    assert_status(q!(con, "NSNEW", "pubpass"), "OK");
    assert_status(q!(con, "NSSET", "pubpass", "password", "x"), "OK");
    assert_status(q!(con, "SELECT", "pubpass", "x"), "OK");
    assert_bulk(q!(con, "SET", "d", "v"), "d");
    assert_err(q!(con, "FLUSH"), DENIED);
    assert_int(q!(con, "DBSIZE"), 1);
}

#[test]
fn nsdel_disconnects_clients_inside_the_namespace() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut admin = client(&server);
    let mut inside = client(&server);
    assert_status(q!(admin, "NSNEW", "gone"), "OK");
    assert_status(q!(inside, "SELECT", "gone"), "OK");
    assert_bulk(q!(inside, "SET", "k", "v"), "k");

    assert_err(q!(admin, "NSDEL", "default"), "Cannot remove default namespace");
    assert_err(q!(admin, "NSDEL", "nope"), "This namespace doesn't exists");
    assert_is_err(q!(admin, "NSDEL"));
    assert_is_err(q!(admin, "NSDEL", "gone", "extra"));
    assert_status(q!(admin, "SELECT", "gone"), "OK");
    assert_err(q!(admin, "NSDEL", "gone"), "Cannot remove namespace you're currently using.");
    assert_status(q!(admin, "SELECT", "default"), "OK");
    assert_status(q!(admin, "NSDEL", "gone"), "OK");

    assert_err(q!(inside, "PING"), "Your active namespace is not available anymore (probably removed).");
    assert!(inside.req_command(&redis::cmd("PING")).is_err(), "the client is disconnected");

    assert_eq!(array(q!(admin, "NSLIST")), vec![Value::BulkString(b"default".to_vec())]);
    assert_err(q!(admin, "NSINFO", "gone"), "Namespace not found");
    assert_err(q!(admin, "SELECT", "gone"), "Namespace not found");
    assert!(!dirs.index.join("gone").exists() && !dirs.data.join("gone").exists(), "files removed");

    // The name can be used again, for a fresh namespace.
    assert_status(q!(admin, "NSNEW", "gone"), "OK");
    assert_status(q!(admin, "SELECT", "gone"), "OK");
    assert_int(q!(admin, "DBSIZE"), 0);
    assert_nil(q!(admin, "GET", "k"));
    drop(admin);
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut con = client(&server);
    assert_status(q!(con, "SELECT", "gone"), "OK");
    assert_int(q!(con, "DBSIZE"), 0);
}

// ------------------------------------------------------------ redis-cli

#[test]
fn redis_cli_sees_the_same_replies() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--admin", ADMIN]);
    let cli = |args: &[&str]| server.cli(args).trim_end().to_string();
    assert_eq!(cli(&["PING"]), "PONG");
    assert_eq!(cli(&["SET", "clikey", "clivalue"]), "clikey");
    assert_eq!(cli(&["SET", "clikey", "clivalue"]), "", "nil for an unchanged value");
    assert_eq!(cli(&["GET", "clikey"]), "clivalue");
    assert_eq!(cli(&["GET", "missing"]), "");
    assert_eq!(cli(&["EXISTS", "clikey"]), "1");
    assert_eq!(cli(&["DBSIZE"]), "1");
    assert_eq!(cli(&["NSNEW", "x"]), "Permission denied");
    assert_eq!(cli(&["-a", ADMIN, "--no-auth-warning", "NSNEW", "x"]), "OK");
    assert_eq!(cli(&["NSLIST"]), "default\nx");
    assert_eq!(cli(&["DEL", "missing"]), "Key not found");
    assert_eq!(cli(&["WAIT", "SET", "100"]), "Timeout");
    assert_eq!(cli(&["FOO"]), "Command not supported");
    let mut con = client(&server);
    assert_bulk(q!(con, "GET", "clikey"), "clivalue");
}
