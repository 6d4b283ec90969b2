//! Test support: the real `zdb` binary of this workspace, on 127.0.0.1 with an ephemeral port (or
//! a unix socket) and temporary directories. Each test starts its own server.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The admin password the test servers are started with.
pub const ADMIN: &str = "admin-pw-do-not-leak";

/// The `zdb` binary of this workspace, next to this test's executable (built once if no test run
/// built it yet; this crate does not depend on `zdb`, so cargo does not build it for us).
pub fn zdb_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap();
            let zdb = profile_dir.join("zdb");
            if !zdb.exists() {
                let target = profile_dir.parent().unwrap();
                let status = Command::new(env!("CARGO"))
                    .args(["build", "-p", "zdb", "--bin", "zdb"])
                    .env("CARGO_TARGET_DIR", target)
                    .status()
                    .unwrap();
                assert!(status.success(), "building zdb failed");
            }
            zdb
        })
        .clone()
}

/// A running zdb; killed (SIGKILL) when dropped.
pub struct Zdb {
    child: Child,
    /// What to pass to `Client::connect`: `127.0.0.1:PORT`, or the socket path.
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Zdb {
    /// zdb on TCP with the admin password [`ADMIN`].
    pub fn start() -> Zdb {
        Self::start_with(&["--admin", ADMIN])
    }

    /// zdb on TCP with these extra flags.
    pub fn start_with(extra: &[&str]) -> Zdb {
        Self::spawn(extra, None)
    }

    /// zdb listening only on a unix socket in its temp dir, with the admin password [`ADMIN`].
    pub fn start_unix() -> Zdb {
        Self::spawn(&["--admin", ADMIN], Some("zdb.sock"))
    }

    fn spawn(extra: &[&str], socket: Option<&str>) -> Zdb {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(zdb_binary());
        cmd.arg("--data").arg(dir.path().join("data")).arg("--index").arg(dir.path().join("index"));
        match socket {
            Some(name) => cmd.arg("--socket").arg(dir.path().join(name)),
            None => cmd.args(["--listen", "127.0.0.1", "--port", "0"]),
        };
        let mut child = cmd
            .args(extra)
            .env_remove("ZDB_ADMIN")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn zdb");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(addr) = line.strip_prefix("zdb listening on ") {
                let addr = addr.trim().to_string();
                std::thread::spawn(move || lines.for_each(drop));
                return Zdb { child, addr, _dir: dir };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("zdb did not start");
    }

    /// SIGKILL and wait: the server is gone when this returns.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Zdb {
    fn drop(&mut self) {
        self.kill();
    }
}
