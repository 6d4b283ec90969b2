//! Test support: the real `bcdb` binary (server and CLI) and the real `zdb`, on 127.0.0.1 with
//! ephemeral ports and temporary directories.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use identity::{Identity, KeyScheme};
use serde_json::Value;

/// A running `bcdb serve`; killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub server_key: String,
}

impl Server {
    /// Starts a server on `data` (segment files) with extra flags; waits until it listens.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Self::try_start(data, extra).unwrap_or_else(|e| panic!("bcdb serve did not start: {e}"))
    }

    /// Like `start`, but returns the server's stderr when it exits instead of listening.
    pub fn try_start(data: &Path, extra: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bcdb"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn bcdb");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut server_key = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(key) = line.strip_prefix("bcdb server key ") {
                server_key = key.to_string();
            }
            if let Some(addr) = line.strip_prefix("bcdb listening on ") {
                std::thread::spawn(move || lines.for_each(drop));
                return Ok(Server { child, url: format!("http://{addr}"), server_key });
            }
        }
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        let _ = child.wait();
        Err(err)
    }

    /// SIGKILL and wait.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A twin: an identity file and its own trusted-checkpoint file, driving the `bcdb` CLI.
pub struct Twin {
    pub identity: Identity,
    pub identity_file: PathBuf,
    pub trust_file: PathBuf,
}

impl Twin {
    /// A new twin whose files live in `dir/name.*`.
    pub fn new(dir: &Path, name: &str) -> Twin {
        let identity = Identity::generate(KeyScheme::TfV2);
        let identity_file = dir.join(format!("{name}.identity.json"));
        identity.save(&identity_file).unwrap();
        Twin { identity, identity_file, trust_file: dir.join(format!("{name}.trust.json")) }
    }

    /// The twin's public key, hex.
    pub fn key(&self) -> String {
        self.identity.public_key().to_string()
    }

    /// Runs `bcdb --json ARGS` against `server` as this twin.
    pub fn run(&self, server: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bcdb"))
            .args(["--server", server, "--json", "--identity"])
            .arg(&self.identity_file)
            .arg("--trust")
            .arg(&self.trust_file)
            .args(args)
            .env_remove("BCDB_SERVER")
            .output()
            .expect("run bcdb")
    }

    /// Runs and expects success; returns the JSON it printed.
    pub fn ok(&self, server: &str, args: &[&str]) -> Value {
        let out = self.run(server, args);
        assert!(out.status.success(), "bcdb {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("bcdb {args:?} printed non-JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
        })
    }

    /// Runs and expects failure; returns stderr.
    pub fn fails(&self, server: &str, args: &[&str]) -> String {
        let out = self.run(server, args);
        assert!(
            !out.status.success(),
            "bcdb {args:?} should fail but printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// A phonebook-like schema used across the tests.
pub const USER_SCHEMA: &str =
    "@url = test.user.1\n&name = \"\" (S)  # unique\nemail** = \"\" (S)\nage = 0 (I)\nrole = \"user,admin\" (E)\n";

/// Writes the schema to `dir` and registers it as `twin`.
pub fn add_user_schema(twin: &Twin, server: &str, dir: &Path) {
    let file = dir.join("user.schema");
    std::fs::write(&file, USER_SCHEMA).unwrap();
    twin.ok(server, &["schema", "add", file.to_str().unwrap()]);
}

/// The `zdb` binary of this workspace (built if a test run did not build it yet).
pub fn zdb_binary() -> PathBuf {
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
}

/// A running zdb on an ephemeral port.
pub struct Zdb {
    child: Child,
    pub addr: String,
    pub data: PathBuf,
}

impl Zdb {
    /// Starts zdb with data and index under `dir` and the given admin password.
    pub fn start(dir: &Path, admin: &str) -> Zdb {
        let data = dir.join("zdb-data");
        let mut child = Command::new(zdb_binary())
            .args(["--port", "0", "--admin", admin, "--data"])
            .arg(&data)
            .arg("--index")
            .arg(dir.join("zdb-index"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn zdb");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(addr) = line.split("zdb listening on ").nth(1) {
                let addr = addr.trim().to_string();
                std::thread::spawn(move || lines.for_each(drop));
                return Zdb { child, addr, data };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("zdb did not start");
    }
}

impl Drop for Zdb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits a little (for file system timestamps and the like); never used to assert timing.
pub fn pause() {
    std::thread::sleep(Duration::from_millis(20));
}
