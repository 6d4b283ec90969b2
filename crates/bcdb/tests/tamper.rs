//! Flipped bytes and torn writes on both storage backends: damage is reported as corruption of a
//! named entry, never served as data; a torn tail (a write the crash interrupted) is cut and kept.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{add_user_schema, Server, Twin, Zdb};
use serde_json::Value;

fn put_user(twin: &Twin, url: &str, name: &str) -> Value {
    let out = twin.ok(url, &["put", "--schema", "test.user.1", "--public", &format!(r#"{{"name":"{name}"}}"#)]);
    assert_eq!(out["status"], "accepted", "{out}");
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bcdb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bcdb")).args(args).env_remove("BCDB_ZDB_PASSWORD").output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn segment(data: &Path) -> PathBuf {
    data.join("log").join(format!("seg-{:020}.log", 0))
}

/// Writes a schema and users `names` (entries 1..), kills the server; returns the object ids.
fn closed_log(dir: &Path, data: &Path, names: &[&str]) -> (Twin, Vec<String>) {
    let server = Server::start(data, &[]);
    let alice = Twin::new(dir, "alice");
    add_user_schema(&alice, &server.url, dir);
    let ids = names.iter().map(|n| put_user(&alice, &server.url, n)["object"].as_str().unwrap().to_string()).collect();
    assert_eq!(alice.ok(&server.url, &["verify"])["size"], names.len() as u64 + 1);
    server.kill9();
    (alice, ids)
}

#[test]
fn a_flipped_byte_in_a_segment_is_named_and_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    closed_log(tmp.path(), &data, &["first-user", "flip-target", "last-user"]);
    let clean = bcdb(&["--json", "verify", "--data", data.to_str().unwrap()]);
    assert!(clean.status.success(), "{}", text(&clean));

    let path = segment(&data);
    let mut seg = std::fs::read(&path).unwrap();
    let at = find(&seg, b"flip-target").unwrap();
    seg[at + 5] ^= 0x01; // "flip-target" -> "flip-uarget": one bit of one byte
    std::fs::write(&path, &seg).unwrap();

    let out = bcdb(&["--json", "verify", "--data", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("corrupted log entry 2") && all.contains("checksum"), "{all}");

    let err = Server::try_start(&data, &[]).err().expect("serve must refuse a corrupted log");
    assert!(err.contains("corrupted log entry 2"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), seg, "a refused start leaves the evidence as it was");
}

#[test]
fn a_flipped_length_byte_never_loses_signed_entries_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    closed_log(tmp.path(), &data, &["len-user-1", "len-user-2", "len-user-3"]);
    let path = segment(&data);
    let mut seg = std::fs::read(&path).unwrap();
    let mut starts = Vec::new();
    let mut at = 16;
    while at < seg.len() {
        starts.push(at);
        at += 8 + u32::from_le_bytes(seg[at..at + 4].try_into().unwrap()) as usize;
    }
    // Entry 2's length grows by 4096: its record now seems to run past the end of the file.
    seg[starts[2] + 1] ^= 0x10;
    std::fs::write(&path, &seg).unwrap();

    // Whether the store calls it corruption or a torn tail, the entries the server signed a
    // checkpoint for are reported missing and the server does not serve without them.
    let out = bcdb(&["--json", "verify", "--data", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("corrupted log entry 2") || all.contains("fewer than the signed checkpoint's 4"), "{all}");
    let err = Server::try_start(&data, &[]).err().expect("serve must not start without signed entries");
    assert!(err.contains("corrupted log entry 2") || err.contains("entries were lost"), "{err}");
    // And the damaged bytes are still on disk, in the log or set aside.
    let mut kept = std::fs::read(&path).unwrap();
    if let Ok(aside) = std::fs::read(data.join("log").join("torn-2.bin")) {
        kept.extend_from_slice(&aside);
    }
    assert_eq!(kept, seg, "nothing is thrown away");
}

#[test]
fn a_torn_tail_is_cut_and_kept_and_earlier_entries_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let (alice, ids) = closed_log(dir, &data, &["torn-user-1", "torn-user-2", "torn-user-3"]);
    let trusted = std::fs::read(&alice.trust_file).unwrap();

    // Half of a real record (the last one) appended: what a crash mid-write leaves.
    let path = segment(&data);
    let mut seg = std::fs::read(&path).unwrap();
    let clean_len = seg.len();
    let mut start = 16;
    loop {
        let len = u32::from_le_bytes(seg[start..start + 4].try_into().unwrap()) as usize;
        if start + 8 + len == clean_len {
            break;
        }
        start += 8 + len;
    }
    let torn: Vec<u8> = seg[start..start + (clean_len - start) / 2].to_vec();
    seg.extend_from_slice(&torn);
    std::fs::write(&path, &seg).unwrap();

    let server = Server::start(&data, &[]);
    assert_eq!(std::fs::read(data.join("log").join("torn-4.bin")).unwrap(), torn, "the torn bytes are kept aside");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), clean_len as u64, "and cut from the log");
    // The twin that verified 4 entries before the crash still finds the same log.
    let audit = alice.ok(&server.url, &["verify"]);
    assert_eq!(audit["size"], 4);
    assert_eq!(std::fs::read(&alice.trust_file).unwrap(), trusted);
    for (id, name) in ids.iter().zip(["torn-user-1", "torn-user-2", "torn-user-3"]) {
        assert_eq!(alice.ok(&server.url, &["get", id])["payload"]["name"], name);
    }
    let next = put_user(&alice, &server.url, "torn-user-4");
    assert_eq!(next["index"], 4, "the next write lands where the torn one was");
    server.kill9();

    let out = bcdb(&["--json", "verify", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["entries"], 5);
    assert!(report["problems"].as_array().unwrap().is_empty(), "{report}");
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_flipped_byte_in_zdb_is_detected_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let zdb = Zdb::start(dir, "admin-pw");
    let zargs = |addr: &str| -> Vec<String> {
        ["--zdb", addr, "--namespace", "ledger", "--password", "ns-pw"].iter().map(|s| s.to_string()).collect()
    };
    let mut serve_args = zargs(&zdb.addr);
    serve_args.extend(["--zdb-admin".to_string(), "admin-pw".to_string()]);
    let serve_args: Vec<&str> = serve_args.iter().map(String::as_str).collect();
    let server = Server::start(&data, &serve_args);
    let alice = Twin::new(dir, "alice");
    add_user_schema(&alice, &server.url, dir);
    for name in ["zdb-user-one", "zdb-marker-7f3a", "zdb-user-three"] {
        put_user(&alice, &server.url, name);
    }
    server.kill9();
    drop(zdb);

    // Flip one byte of entry 2's payload inside zdb's data file.
    let mut hits = Vec::new();
    for file in files(&dir.join("zdb-data")) {
        let bytes = std::fs::read(&file).unwrap();
        if let Some(at) = find(&bytes, b"zdb-marker-7f3a") {
            hits.push((file, bytes, at));
        }
    }
    assert_eq!(hits.len(), 1, "the marker is in exactly one zdb data file");
    let (file, mut bytes, at) = hits.pop().unwrap();
    bytes[at + 11] ^= 0x01; // '7' -> '6'
    std::fs::write(&file, &bytes).unwrap();

    let zdb = Zdb::start(dir, "admin-pw");
    let mut args = vec!["--json".to_string(), "verify".into(), "--data".into(), data.to_str().unwrap().into()];
    args.extend(zargs(&zdb.addr));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bcdb(&args);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("corrupted log entry 2"), "{all}");
    assert!(!all.contains("zdb-marker-6f3a"), "the damaged value must never be shown as data: {all}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["entries"], 4, "every entry was looked at: {report}");
    let problems: Vec<&str> = report["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(problems[0].starts_with("corrupted log entry 2"), "{problems:?}");
    for other in ["entry 0", "entry 1", "entry 3"] {
        assert!(problems.iter().all(|p| !p.contains(other)), "only entry 2 is damaged: {problems:?}");
    }

    // The server refuses to start on it rather than serve around the hole.
    let mut serve_args = zargs(&zdb.addr);
    serve_args.extend(["--zdb-admin".to_string(), "admin-pw".to_string()]);
    let serve_args: Vec<&str> = serve_args.iter().map(String::as_str).collect();
    let err = Server::try_start(&data, &serve_args).err().expect("serve must refuse a corrupted log");
    assert!(err.contains("corrupted log entry 2"), "{err}");
}
