//! Nothing acknowledged is lost, and damage on disk is detected (never
//! served as data). The original loses acknowledged writes after a torn
//! index tail, serves flipped bits, and starts empty without an index
//! (shared/reference/0db.md, section 11); these tests hold zdb to better.
//!
//! Offsets inside the files are found by parsing them with the format of
//! `src/format.rs` (index header 29 B, entry 34 B + key; data header 28 B,
//! entry 18 B + key + payload).

mod common;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::raw::{bulk, is_error, pattern, Reply, Resp};
use common::{Dirs, Server};

/// A small xorshift generator for the writers' choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

// ------------------------------------------------------------ file parsing

const INDEX_HEADER: u64 = 29;
const INDEX_FIXED: u64 = 34;
const DATA_HEADER: u64 = 28;
const DATA_FIXED: u64 = 18;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

#[derive(Debug, Clone)]
struct IndexEntry {
    offset: u64,
    key: Vec<u8>,
    data_offset: u32,
    length: u32,
    flags: u8,
    crc: u32,
}

impl IndexEntry {
    fn size(&self) -> u64 {
        INDEX_FIXED + self.key.len() as u64
    }
}

/// Every well-formed entry of an index file, and whether the file is
/// well-formed to its last byte.
fn parse_index(path: &Path) -> (Vec<IndexEntry>, bool) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(b.len() as u64 >= INDEX_HEADER && &b[..4] == b"IDX0", "{}: bad index header", path.display());
    let mut out = Vec::new();
    let mut off = INDEX_HEADER as usize;
    while off + INDEX_FIXED as usize <= b.len() {
        let key_len = b[off] as usize;
        let end = off + INDEX_FIXED as usize + key_len;
        if key_len == 0 || end > b.len() {
            break;
        }
        out.push(IndexEntry {
            offset: off as u64,
            key: b[off + INDEX_FIXED as usize..end].to_vec(),
            data_offset: u32_at(&b, off + 1),
            length: u32_at(&b, off + 5),
            flags: b[off + 13],
            crc: u32_at(&b, off + 22),
        });
        off = end;
    }
    (out, off == b.len())
}

#[derive(Debug, Clone)]
struct DataEntry {
    offset: u64,
    key: Vec<u8>,
    length: u32,
    flags: u8,
}

impl DataEntry {
    fn payload_at(&self) -> u64 {
        self.offset + DATA_FIXED + self.key.len() as u64
    }

    fn size(&self) -> u64 {
        DATA_FIXED + self.key.len() as u64 + self.length as u64
    }
}

fn parse_data(path: &Path) -> (Vec<DataEntry>, bool) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(b.len() as u64 >= DATA_HEADER && &b[..4] == b"DAT0", "{}: bad data header", path.display());
    let mut out = Vec::new();
    let mut off = DATA_HEADER as usize;
    while off + DATA_FIXED as usize <= b.len() {
        let key_len = b[off] as usize;
        let length = u32_at(&b, off + 1);
        let end = off + DATA_FIXED as usize + key_len + length as usize;
        if key_len == 0 || end > b.len() {
            break;
        }
        out.push(DataEntry {
            offset: off as u64,
            key: b[off + DATA_FIXED as usize..off + DATA_FIXED as usize + key_len].to_vec(),
            length,
            flags: b[off + 13],
        });
        off = end;
    }
    (out, off == b.len())
}

fn index_file(dirs: &Dirs, ns: &str, id: u32) -> PathBuf {
    dirs.index.join(ns).join(format!("i{id}"))
}

fn data_file(dirs: &Dirs, ns: &str, id: u32) -> PathBuf {
    dirs.data.join(ns).join(format!("d{id}"))
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

fn truncate(p: &Path, len: u64) {
    OpenOptions::new().write(true).open(p).unwrap().set_len(len).unwrap();
}

fn flip_byte(p: &Path, at: u64) {
    let f = OpenOptions::new().read(true).write(true).open(p).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0x20;
    f.write_all_at(&b, at).unwrap();
    f.sync_all().unwrap();
}

// ------------------------------------------------------------ the model

/// What a key may read back as: any of these states (None: absent).
/// One state when the last operation was acknowledged; two when the server
/// died with an operation in flight (old or new state are both correct).
type Model = BTreeMap<Vec<u8>, Vec<Option<Vec<u8>>>>;

/// Checks every key of `model` against the server; returns the range the
/// live-key count must be in.
fn verify_model(c: &mut Resp, model: &Model, what: &str) -> (i64, i64) {
    let (mut sure, mut maybe) = (0i64, 0i64);
    for (key, states) in model {
        let got = match c.get(key) {
            Reply::Bulk(v) => v,
            other => panic!("{what}: GET {:?}: {other:?}", String::from_utf8_lossy(key)),
        };
        assert!(
            states.contains(&got),
            "{what}: key {:?} reads {:?}, acknowledged state(s) {:?}",
            String::from_utf8_lossy(key),
            got.as_ref().map(|v| String::from_utf8_lossy(&v[..v.len().min(40)]).into_owned()),
            states
                .iter()
                .map(|s| s.as_ref().map(|v| String::from_utf8_lossy(&v[..v.len().min(40)]).into_owned()))
                .collect::<Vec<_>>()
        );
        let exists = c.cmd(&[b"EXISTS", key]);
        assert_eq!(exists, Reply::Int(got.is_some() as i64), "{what}: EXISTS disagrees with GET");
        if got.is_some() {
            assert_eq!(c.cmd(&[b"CHECK", key]), Reply::Int(1), "{what}: CHECK of a read-back value");
        }
        match (states.iter().all(|s| s.is_some()), states.iter().any(|s| s.is_some())) {
            (true, _) => sure += 1,
            (false, true) => maybe += 1,
            _ => {}
        }
    }
    (sure, sure + maybe)
}

fn dbsize(c: &mut Resp) -> i64 {
    match c.cmd(&[b"DBSIZE"]) {
        Reply::Int(n) => n,
        other => panic!("DBSIZE: {other:?}"),
    }
}

// ------------------------------------------- kill -9 under concurrent load

const WRITERS: usize = 4;
const KEYS_PER_WRITER: u64 = 40;

/// One writer of user keys `w<t>-<j>`: SETs and DELs its own keys until
/// the connection breaks or `stop`; returns what was acknowledged.
fn user_writer(port: u16, t: usize, stop: Arc<AtomicBool>) -> Model {
    let mut c = Resp::connect(port);
    let mut model: Model = BTreeMap::new();
    let mut acked = 0u64;
    let mut rng = Rng(0x1234_5678 + t as u64);
    // Bounded in count as well as by the kill.
    for n in 0..200_000u64 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let j = rng.next() % KEYS_PER_WRITER;
        let key = format!("w{t}-{j}").into_bytes();
        let current = model.get(&key).cloned().unwrap_or_else(|| vec![None]);
        let present = current.len() == 1 && current[0].is_some();
        if present && rng.next() % 5 == 0 {
            match c.try_cmd(&[b"DEL", &key]) {
                Ok(Reply::Status(s)) if s == "OK" => {
                    model.insert(key, vec![None]);
                    acked += 1;
                }
                Ok(other) => panic!("DEL {:?}: {other:?}", String::from_utf8_lossy(&key)),
                Err(_) => {
                    model.insert(key, vec![current[0].clone(), None]);
                    break;
                }
            }
        } else {
            let mut value = format!("w{t}-{j}-n{n}:").into_bytes();
            value.extend(pattern((rng.next() % 3000) as usize, n));
            match c.try_cmd(&[b"SET", &key, &value]) {
                Ok(r) if r == bulk(&key) => {
                    model.insert(key, vec![Some(value)]);
                    acked += 1;
                }
                Ok(other) => panic!("SET {:?}: {other:?}", String::from_utf8_lossy(&key)),
                Err(_) => {
                    let mut states = current;
                    states.push(Some(value));
                    model.insert(key, states);
                    break;
                }
            }
        }
    }
    eprintln!("writer {t}: {acked} acknowledged operations before the kill");
    model
}

/// Runs `WRITERS` writers for about a second, kills the server with
/// SIGKILL in the middle of their writes, and returns the merged model.
fn load_then_kill9<F>(server: Server, writer: F) -> Model
where
    F: Fn(u16, usize, Arc<AtomicBool>) -> Model + Send + Sync + Clone + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let port = server.port;
    let handles: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (stop, writer) = (stop.clone(), writer.clone());
            thread::spawn(move || writer(port, t, stop))
        })
        .collect();
    thread::sleep(Duration::from_millis(1000));
    server.kill9();
    // Writers stop on their own when their connection breaks; the flag is
    // only a safety net.
    stop.store(true, Ordering::Relaxed);
    let mut model = Model::new();
    for h in handles {
        model.extend(h.join().expect("writer thread"));
    }
    model
}

fn kill9_user_mode(flags: &[&str]) {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, flags);
    let model = load_then_kill9(server, user_writer);
    let acked = model.values().filter(|s| s.len() == 1).count();
    assert!(acked >= WRITERS, "the writers got almost nothing acknowledged ({acked} keys)");

    let server = Server::start(&dirs, flags);
    let mut c = Resp::new(&server);
    let (lo, hi) = verify_model(&mut c, &model, "after kill -9");
    let n = dbsize(&mut c);
    assert!(lo <= n && n <= hi, "DBSIZE {n} outside [{lo}, {hi}]");
    // The recovered state is a sound base: write more, kill again, restart.
    let mut model = model;
    for (i, (key, states)) in model.iter_mut().enumerate().take(20) {
        let value = format!("second-life-{i}").into_bytes();
        c.set(key, &value);
        *states = vec![Some(value)];
    }
    server.kill9();
    let server = Server::start(&dirs, flags);
    let mut c = Resp::new(&server);
    verify_model(&mut c, &model, "after a second kill -9");
}

#[test]
fn kill9_loses_nothing_acknowledged_with_sync() {
    kill9_user_mode(&["--sync"]);
}

#[test]
fn kill9_loses_nothing_acknowledged_without_sync() {
    kill9_user_mode(&[]);
}

/// A writer in a sequential namespace: creates ids, updates and deletes
/// its own ids. Model keys are the 8-byte ids.
fn seq_writer(port: u16, t: usize, stop: Arc<AtomicBool>) -> Model {
    let mut c = Resp::connect(port);
    c.ok(&[b"SELECT", b"seqns"]);
    let mut model: Model = BTreeMap::new();
    let mut acked = 0u64;
    let mut mine: Vec<Vec<u8>> = Vec::new();
    let mut rng = Rng(0xfeed_0000 + t as u64);
    for n in 0..200_000u64 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let mut value = format!("s{t}-n{n}:").into_bytes();
        value.extend(pattern((rng.next() % 2000) as usize, n));
        let pick = rng.next();
        if mine.len() < 5 || pick % 3 == 0 {
            match c.try_cmd(&[b"SET", b"", &value]) {
                Ok(Reply::Bulk(Some(id))) if id.len() == 8 => {
                    assert!(!model.contains_key(&id), "id {id:?} handed out twice");
                    mine.push(id.clone());
                    model.insert(id, vec![Some(value)]);
                    acked += 1;
                }
                Ok(other) => panic!("SET \"\": {other:?}"),
                Err(_) => break, // the id is unknown: nothing to check
            }
            continue;
        }
        let id = mine[(pick / 3) as usize % mine.len()].clone();
        let current = model[&id].clone();
        if current != vec![None] && pick % 7 == 1 {
            match c.try_cmd(&[b"DEL", &id]) {
                Ok(Reply::Status(s)) if s == "OK" => {
                    model.insert(id, vec![None]);
                    acked += 1;
                }
                Ok(other) => panic!("DEL {id:?}: {other:?}"),
                Err(_) => {
                    model.insert(id, vec![current[0].clone(), None]);
                    break;
                }
            }
        } else if current != vec![None] {
            match c.try_cmd(&[b"SET", &id, &value]) {
                Ok(r) if r == bulk(&id) => {
                    model.insert(id, vec![Some(value)]);
                    acked += 1;
                }
                Ok(other) => panic!("SET {id:?}: {other:?}"),
                Err(_) => {
                    model.insert(id, vec![current[0].clone(), Some(value)]);
                    break;
                }
            }
        }
    }
    eprintln!("writer {t}: {acked} acknowledged operations before the kill");
    model
}

fn kill9_seq_mode(flags: &[&str]) {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, flags);
    let mut c = Resp::new(&server);
    c.ok(&[b"NSNEW", b"seqns"]);
    c.ok(&[b"NSSET", b"seqns", b"mode", b"seq"]);
    drop(c);
    let model = load_then_kill9(server, seq_writer);
    assert!(model.len() >= WRITERS * 5, "the writers got almost nothing acknowledged");

    let server = Server::start(&dirs, flags);
    let mut c = Resp::new(&server);
    c.ok(&[b"SELECT", b"seqns"]);
    let (lo, hi) = verify_model(&mut c, &model, "seq namespace after kill -9");
    // Ids created but not acknowledged may exist on top of these.
    let n = dbsize(&mut c);
    assert!(n >= lo && n <= hi + WRITERS as i64, "DBSIZE {n} outside [{lo}, {hi} + in-flight]");
    // Deleted ids stay deleted: they cannot be written again.
    for (id, states) in &model {
        if states == &vec![None] {
            assert!(is_error(&c.cmd(&[b"SET", id, b"again"])), "deleted id {id:?} accepted a SET");
            break;
        }
    }
    // The next id continues after every acknowledged one.
    let max = model.keys().map(|k| u64::from_le_bytes(k[..].try_into().unwrap())).max().unwrap();
    match c.cmd(&[b"SET", b"", b"next"]) {
        Reply::Bulk(Some(id)) => {
            let id = u64::from_le_bytes(id[..].try_into().unwrap());
            assert!(id > max, "new id {id} re-uses an id up to {max}");
        }
        other => panic!("SET \"\" after restart: {other:?}"),
    }
}

#[test]
fn kill9_loses_nothing_acknowledged_in_seq_namespace() {
    kill9_seq_mode(&[]);
}

#[test]
fn kill9_loses_nothing_acknowledged_in_seq_namespace_with_sync() {
    kill9_seq_mode(&["--sync"]);
}

// ---------------------------------------------------------- torn files

/// Ten keys, an update and a delete (so the index has in-place flags), then
/// a fresh key written last. Returns the model (key → value, None deleted).
fn populate(c: &mut Resp) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
    let mut model = BTreeMap::new();
    for i in 0..10u64 {
        let key = format!("key-{i}").into_bytes();
        let value = pattern(50 + i as usize * 37, i);
        c.set(&key, &value);
        model.insert(key, Some(value));
    }
    let updated = pattern(500, 99);
    c.set(b"key-2", &updated);
    model.insert(b"key-2".to_vec(), Some(updated));
    c.ok(&[b"DEL", b"key-5"]);
    model.insert(b"key-5".to_vec(), None);
    let last = pattern(300, 1000);
    c.set(b"last", &last);
    model.insert(b"last".to_vec(), Some(last));
    model
}

fn check_plain(c: &mut Resp, model: &BTreeMap<Vec<u8>, Option<Vec<u8>>>, what: &str) {
    for (key, value) in model {
        assert_eq!(c.get(key), Reply::Bulk(value.clone()), "{what}: GET {:?}", String::from_utf8_lossy(key));
    }
    let live = model.values().filter(|v| v.is_some()).count() as i64;
    assert_eq!(dbsize(c), live, "{what}: DBSIZE");
}

/// After a repair, the newest index and data files are well-formed to
/// their last byte (no torn bytes left for the next write to land after).
fn assert_files_clean(dirs: &Dirs, what: &str) {
    let (_, index_clean) = parse_index(&index_file(dirs, "default", 0));
    assert!(index_clean, "{what}: index i0 still has trailing bytes that are not an entry");
    let (_, data_clean) = parse_data(&data_file(dirs, "default", 0));
    assert!(data_clean, "{what}: data d0 still has trailing bytes that are not an entry");
}

/// Damages the index tail with `damage`, then checks the keys, writes a new
/// key, restarts again and checks it survived.
fn index_tail_damage(damage: impl FnOnce(&Path), what: &str) {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let mut model = populate(&mut c);
    assert_eq!(server.terminate(), Some(143));

    damage(&index_file(&dirs, "default", 0));
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    // Everything is there, the key whose index entry was torn included
    // (its data entry is complete: the index is rebuilt from it).
    check_plain(&mut c, &model, what);
    assert_files_clean(&dirs, what);

    // The original appended new entries after the torn bytes and lost them
    // at the next restart.
    let fresh = pattern(123, 7777);
    c.set(b"after-repair", &fresh);
    model.insert(b"after-repair".to_vec(), Some(fresh));
    let newer = pattern(77, 8888);
    c.set(b"key-0", &newer);
    model.insert(b"key-0".to_vec(), Some(newer));
    server.kill9();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    check_plain(&mut c, &model, &format!("{what}, then a write and a restart"));
    assert_files_clean(&dirs, what);
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    check_plain(&mut c, &model, &format!("{what}, third start"));
}

#[test]
fn torn_index_tail_loses_nothing() {
    index_tail_damage(
        |i0| {
            let (entries, clean) = parse_index(i0);
            assert!(clean);
            let last = entries.last().unwrap();
            assert_eq!(last.key, b"last");
            assert_eq!(last.offset + last.size(), file_len(i0));
            truncate(i0, file_len(i0) - 10);
        },
        "last index entry torn by 10 bytes",
    );
}

#[test]
fn torn_index_tail_inside_the_fixed_part() {
    index_tail_damage(
        |i0| {
            let (entries, _) = parse_index(i0);
            let last = entries.last().unwrap();
            // Only 5 bytes of the entry made it.
            truncate(i0, last.offset + 5);
        },
        "last index entry cut to 5 bytes",
    );
}

#[test]
fn garbage_appended_to_the_index() {
    index_tail_damage(
        |i0| {
            let mut f = OpenOptions::new().append(true).open(i0).unwrap();
            f.write_all(b"\x07garbage!\xff\x00\x13\x37\x42").unwrap();
            assert_eq!(b"\x07garbage!\xff\x00\x13\x37\x42".len(), 14);
        },
        "14 bytes of garbage after the index",
    );
}

#[test]
fn garbage_appended_that_looks_like_an_entry_start() {
    // 14 bytes whose first byte is a plausible key length.
    index_tail_damage(
        |i0| {
            let mut f = OpenOptions::new().append(true).open(i0).unwrap();
            let mut junk = vec![4u8];
            junk.extend_from_slice(&28u32.to_le_bytes());
            junk.extend_from_slice(&[0u8; 9]);
            assert_eq!(junk.len(), 14);
            f.write_all(&junk).unwrap();
        },
        "14 bytes of entry-like garbage after the index",
    );
}

/// Cuts the last data entry in half (its index entry intact): the write was
/// never acknowledged, so it must vanish cleanly.
fn torn_data_tail(last_is_update: bool) {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let mut model = populate(&mut c);
    let first = model[&b"key-3".to_vec()].clone().unwrap();
    let second = pattern(600, 4141);
    if last_is_update {
        // An acknowledged update, then one whose data gets torn.
        c.set(b"key-3", &second);
        model.insert(b"key-3".to_vec(), Some(second.clone()));
        c.set(b"key-3", &pattern(4000, 4242));
    }
    assert_eq!(server.terminate(), Some(143));

    let d0 = data_file(&dirs, "default", 0);
    let (entries, clean) = parse_data(&d0);
    assert!(clean);
    let last = entries.last().unwrap().clone();
    assert_eq!(last.key, if last_is_update { &b"key-3"[..] } else { &b"last"[..] });
    assert_eq!(last.offset + last.size(), file_len(&d0));
    truncate(&d0, last.offset + last.size() / 2);

    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    if last_is_update {
        // The torn update is gone as if it never happened: the key reads
        // back its previous value (not nothing, not an error), with its
        // history intact.
        assert_eq!(c.get(b"key-3"), bulk(&second), "key-3 after its torn update");
        assert_eq!(history(&mut c, b"key-3"), vec![first.clone(), second.clone()]);
    } else {
        assert_eq!(c.get(b"last"), Reply::Bulk(None), "a torn write must vanish");
        assert_eq!(c.cmd(&[b"EXISTS", b"last"]), Reply::Int(0));
        model.insert(b"last".to_vec(), None);
    }
    check_plain(&mut c, &model, "after a torn data tail");
    assert_eq!(file_len(&d0), last.offset, "the torn data entry is cut off");
    assert_files_clean(&dirs, "after a torn data tail");

    // New writes land on a clean boundary and survive restarts.
    for i in 0..5u64 {
        let key = format!("new-{i}").into_bytes();
        let value = pattern(200 + i as usize, 5000 + i);
        c.set(&key, &value);
        model.insert(key, Some(value));
    }
    let value = pattern(64, 6000);
    c.set(b"last", &value);
    model.insert(b"last".to_vec(), Some(value));
    server.kill9();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    check_plain(&mut c, &model, "torn data tail, new writes, restart");
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    check_plain(&mut c, &model, "torn data tail, new writes, second restart");
    if last_is_update {
        assert_eq!(history(&mut c, b"key-3"), vec![first, second]);
    }
    assert_files_clean(&dirs, "torn data tail, second restart");
}

#[test]
fn torn_data_tail_of_a_new_key() {
    torn_data_tail(false);
}

#[test]
fn torn_data_tail_of_an_update() {
    torn_data_tail(true);
}

// ------------------------------------------------------------- bit flips

/// Offset of a byte in the middle of `key`'s live payload in d0.
fn payload_byte(dirs: &Dirs, key: &[u8]) -> u64 {
    let (index, _) = parse_index(&index_file(dirs, "default", 0));
    let live = index.iter().rev().find(|e| e.key == key && e.flags & 1 == 0).expect("live index entry");
    let (data, _) = parse_data(&data_file(dirs, "default", 0));
    let entry = data.iter().find(|d| d.offset == live.data_offset as u64).expect("data entry of the index entry");
    assert_eq!((&entry.key, entry.length, entry.flags), (&live.key, live.length, 0));
    let _ = live.crc;
    entry.payload_at() + entry.length as u64 / 2
}

fn corrupted_key_is_an_error(c: &mut Resp, model: &BTreeMap<Vec<u8>, Option<Vec<u8>>>, key: &[u8]) {
    let got = c.get(key);
    assert!(is_error(&got), "GET of a corrupted value must be an error, got {got:?}");
    assert_eq!(c.cmd(&[b"CHECK", key]), Reply::Int(0), "CHECK of a corrupted value");
    // MGET reports it per key, and the other keys still come through.
    match c.cmd(&[b"MGET", key, b"key-0"]) {
        Reply::Array(Some(items)) => {
            assert!(is_error(&items[0]), "MGET of a corrupted value: {:?}", items[0]);
            assert_eq!(items[1], Reply::Bulk(model[&b"key-0".to_vec()].clone()));
        }
        other => panic!("MGET: {other:?}"),
    }
    // HISTORY must not hand the bytes out either.
    let h = c.cmd(&[b"HISTORY", key]);
    assert!(is_error(&h), "HISTORY of a corrupted value: {h:?}");
    for (k, v) in model {
        if k != key {
            assert_eq!(
                c.get(k),
                Reply::Bulk(v.clone()),
                "GET {:?} next to a corrupted key",
                String::from_utf8_lossy(k)
            );
        }
    }
    // Writing the original value again really writes it (a SET compared
    // by length and CRC only would answer "unchanged" and keep the damage).
    let original = model[key].clone().unwrap();
    assert_eq!(c.cmd(&[b"SET", key, &original]), bulk(key), "re-SET of a corrupted value");
    assert_eq!(c.get(key), bulk(&original));
    assert_eq!(c.cmd(&[b"CHECK", key]), Reply::Int(1));
}

#[test]
fn bit_flip_while_stopped_is_detected() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let model = populate(&mut c);
    assert_eq!(server.terminate(), Some(143));
    flip_byte(&data_file(&dirs, "default", 0), payload_byte(&dirs, b"key-7"));

    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    assert_eq!(dbsize(&mut c), 10, "the corrupted key still counts: it is not silently dropped");
    corrupted_key_is_an_error(&mut c, &model, b"key-7");
    // And after another restart everything is sound again.
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    check_plain(&mut c, &model, "after re-writing the corrupted key");
}

#[test]
fn bit_flip_in_an_older_version_breaks_only_history() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let model = populate(&mut c);
    // key-2's first version is the first superseded entry for key-2.
    let (index, _) = parse_index(&index_file(&dirs, "default", 0));
    let old = index.iter().find(|e| e.key == b"key-2").unwrap().clone();
    assert_eq!(old.flags & 1, 1, "first version of key-2 is superseded");
    let (data, _) = parse_data(&data_file(&dirs, "default", 0));
    let entry = data.iter().find(|d| d.offset == old.data_offset as u64).unwrap();
    flip_byte(&data_file(&dirs, "default", 0), entry.payload_at() + 3);
    // Current value fine; walking to the old version is an error.
    check_plain(&mut c, &model, "after flipping an old version");
    let cursor = match c.cmd(&[b"HISTORY", b"key-2"]) {
        Reply::Array(Some(items)) => match &items[0] {
            Reply::Bulk(Some(cur)) => cur.clone(),
            other => panic!("HISTORY cursor: {other:?}"),
        },
        other => panic!("HISTORY: {other:?}"),
    };
    let h = c.cmd(&[b"HISTORY", b"key-2", &cursor]);
    assert!(is_error(&h), "HISTORY of a corrupted old version: {h:?}");
}

#[test]
fn bit_flip_while_running_is_detected() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let model = populate(&mut c);
    // The server reads with pread: the flip is seen without a restart.
    assert_eq!(c.get(b"key-4"), Reply::Bulk(model[&b"key-4".to_vec()].clone()));
    flip_byte(&data_file(&dirs, "default", 0), payload_byte(&dirs, b"key-4"));
    corrupted_key_is_an_error(&mut c, &model, b"key-4");
    // A flip in a key's stored key bytes (data entry no longer matches the
    // index) is an error too.
    let (index, _) = parse_index(&index_file(&dirs, "default", 0));
    let live = index.iter().rev().find(|e| e.key == b"key-8" && e.flags & 1 == 0).unwrap();
    flip_byte(&data_file(&dirs, "default", 0), live.data_offset as u64 + DATA_FIXED + 1);
    let got = c.get(b"key-8");
    assert!(is_error(&got), "GET with a damaged data entry header: {got:?}");
    assert_eq!(c.cmd(&[b"CHECK", b"key-8"]), Reply::Int(-1), "CHECK of an unreadable (mismatching) entry");
    assert_eq!(c.get(b"key-9"), Reply::Bulk(model[&b"key-9".to_vec()].clone()));
    // A flipped length field of a data entry: an error, not a short or
    // long read handed out as the value.
    let live = index.iter().rev().find(|e| e.key == b"key-1" && e.flags & 1 == 0).unwrap();
    flip_byte(&data_file(&dirs, "default", 0), live.data_offset as u64 + 1);
    assert!(is_error(&c.get(b"key-1")));
    // The server keeps working.
    c.set(b"brand-new", b"value");
    assert_eq!(c.get(b"brand-new"), bulk(b"value"));
}

// --------------------------------------------------------- lost index

/// A key's versions, oldest first, since its last DEL.
type Versions = BTreeMap<Vec<u8>, Vec<Vec<u8>>>;

/// Walks HISTORY from the current version back to the first one.
fn history(c: &mut Resp, key: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    for _ in 0..1000 {
        let reply = match &cursor {
            None => c.cmd(&[b"HISTORY", key]),
            Some(cur) => c.cmd(&[b"HISTORY", key, cur]),
        };
        let Reply::Array(Some(items)) = reply else { panic!("HISTORY {:?}: {reply:?}", String::from_utf8_lossy(key)) };
        let Reply::Bulk(Some(payload)) = &items[2] else { panic!("HISTORY payload: {:?}", items[2]) };
        out.push(payload.clone());
        match &items[0] {
            Reply::Bulk(Some(next)) => cursor = Some(next.clone()),
            Reply::Bulk(None) => break,
            other => panic!("HISTORY cursor: {other:?}"),
        }
    }
    out.reverse();
    out
}

#[test]
fn lost_index_is_rebuilt_from_the_data() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let mut versions: Versions = BTreeMap::new();
    let mut deleted: Vec<Vec<u8>> = Vec::new();
    let mut rng = Rng(42);
    // Three file pairs: writes, updates and deletes spread over all of them
    // (and deletes of keys whose live version is in an older file).
    for round in 0..3u64 {
        for i in 0..30u64 {
            let key = format!("k{}", rng.next() % 25).into_bytes();
            if rng.next() % 6 == 0 && versions.contains_key(&key) {
                c.ok(&[b"DEL", &key]);
                versions.remove(&key);
                deleted.push(key);
            } else {
                let value = pattern(20 + (rng.next() % 500) as usize, round * 100 + i);
                c.set(&key, &value);
                versions.entry(key.clone()).or_default().push(value);
                deleted.retain(|k| k != &key);
            }
        }
        if round < 2 {
            c.ok(&[b"NSJUMP"]);
        }
    }
    assert!(!deleted.is_empty() && versions.values().any(|v| v.len() > 2));
    for (key, vs) in &versions {
        assert_eq!(&history(&mut c, key), vs, "HISTORY before the loss");
    }
    assert_eq!(server.terminate(), Some(143));

    // Remove every index file, keep the descriptor.
    let ns_index = dirs.index.join("default");
    let mut removed = 0;
    for entry in std::fs::read_dir(&ns_index).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with('i') {
            std::fs::remove_file(entry.path()).unwrap();
            removed += 1;
        }
    }
    assert_eq!(removed, 3);
    assert!(ns_index.join("zdb-namespace").exists());

    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let check = |c: &mut Resp, versions: &Versions, deleted: &[Vec<u8>], what: &str| {
        assert_eq!(dbsize(c), versions.len() as i64, "{what}: DBSIZE (the original starts empty)");
        for (key, vs) in versions {
            assert_eq!(c.get(key), bulk(vs.last().unwrap()), "{what}: GET {:?}", String::from_utf8_lossy(key));
            assert_eq!(&history(c, key), vs, "{what}: HISTORY {:?}", String::from_utf8_lossy(key));
        }
        for key in deleted {
            assert_eq!(c.get(key), Reply::Bulk(None), "{what}: deleted {:?}", String::from_utf8_lossy(key));
        }
    };
    check(&mut c, &versions, &deleted, "index rebuilt");
    for id in 0..3 {
        assert!(index_file(&dirs, "default", id).exists(), "i{id} rebuilt");
    }
    // SCAN walks every live key exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    for _ in 0..1000 {
        let reply = match &cursor {
            None => c.cmd(&[b"SCAN"]),
            Some(cur) => c.cmd(&[b"SCAN", cur]),
        };
        match reply {
            Reply::Error(e) if e == "No more data" => break,
            Reply::Array(Some(items)) => {
                let Reply::Bulk(Some(next)) = &items[0] else { panic!("SCAN cursor") };
                cursor = Some(next.clone());
                let Reply::Array(Some(keys)) = &items[1] else { panic!("SCAN keys") };
                for k in keys {
                    let Reply::Array(Some(fields)) = k else { panic!("SCAN entry") };
                    let Reply::Bulk(Some(key)) = &fields[0] else { panic!("SCAN key") };
                    seen.push(key.clone());
                }
            }
            other => panic!("SCAN: {other:?}"),
        }
    }
    seen.sort();
    assert_eq!(seen, versions.keys().cloned().collect::<Vec<_>>(), "SCAN after the rebuild");

    // The rebuilt index is a real one: it survives restarts and new writes.
    let v = pattern(99, 31337);
    c.set(b"k0", &v);
    versions.entry(b"k0".to_vec()).or_default().push(v);
    deleted.retain(|k| k != b"k0");
    server.kill9();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    check(&mut c, &versions, &deleted, "rebuilt index, a write, and a restart");
}

#[test]
fn lost_index_of_a_seq_namespace_is_rebuilt() {
    lost_seq_index(&[], "seqns");
}

#[test]
fn lost_index_of_a_seq_server_is_rebuilt() {
    lost_seq_index(&["--mode", "seq"], "default");
}

fn lost_seq_index(flags: &[&str], ns: &str) {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, flags);
    let mut c = Resp::new(&server);
    if ns != "default" {
        c.ok(&[b"NSNEW", ns.as_bytes()]);
        c.ok(&[b"NSSET", ns.as_bytes(), b"mode", b"seq"]);
        c.ok(&[b"SELECT", ns.as_bytes()]);
    }
    let id = |n: u64| n.to_le_bytes().to_vec();
    let mut model: BTreeMap<u64, Option<Vec<u8>>> = BTreeMap::new();
    for n in 0..8u64 {
        let value = pattern(40 + n as usize, n);
        assert_eq!(c.cmd(&[b"SET", b"", &value]), bulk(&id(n)));
        model.insert(n, Some(value));
    }
    // Update id 2 (uses up id 8), delete id 3, update id 2 again (id 9),
    // jump to a new file pair, create id 10 and update id 0 (id 11).
    let v2a = pattern(70, 200);
    assert_eq!(c.cmd(&[b"SET", &id(2), &v2a]), bulk(&id(2)));
    c.ok(&[b"DEL", &id(3)]);
    let v2b = pattern(71, 201);
    assert_eq!(c.cmd(&[b"SET", &id(2), &v2b]), bulk(&id(2)));
    c.ok(&[b"NSJUMP"]);
    let v10 = pattern(33, 10);
    assert_eq!(c.cmd(&[b"SET", b"", &v10]), bulk(&id(10)));
    let v0 = pattern(34, 300);
    assert_eq!(c.cmd(&[b"SET", &id(0), &v0]), bulk(&id(0)));
    let first2 = model[&2].clone().unwrap();
    model.insert(2, Some(v2b.clone()));
    model.insert(3, None);
    model.insert(10, Some(v10));
    model.insert(0, Some(v0));
    for copy in [8u64, 9, 11] {
        model.insert(copy, None); // history copies are not live ids
    }
    let next_expected = 12u64;
    assert_eq!(history(&mut c, &id(2)), vec![first2.clone(), v2a.clone(), v2b.clone()]);
    assert_eq!(server.terminate(), Some(143));

    let ns_index = dirs.index.join(ns);
    for entry in std::fs::read_dir(&ns_index).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with('i') {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }

    let server = Server::start(&dirs, flags);
    let mut c = Resp::new(&server);
    if ns != "default" {
        c.ok(&[b"SELECT", ns.as_bytes()]);
        let info = match c.cmd(&[b"NSINFO", ns.as_bytes()]) {
            Reply::Bulk(Some(text)) => String::from_utf8_lossy(&text).into_owned(),
            other => panic!("NSINFO: {other:?}"),
        };
        assert!(info.contains("mode: sequential"), "the namespace is still sequential after the rebuild:\n{info}");
    }
    for (n, value) in &model {
        assert_eq!(c.get(&id(*n)), Reply::Bulk(value.clone()), "GET id {n} after the rebuild");
    }
    assert_eq!(dbsize(&mut c), model.values().filter(|v| v.is_some()).count() as i64);
    // Deleted ids stay deleted; copies are not writable ids.
    assert!(is_error(&c.cmd(&[b"SET", &id(3), b"resurrect"])), "deleted id 3 accepted a SET");
    assert_eq!(c.get(&id(3)), Reply::Bulk(None));
    // History of id 2 is complete.
    assert_eq!(history(&mut c, &id(2)), vec![first2, v2a, v2b.clone()]);
    // Ids keep counting where they stopped.
    let v = pattern(5, 5);
    assert_eq!(c.cmd(&[b"SET", b"", &v]), bulk(&id(next_expected)), "next id after the rebuild");
    model.insert(next_expected, Some(v));
    // Updates still work and the result survives another restart.
    let v2c = pattern(72, 202);
    assert_eq!(c.cmd(&[b"SET", &id(2), &v2c]), bulk(&id(2)));
    model.insert(2, Some(v2c));
    model.insert(next_expected + 1, None);
    server.kill9();
    let server = Server::start(&dirs, flags);
    let mut c = Resp::new(&server);
    if ns != "default" {
        c.ok(&[b"SELECT", ns.as_bytes()]);
    }
    for (n, value) in &model {
        assert_eq!(c.get(&id(*n)), Reply::Bulk(value.clone()), "GET id {n} after rebuild and restart");
    }
    assert_eq!(c.cmd(&[b"SET", b"", b"x"]), bulk(&id(next_expected + 2)));
}

// ------------------------------------------------------ missing data file

#[test]
fn missing_active_data_file() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let model = populate(&mut c);
    assert_eq!(server.terminate(), Some(143));
    std::fs::remove_file(data_file(&dirs, "default", 0)).unwrap();

    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    assert_eq!(c.cmd(&[b"PING"]), Reply::Status("PONG".into()));
    for (key, value) in &model {
        let got = c.get(key);
        match value {
            // The index still knows the key, but its data is gone: an error,
            // never a silent nil or other bytes.
            Some(_) => {
                assert!(is_error(&got), "GET {:?} with its data file gone: {got:?}", String::from_utf8_lossy(key))
            }
            None => assert_eq!(got, Reply::Bulk(None)),
        }
    }
    // New writes work and survive a restart.
    c.set(b"fresh", b"after the loss");
    assert_eq!(c.get(b"fresh"), bulk(b"after the loss"));
    c.set(b"key-0", b"rewritten");
    assert_eq!(c.get(b"key-0"), bulk(b"rewritten"));
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    assert_eq!(c.get(b"fresh"), bulk(b"after the loss"));
    assert_eq!(c.get(b"key-0"), bulk(b"rewritten"));
    let got = c.get(b"key-9");
    assert!(is_error(&got), "key-9 after a second restart: {got:?}");
}

#[test]
fn missing_older_data_file() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let model = populate(&mut c);
    c.ok(&[b"NSJUMP"]);
    c.set(b"in-d1", b"second file");
    assert_eq!(server.terminate(), Some(143));
    std::fs::remove_file(data_file(&dirs, "default", 0)).unwrap();

    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    for (key, value) in &model {
        let got = c.get(key);
        match value {
            Some(_) => assert!(is_error(&got), "GET {:?} with d0 gone: {got:?}", String::from_utf8_lossy(key)),
            None => assert_eq!(got, Reply::Bulk(None)),
        }
    }
    assert_eq!(c.get(b"in-d1"), bulk(b"second file"));
    c.set(b"fresh", b"v");
    assert_eq!(c.get(b"fresh"), bulk(b"v"));
}

#[test]
fn torn_data_tail_of_a_seq_update() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    c.ok(&[b"NSNEW", b"seqns"]);
    c.ok(&[b"NSSET", b"seqns", b"mode", b"seq"]);
    c.ok(&[b"SELECT", b"seqns"]);
    let id = |n: u64| n.to_le_bytes().to_vec();
    let mut values = Vec::new();
    for n in 0..5u64 {
        let v = pattern(100 + n as usize, 70 + n);
        assert_eq!(c.cmd(&[b"SET", b"", &v]), bulk(&id(n)));
        values.push(v);
    }
    let second = pattern(300, 4141);
    assert_eq!(c.cmd(&[b"SET", &id(2), &second]), bulk(&id(2)));
    assert_eq!(c.cmd(&[b"SET", &id(2), &pattern(5000, 4242)]), bulk(&id(2)));
    assert_eq!(server.terminate(), Some(143));

    let d0 = data_file(&dirs, "seqns", 0);
    let (entries, clean) = parse_data(&d0);
    assert!(clean);
    let last = entries.last().unwrap().clone();
    assert_eq!((last.key.clone(), last.length), (id(2), 5000));
    truncate(&d0, last.offset + last.size() / 2);

    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    c.ok(&[b"SELECT", b"seqns"]);
    // The torn update is undone: id 2 reads its previous value, never an
    // error (its slot must not keep pointing at the cut-off data).
    assert_eq!(c.get(&id(2)), bulk(&second), "id 2 after its torn update");
    assert_eq!(history(&mut c, &id(2)), vec![values[2].clone(), second.clone()]);
    for n in [0u64, 1, 3, 4] {
        assert_eq!(c.get(&id(n)), bulk(&values[n as usize]));
    }
    assert_eq!(dbsize(&mut c), 5);
    // New writes land on a clean boundary and survive a restart.
    let next = match c.cmd(&[b"SET", b"", b"after"]) {
        Reply::Bulk(Some(raw)) => u64::from_le_bytes(raw[..].try_into().unwrap()),
        other => panic!("SET \"\": {other:?}"),
    };
    assert!(next >= 6, "new id {next} re-uses an id already handed out");
    let third = pattern(40, 4343);
    assert_eq!(c.cmd(&[b"SET", &id(2), &third]), bulk(&id(2)));
    server.kill9();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    c.ok(&[b"SELECT", b"seqns"]);
    assert_eq!(c.get(&id(next)), bulk(b"after"));
    assert_eq!(c.get(&id(2)), bulk(&third));
    assert_eq!(history(&mut c, &id(2)), vec![values[2].clone(), second, third]);
}
