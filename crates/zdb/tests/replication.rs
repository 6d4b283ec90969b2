//! Replication end to end, with real processes: initial copy, streaming,
//! namespace changes, resume after a replica crash, promotion, and
//! `--sync-replicas` losing nothing when the master dies.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Dirs, Server};
use redis::Connection;

fn q<T: redis::FromRedisValue>(con: &mut Connection, args: &[&[u8]]) -> redis::RedisResult<T> {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con)
}

fn admin(server: &Server) -> Connection {
    let mut con = server.client();
    let _: () = q(&mut con, &[b"AUTH", b"pw"]).unwrap();
    con
}

/// Polls `check` until it holds (bounded: 15 s).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "replica never caught up: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn dbsize(con: &mut Connection, ns: &str) -> i64 {
    let _: () =
        q(con, &[b"SELECT", ns.as_bytes(), b"secret"]).or_else(|_| q(con, &[b"SELECT", ns.as_bytes()])).unwrap();
    q(con, &[b"DBSIZE"]).unwrap()
}

fn replica_of(master: &Server) -> Vec<String> {
    vec![
        "--admin".into(),
        "pw".into(),
        "--master-auth".into(),
        "pw".into(),
        "--replica-of".into(),
        format!("127.0.0.1:{}", master.port),
    ]
}

fn start_replica(dirs: &Dirs, master: &Server) -> Server {
    let args = replica_of(master);
    Server::start(dirs, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn same_files(a: &Path, b: &Path) {
    for entry in std::fs::read_dir(a).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if entry.file_type().unwrap().is_dir() {
            same_files(&entry.path(), &b.join(&name));
        } else if name.to_string_lossy().starts_with('d') || name.to_string_lossy().starts_with('i') {
            assert_eq!(
                std::fs::read(entry.path()).unwrap(),
                std::fs::read(b.join(&name)).unwrap(),
                "{:?} differs",
                entry.path()
            );
        }
    }
}

#[test]
fn replica_copies_then_follows_everything() {
    let (mdirs, rdirs) = (Dirs::new(), Dirs::new());
    let master = Server::start(&mdirs, &["--admin", "pw", "--datasize", "524288"]);
    let mut m = admin(&master);
    // Before the replica exists: history, deletes, a rotation, properties, seq ids.
    for v in [&b"v1"[..], b"v2", b"v3"] {
        let _: Vec<u8> = q(&mut m, &[b"SET", b"counter", v]).unwrap();
    }
    let big = vec![7u8; 300_000];
    let _: Vec<u8> = q(&mut m, &[b"SET", b"big1", &big]).unwrap();
    let _: Vec<u8> = q(&mut m, &[b"SET", b"big2", &big]).unwrap(); // rotates to file 1
    let _: Vec<u8> = q(&mut m, &[b"SET", b"gone", b"x"]).unwrap();
    let _: () = q(&mut m, &[b"DEL", b"gone"]).unwrap();
    let _: () = q(&mut m, &[b"NSNEW", b"private"]).unwrap();
    let _: () = q(&mut m, &[b"NSSET", b"private", b"password", b"secret"]).unwrap();
    let _: () = q(&mut m, &[b"NSSET", b"private", b"public", b"0"]).unwrap();
    let _: () = q(&mut m, &[b"NSNEW", b"ids"]).unwrap();
    let _: () = q(&mut m, &[b"NSSET", b"ids", b"mode", b"seq"]).unwrap();
    let _: () = q(&mut m, &[b"SELECT", b"ids"]).unwrap();
    for v in [&b"a"[..], b"b", b"c"] {
        let _: Vec<u8> = q(&mut m, &[b"SET", b"", v]).unwrap();
    }
    let _: Vec<u8> = q(&mut m, &[b"SET", &0u64.to_le_bytes(), b"a2"]).unwrap();
    let _: () = q(&mut m, &[b"SELECT", b"default"]).unwrap();

    let replica = start_replica(&rdirs, &master);
    let mut r = admin(&replica);
    eventually("initial copy", || dbsize(&mut r, "default") == 3 && dbsize(&mut r, "ids") == 3);
    let _: () = q(&mut r, &[b"SELECT", b"default"]).unwrap();
    let v: Vec<u8> = q(&mut r, &[b"GET", b"counter"]).unwrap();
    assert_eq!(v, b"v3");
    let hist: redis::Value = q(&mut r, &[b"HISTORY", b"counter"]).unwrap();
    let redis::Value::Array(items) = hist else { panic!("HISTORY reply") };
    let redis::Value::BulkString(cursor) = &items[0] else { panic!("history continues") };
    let older: Vec<redis::Value> = q(&mut r, &[b"HISTORY", b"counter", cursor]).unwrap();
    assert_eq!(older[2], redis::Value::BulkString(b"v2".to_vec()), "history is replicated");
    let gone: Option<Vec<u8>> = q(&mut r, &[b"GET", b"gone"]).unwrap();
    assert_eq!(gone, None);
    let big_back: Vec<u8> = q(&mut r, &[b"GET", b"big2"]).unwrap();
    assert_eq!(big_back, big);
    let refused: redis::RedisResult<()> = q(&mut r, &[b"SELECT", b"private"]);
    assert!(refused.is_err(), "properties are replicated: private needs its password");
    let _: () = q(&mut r, &[b"SELECT", b"ids"]).unwrap();
    let v: Vec<u8> = q(&mut r, &[b"GET", &0u64.to_le_bytes()]).unwrap();
    assert_eq!(v, b"a2");
    let _: () = q(&mut r, &[b"SELECT", b"default"]).unwrap();

    // Clients cannot write to a replica.
    let err: redis::RedisResult<Vec<u8>> = q(&mut r, &[b"SET", b"k", b"v"]);
    let err = err.unwrap_err().to_string();
    assert!(err.contains("Replica") && err.contains("is read-only"), "{err}");
    let info: String = q(&mut r, &[b"INFO"]).unwrap();
    assert!(info.contains("role: replica") && info.contains("master_link_status: up"), "{info}");

    // Streaming: later writes, deletes and namespace changes follow.
    let _: Vec<u8> = q(&mut m, &[b"SET", b"later", b"streamed"]).unwrap();
    let _: () = q(&mut m, &[b"DEL", b"big1"]).unwrap();
    let _: () = q(&mut m, &[b"NSDEL", b"ids"]).unwrap();
    let _: () = q(&mut m, &[b"NSNEW", b"fresh"]).unwrap();
    eventually("streamed writes", || {
        let later: Option<Vec<u8>> = q(&mut r, &[b"GET", b"later"]).unwrap();
        let names: Vec<String> = q(&mut r, &[b"NSLIST"]).unwrap();
        later.is_some() && names == ["default", "fresh", "private"]
    });
    let big1: Option<Vec<u8>> = q(&mut r, &[b"GET", b"big1"]).unwrap();
    assert_eq!(big1, None);
    let info: String = q(&mut m, &[b"INFO"]).unwrap();
    assert!(info.contains("connected_replicas: 1"), "{info}");
    eventually("the master sees the replica caught up", || {
        let info: String = q(&mut m, &[b"INFO"]).unwrap();
        info.lines().any(|l| l.starts_with("replica_") && l.ends_with("_lag_bytes: 0"))
    });
    // NSINFO: the replica's position is where the master's files end.
    let info: String = q(&mut m, &[b"NSINFO", b"default"]).unwrap();
    let field = |text: &str, suffix: &str| {
        text.lines().find(|l| l.contains(suffix)).and_then(|l| l.split(": ").nth(1)).map(str::to_string)
    };
    let position = field(&info, "replication_position").unwrap();
    let replica_line = info.lines().find(|l| l.starts_with("replica_") && l.contains("_position: ")).unwrap();
    assert!(replica_line.ends_with(&format!("_position: {position}")), "{info}");
    let replica_info: String = q(&mut r, &[b"NSINFO", b"default"]).unwrap();
    assert_eq!(field(&replica_info, "replication_position").unwrap(), position);
    drop((m, r));
    master.terminate();
    replica.terminate();
    same_files(&mdirs.data, &rdirs.data);
    same_files(&mdirs.index, &rdirs.index);
}

#[test]
fn replica_resumes_after_a_crash_and_can_be_promoted() {
    let (mdirs, rdirs) = (Dirs::new(), Dirs::new());
    let master = Server::start(&mdirs, &["--admin", "pw"]);
    let mut m = admin(&master);
    for i in 0..200 {
        let _: Vec<u8> = q(&mut m, &[b"SET", format!("k{i}").as_bytes(), b"first"]).unwrap();
    }
    let replica = start_replica(&rdirs, &master);
    let mut r = admin(&replica);
    eventually("first copy", || dbsize(&mut r, "default") == 200);
    drop(r);
    replica.kill9();

    // While the replica is down: updates, deletes, a flushed namespace.
    for i in 0..100 {
        let _: Vec<u8> = q(&mut m, &[b"SET", format!("k{i}").as_bytes(), b"second"]).unwrap();
    }
    for i in 150..200 {
        let _: () = q(&mut m, &[b"DEL", format!("k{i}").as_bytes()]).unwrap();
    }
    let replica = start_replica(&rdirs, &master);
    let mut r = admin(&replica);
    eventually("resumed copy", || {
        let v: Option<Vec<u8>> = q(&mut r, &[b"GET", b"k99"]).unwrap();
        dbsize(&mut r, "default") == 150 && v.as_deref() == Some(&b"second"[..])
    });
    let v: Vec<u8> = q(&mut r, &[b"GET", b"k100"]).unwrap();
    assert_eq!(v, b"first");

    // Promotion: the replica stops following and takes writes.
    let _: () = q(&mut r, &[b"REPLICAOF", b"NO", b"ONE"]).unwrap();
    let _: Vec<u8> = q(&mut r, &[b"SET", b"after", b"promotion"]).unwrap();
    let info: String = q(&mut r, &[b"INFO"]).unwrap();
    assert!(info.contains("role: master"), "{info}");
    let _: Vec<u8> = q(&mut m, &[b"SET", b"k0", b"third"]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let v: Vec<u8> = q(&mut r, &[b"GET", b"k0"]).unwrap();
    assert_eq!(v, b"second", "a promoted replica no longer follows its old master");
}

#[test]
fn sync_replicas_lose_nothing_when_the_master_dies() {
    let (mdirs, rdirs) = (Dirs::new(), Dirs::new());
    let master = Server::start(&mdirs, &["--admin", "pw", "--sync-replicas", "1"]);
    let replica = start_replica(&rdirs, &master);
    let mut m = admin(&master);
    let mut acked = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(700) && acked.len() < 5000 {
        let key = format!("key-{}", acked.len());
        let _: Vec<u8> = q(&mut m, &[b"SET", key.as_bytes(), key.as_bytes()]).unwrap();
        acked.push(key);
    }
    master.kill9();
    let mut r = admin(&replica);
    let _: () = q(&mut r, &[b"REPLICAOF", b"NO", b"ONE"]).unwrap();
    for key in &acked {
        let v: Option<Vec<u8>> = q(&mut r, &[b"GET", key.as_bytes()]).unwrap();
        assert_eq!(v.as_deref(), Some(key.as_bytes()), "acknowledged {key} missing on the promoted replica");
    }
    assert!(acked.len() > 10, "the writer made progress");
}
