//! `--hook EXE`: the original's hooks run with the original's arguments,
//! and missing-data restores offloaded data files on demand.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Dirs, Server};

/// A hook that logs its arguments, one call per line, and answers
/// missing-data by copying the file back from `<root>/offloaded/`.
fn install_hook(root: &Path) -> std::path::PathBuf {
    let hook = root.join("hook.sh");
    let log = root.join("hook.log");
    let offloaded = root.join("offloaded");
    std::fs::create_dir_all(&offloaded).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {log}\nif [ \"$1\" = missing-data ]; then\n  cp {off}/$(basename \"$3\") \"$3\" || exit 1\nfi\nexit 0\n",
        log = log.display(),
        off = offloaded.display()
    );
    std::fs::write(&hook, script).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    hook
}

fn log_lines(root: &Path) -> Vec<String> {
    std::fs::read_to_string(root.join("hook.log")).unwrap_or_default().lines().map(String::from).collect()
}

/// Background hooks finish on their own schedule: poll the log (bounded).
fn wait_for_line(root: &Path, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = log_lines(root).into_iter().find(|l| l.starts_with(prefix)) {
            return line;
        }
        assert!(Instant::now() < deadline, "hook {prefix} never ran; log: {:?}", log_lines(root));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hooks_get_the_original_arguments() {
    let dirs = Dirs::new();
    let hook = install_hook(dirs.root());
    let server = Server::start(&dirs, &["--hook", hook.to_str().unwrap()]);
    let port = server.port;
    let instance = format!("tcp://127.0.0.1:{port}");
    let lines = log_lines(dirs.root());
    assert_eq!(lines[0], format!("namespaces-init {instance} {} {}", dirs.index.display(), dirs.data.display()));
    assert_eq!(lines[1], format!("ready {instance}"));

    let mut con = server.client();
    let _: () = redis::cmd("NSNEW").arg("hooked").query(&mut con).unwrap();
    assert_eq!(wait_for_line(dirs.root(), "namespace-created"), format!("namespace-created {instance} hooked"));
    let _: () = redis::cmd("NSSET").arg("hooked").arg("public").arg("0").query(&mut con).unwrap();
    assert_eq!(wait_for_line(dirs.root(), "namespace-updated"), format!("namespace-updated {instance} hooked"));

    // An update marks i0 dirty; the jump reports it and, since the hook
    // exits 0, resets the dirty list.
    let _: Vec<u8> = redis::cmd("SET").arg("k").arg("v1").query(&mut con).unwrap();
    let _: Vec<u8> = redis::cmd("SET").arg("k").arg("v2").query(&mut con).unwrap();
    let dirty: Vec<i64> = redis::cmd("INDEX").arg("DIRTY").query(&mut con).unwrap();
    assert_eq!(dirty, vec![0]);
    let _: () = redis::cmd("NSJUMP").query(&mut con).unwrap();
    let idx = dirs.index.join("default");
    let dat = dirs.data.join("default");
    assert_eq!(
        wait_for_line(dirs.root(), "jump-index"),
        format!("jump-index {instance} {} {} 0", idx.join("i0").display(), idx.join("i1").display())
    );
    assert_eq!(
        wait_for_line(dirs.root(), "jump-data"),
        format!("jump-data {instance} {} {}", dat.join("d0").display(), dat.join("d1").display())
    );
    let dirty: Vec<i64> = redis::cmd("INDEX").arg("DIRTY").query(&mut con).unwrap();
    assert!(dirty.is_empty(), "a successful jump-index hook resets the dirty list");

    let _: () = redis::cmd("NSDEL").arg("hooked").query(&mut con).unwrap();
    assert_eq!(wait_for_line(dirs.root(), "namespace-deleted"), format!("namespace-deleted {instance} hooked"));
    let hooks: redis::Value = redis::cmd("HOOKS").query(&mut con).unwrap();
    assert!(matches!(hooks, redis::Value::Array(ref runs) if !runs.is_empty()), "HOOKS lists recent runs: {hooks:?}");

    assert_eq!(server.terminate(), Some(143));
    assert_eq!(log_lines(dirs.root()).last().unwrap(), &format!("close {instance}"));
}

#[test]
fn missing_data_hook_restores_offloaded_files() {
    let dirs = Dirs::new();
    let hook = install_hook(dirs.root());
    let server = Server::start(&dirs, &["--hook", hook.to_str().unwrap()]);
    let mut con = server.client();
    let _: Vec<u8> = redis::cmd("SET").arg("old").arg("kept in d0").query(&mut con).unwrap();
    let _: () = redis::cmd("NSJUMP").query(&mut con).unwrap();
    let _: Vec<u8> = redis::cmd("SET").arg("new").arg("in d1").query(&mut con).unwrap();
    drop(con);
    server.terminate();

    // Offload the finished data file: it is gone from the data directory.
    let d0 = dirs.data.join("default").join("d0");
    std::fs::rename(&d0, dirs.root().join("offloaded").join("d0")).unwrap();

    let server = Server::start(&dirs, &["--hook", hook.to_str().unwrap()]);
    let mut con = server.client();
    let v: Vec<u8> = redis::cmd("GET").arg("old").query(&mut con).unwrap();
    assert_eq!(v, b"kept in d0");
    assert!(d0.exists(), "the hook put d0 back");
    let missing = wait_for_line(dirs.root(), "missing-data");
    assert!(missing.ends_with(&d0.display().to_string()), "{missing}");
    let v: Vec<u8> = redis::cmd("GET").arg("new").query(&mut con).unwrap();
    assert_eq!(v, b"in d1");
}

#[test]
fn a_failing_ready_hook_stops_the_start() {
    let dirs = Dirs::new();
    let hook = dirs.root().join("fail.sh");
    std::fs::write(&hook, "#!/bin/sh\n[ \"$1\" = ready ] && exit 3\nexit 0\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let started = Server::try_start(&dirs, &["--hook", hook.to_str().unwrap()]);
    assert!(started.is_err(), "zdb must not announce or serve when the ready hook fails");
}
