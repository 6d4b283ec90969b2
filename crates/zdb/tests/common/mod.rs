//! Test support: start the real `zdb` binary on 127.0.0.1 with an
//! ephemeral port and temporary directories, and talk to it with real
//! clients (the `redis` crate, `redis-cli`, raw sockets).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub mod raw;

/// A data and an index directory that outlive server restarts.
pub struct Dirs {
    _tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub index: PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data = tmp.path().join("data");
        let index = tmp.path().join("index");
        Dirs { _tmp: tmp, data, index }
    }

    /// Fresh directories holding a copy of `../shared/fixtures/zdb-v2`.
    pub fn from_fixture() -> Dirs {
        let dirs = Dirs::new();
        let fixture = fixture_dir();
        copy_tree(&fixture.join("data"), &dirs.data);
        copy_tree(&fixture.join("index"), &dirs.index);
        dirs
    }

    pub fn root(&self) -> &Path {
        self._tmp.path()
    }
}

/// Where the shared fixtures are: `$ZDB_FIXTURES` or `../shared/fixtures/zdb-v2`
/// next to the repository.
pub fn fixture_dir() -> PathBuf {
    if let Ok(p) = std::env::var("ZDB_FIXTURE_DIR") {
        return PathBuf::from(p);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [manifest.join("../../../shared/fixtures/zdb-v2"), manifest.join("../../shared/fixtures/zdb-v2")];
    candidates.into_iter().find(|p| p.join("expected.json").exists()).expect("shared/fixtures/zdb-v2 not found")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perm = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&target, perm).unwrap();
        }
    }
}

/// A running `zdb` process; killed (SIGKILL) when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    /// Lines zdb printed on stdout up to its "listening" line.
    pub announced: Vec<String>,
}

impl Server {
    /// Starts zdb on `dirs` with extra flags; waits until it listens.
    pub fn start(dirs: &Dirs, extra: &[&str]) -> Server {
        Self::try_start(dirs, extra).expect("zdb did not start")
    }

    /// Like `start`, but returns the server's stderr when it fails to start.
    pub fn try_start(dirs: &Dirs, extra: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zdb"))
            .arg("--data")
            .arg(&dirs.data)
            .arg("--index")
            .arg(&dirs.index)
            .args(["--listen", "127.0.0.1", "--port", "0"])
            .args(extra)
            .env("RUST_LOG", std::env::var("ZDB_TEST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn zdb");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut announced = Vec::new();
        let port = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    announced.push(line.clone());
                    if let Some(addr) = line.strip_prefix("zdb listening on ") {
                        if let Some(port) = addr.rsplit(':').next().and_then(|p| p.parse().ok()) {
                            break port;
                        }
                    }
                }
                _ => {
                    let mut err = String::new();
                    child.stderr.take().unwrap().read_to_string(&mut err).ok();
                    let _ = child.wait();
                    return Err(err);
                }
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[zdb] {line}");
            }
        });
        Ok(Server { child: Some(child), port, announced })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A new `redis` crate connection.
    pub fn client(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).unwrap();
        client.get_connection_with_timeout(Duration::from_secs(10)).expect("connect to zdb")
    }

    /// A raw TCP socket (for protocol-level tests).
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Runs `redis-cli -p PORT args…` and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli is installed (Debian package redis-tools)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM and wait for a clean exit; returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let mut child = self.child.take().unwrap();
        unsafe_kill(child.id(), 15);
        let status = child.wait().unwrap();
        status.code()
    }

    /// Waits for the process to exit by itself (after STOP).
    pub fn wait_exit(mut self) -> Option<i32> {
        let mut child = self.child.take().unwrap();
        child.wait().unwrap().code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().expect("kill");
}

/// Sends raw bytes and reads whatever arrives until `expect_len` bytes or
/// the connection closes / times out.
pub fn raw_exchange(stream: &mut TcpStream, send: &[u8], expect_len: usize) -> Vec<u8> {
    stream.write_all(send).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < expect_len {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}
