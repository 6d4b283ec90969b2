//! `cargo xtask bench zdb`: redis-benchmark against our `zdb` and against
//! redis-server, in the same run, on the same machine, same flags.
//!
//! Every scenario starts fresh servers on 127.0.0.1 with temporary
//! directories, runs `redis-benchmark --csv`, and reads the servers' CPU
//! time from /proc to report CPU per request. Figures are printed with the
//! zdb/redis ratio; nothing here asserts a speed.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::{cargo, ensure_packages};

/// One redis-benchmark run: which commands, pipelining, request count.
struct Scenario {
    name: &'static str,
    tests: &'static str,
    pipeline: u32,
    requests: u64,
    /// zdb `--sync` against redis `appendfsync always`.
    durable: bool,
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("zdb") => {}
        Some("bcdb") => return bcdb(&args[1..]),
        _ => bail!("usage: cargo xtask bench zdb [--quick] [--memory] | cargo xtask bench bcdb [--quick]"),
    }
    let quick = args.iter().any(|a| a == "--quick");
    ensure_packages(&["redis-tools", "redis-server"])?;
    let zdb = build_zdb()?;
    let keys = if quick { 250_000 } else { 1_000_000 };
    if args.iter().any(|a| a == "--memory") {
        return memory_and_restart(&zdb, keys);
    }
    let scale = if quick { 4 } else { 1 };
    let scenarios = [
        Scenario {
            name: "SET/GET -c 50 -P 1",
            tests: "set,get",
            pipeline: 1,
            requests: 400_000 / scale,
            durable: false,
        },
        Scenario {
            name: "SET/GET -c 50 -P 16",
            tests: "set,get",
            pipeline: 16,
            requests: 2_000_000 / scale,
            durable: false,
        },
        Scenario { name: "SET durable -c 50 -P 1", tests: "set", pipeline: 1, requests: 40_000 / scale, durable: true },
    ];
    println!("redis-benchmark -c 50 -d 64 -r 1000000 (random keys), zdb {} vs redis-server", zdb.display());
    println!(
        "{:<28} {:>12} {:>12} {:>7} {:>11} {:>11}",
        "scenario", "zdb req/s", "redis req/s", "ratio", "zdb µs/req", "redis µs/req"
    );
    for s in &scenarios {
        let ours = measure(&Target::Zdb(&zdb), s)?;
        let theirs = measure(&Target::Redis, s)?;
        for (test, z) in &ours {
            let r = theirs.iter().find(|(t, _)| t == test).map(|(_, r)| *r).unwrap_or_default();
            let label = format!("{} {}", test, s.name.split_once(' ').map_or("", |(_, rest)| rest));
            let label = if s.durable { format!("{label} (sync)") } else { label };
            println!(
                "{:<28} {:>12.0} {:>12.0} {:>7.2} {:>11.2} {:>11.2}",
                label,
                z.rps,
                r.rps,
                z.rps / r.rps.max(1.0),
                z.cpu_us_per_req,
                r.cpu_us_per_req
            );
        }
    }
    println!("(durable: zdb --sync vs redis-server appendonly yes + appendfsync always)");
    memory_and_restart(&zdb, keys)
}

/// Loads `keys` distinct 16-byte keys with 64-byte values, then reports
/// RSS per key and how long a restart takes until PING answers.
fn memory_and_restart(zdb: &Path, keys: u64) -> anyhow::Result<()> {
    let dir = tempdir()?;
    let s = Scenario { name: "load", tests: "set", pipeline: 16, requests: keys, durable: false };
    let server = start(&Target::Zdb(zdb), &s, &dir)?;
    // `-r` with a keyspace much larger than the request count gives (almost) distinct keys.
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &server.port.to_string(), "-c", "50", "-P", "16", "-d", "64"])
        .args(["-r", "100000000", "-n", &keys.to_string(), "-t", "set", "-q"])
        .output()?;
    if !out.status.success() {
        bail!("loading keys failed");
    }
    let dbsize = cli(server.port, &["DBSIZE"])?.trim().parse::<u64>().unwrap_or(0);
    let rss = rss_bytes(server.child.id())?;
    drop(server);
    let started = Instant::now();
    let server = start(&Target::Zdb(zdb), &s, &dir)?;
    wait_ready(server.port)?;
    let restart = started.elapsed();
    let rss_after = rss_bytes(server.child.id())?;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{dbsize} keys (16 B keys, 64 B values): RSS {:.1} MB = {:.0} B/key; restart until PING {:.2} s (RSS after restart {:.1} MB)",
        rss as f64 / 1e6,
        rss as f64 / dbsize.max(1) as f64,
        restart.as_secs_f64(),
        rss_after as f64 / 1e6
    );
    Ok(())
}

fn cli(port: u16, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("redis-cli").args(["-h", "127.0.0.1", "-p", &port.to_string()]).args(args).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Resident set size of a process.
fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

#[derive(Clone, Copy, Debug, Default)]
struct Figure {
    rps: f64,
    cpu_us_per_req: f64,
}

enum Target<'a> {
    Zdb(&'a Path),
    Redis,
}

/// Starts a fresh server, runs each test of the scenario, stops it.
fn measure(target: &Target, s: &Scenario) -> anyhow::Result<Vec<(String, Figure)>> {
    let dir = tempdir()?;
    let server = start(target, s, &dir)?;
    let mut results = Vec::new();
    for test in s.tests.split(',') {
        let cpu_before = cpu_seconds(server.child.id())?;
        let rps = redis_benchmark(server.port, test, s)?;
        let cpu = cpu_seconds(server.child.id())? - cpu_before;
        results.push((test.to_uppercase(), Figure { rps, cpu_us_per_req: cpu * 1e6 / s.requests as f64 }));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(results)
}

struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(target: &Target, s: &Scenario, dir: &Path) -> anyhow::Result<Running> {
    match target {
        Target::Zdb(bin) => {
            let mut cmd = Command::new(bin);
            cmd.arg("--data").arg(dir.join("data")).arg("--index").arg(dir.join("index"));
            cmd.args(["--listen", "127.0.0.1", "--port", "0"]);
            if s.durable {
                cmd.arg("--sync");
            }
            let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().context("starting zdb")?;
            let stdout = child.stdout.take().expect("piped");
            let mut lines = BufReader::new(stdout).lines();
            let port = loop {
                let line = lines.next().context("zdb exited before listening")??;
                if let Some(port) = line.strip_prefix("zdb listening on ").and_then(|a| a.rsplit(':').next()) {
                    break port.parse()?;
                }
            };
            std::thread::spawn(move || for _ in lines {});
            Ok(Running { child, port })
        }
        Target::Redis => {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut cmd = Command::new("redis-server");
            cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", ""]);
            cmd.arg("--dir").arg(dir);
            if s.durable {
                cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
            } else {
                cmd.args(["--appendonly", "no"]);
            }
            let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().context("starting redis-server")?;
            let running = Running { child, port };
            wait_ready(port)?;
            Ok(running)
        }
    }
}

fn wait_ready(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let ok = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "PING"])
            .output()
            .map(|o| o.stdout.starts_with(b"PONG"))
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("server on port {port} did not answer PING")
}

/// Runs one redis-benchmark test and returns its requests per second.
fn redis_benchmark(port: u16, test: &str, s: &Scenario) -> anyhow::Result<f64> {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-c", "50", "-d", "64", "-r", "1000000"])
        .args(["-n", &s.requests.to_string(), "-P", &s.pipeline.to_string(), "-t", test, "--csv"])
        .stderr(Stdio::null())
        .output()
        .context("running redis-benchmark")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // CSV: "test","rps",... then one line per test: "SET","123456.78",...
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
        if fields.len() >= 2 && fields[0].eq_ignore_ascii_case(test) {
            return fields[1].parse().with_context(|| format!("bad redis-benchmark line: {line}"));
        }
    }
    bail!("redis-benchmark printed no {test} figure:\n{text}")
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("zdb-bench-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Builds the release binary and returns its path.
fn build_zdb() -> anyhow::Result<PathBuf> {
    let status = Command::new(cargo()).args(["build", "--release", "--bin", "zdb"]).status()?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    let meta = Command::new(cargo()).args(["metadata", "--format-version", "1", "--no-deps"]).output()?;
    let text = String::from_utf8_lossy(&meta.stdout);
    let key = "\"target_directory\":\"";
    let start = text.find(key).context("cargo metadata has no target_directory")? + key.len();
    let end = text[start..].find('"').context("bad cargo metadata")? + start;
    Ok(PathBuf::from(&text[start..end]).join("release").join("zdb"))
}

/// `cargo xtask bench bcdb`: builds bcdb in release and runs its benchmark binary, which starts a
/// real `bcdb serve` and prints appends/s against the single-core ed25519 verify rate, proof rates
/// and the index rebuild time.
fn bcdb(args: &[String]) -> anyhow::Result<()> {
    let status = Command::new(cargo()).args(["build", "--release", "-p", "bcdb", "--bins"]).status()?;
    if !status.success() {
        bail!("building bcdb failed");
    }
    let zdb = build_zdb()?;
    let status = Command::new(zdb.with_file_name("bcdb-bench")).args(args).status()?;
    if !status.success() {
        bail!("bcdb-bench failed");
    }
    Ok(())
}
