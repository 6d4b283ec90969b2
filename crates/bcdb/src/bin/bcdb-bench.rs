//! `cargo xtask bench bcdb` runs this (release build): it prints
//!
//! 1. the single-core ed25519 verify rate (the anchor),
//! 2. signed appends per second through a real `bcdb serve` (HTTP, group-committed fsync), with the
//!    ratio to the anchor and the server's CPU time per append,
//! 3. proof generation and verification rates on a tree of one million leaves,
//! 4. the time to rebuild the index of N revisions from the log (default one million).
//!
//! Nothing here asserts a speed; it prints figures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use bcdb::ledger::{sha256, Ledger};
use bcdb::revision::{Acl, Entry, Op, Revision, SCHEMA_URL};
use bcdb::store::segments::SegmentStore;
use bcdb::store::LogStore;
use identity::{Domain, Identity, KeyScheme};

const SCHEMA: &str = "@url = bench.record.1\nname** = \"\" (S)\nvalue = 0 (I)\n";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let quick = args.iter().any(|a| a == "--quick");
    let appends = if quick { 20_000 } else { 100_000 };
    let rebuild = option("--rebuild").and_then(|n| n.parse().ok()).unwrap_or(if quick { 100_000 } else { 1_000_000 });
    let clients = option("--clients").and_then(|n| n.parse().ok()).unwrap_or(64);
    if option("--only").map(String::as_str) == Some("rebuild") {
        return rebuild_index(rebuild);
    }

    let verify_rate = verify_anchor();
    println!("ed25519 verify, one core:          {verify_rate:>10.0} /s   (anchor)");
    let (rate, cpu_us) = server_appends(appends, clients, 1)?;
    println!(
        "signed appends, one per request:   {rate:>10.0} /s   ratio to anchor {:.2}; server CPU {cpu_us:.1} µs/append; {clients} clients, fsync'd",
        rate / verify_rate
    );
    let (rate, cpu_us) = server_appends(appends, 8, 64)?;
    println!(
        "signed appends, 64 per request:    {rate:>10.0} /s   ratio to anchor {:.2}; server CPU {cpu_us:.1} µs/append; 8 clients, POST /v1/batch, fsync'd",
        rate / verify_rate
    );
    proofs();
    rebuild_index(rebuild)?;
    Ok(())
}

/// Verifies one signature over and over on this thread.
fn verify_anchor() -> f64 {
    let id = Identity::generate(KeyScheme::TfV2);
    let message = [7u8; 32];
    let sig = id.sign(Domain::Revision, &message);
    let key = id.public_key();
    let n = 20_000;
    let start = Instant::now();
    for _ in 0..n {
        key.verify(Domain::Revision, std::hint::black_box(&message), &sig).expect("verifies");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn schema_revision(author: &Identity) -> Entry {
    let rev = Revision {
        object: None,
        version: 1,
        prev: None,
        schema_url: SCHEMA_URL.into(),
        schema_hash: sha256(SCHEMA.as_bytes()),
        author: author.public_key(),
        timestamp_ms: 1,
        op: Op::Put,
        payload: SCHEMA.as_bytes().to_vec(),
        acl: Acl { public: true, grants: vec![] },
        multisig: None,
    };
    Entry::signed_by(rev, author)
}

/// `n` signed record creations, spread over a few authors, signed on every core.
fn records(n: usize) -> Vec<Vec<u8>> {
    let threads = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1);
    let per = n.div_ceil(threads);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let author = Identity::generate(KeyScheme::TfV2);
                (t * per..((t + 1) * per).min(n))
                    .map(|i| {
                        let rev = Revision {
                            object: None,
                            version: 1,
                            prev: None,
                            schema_url: "bench.record.1".into(),
                            schema_hash: sha256(SCHEMA.as_bytes()),
                            author: author.public_key(),
                            timestamp_ms: 1_700_000_000_000 + i as u64,
                            op: Op::Put,
                            payload: format!(r#"{{"name":"record-{i}","value":{i}}}"#).into_bytes(),
                            acl: Acl { public: true, grants: vec![] },
                            multisig: None,
                        };
                        Entry::signed_by(rev, &author).to_bytes()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles.into_iter().flat_map(|h| h.join().expect("signer thread")).collect()
}

/// Starts `bcdb serve` (the binary next to this one) on a temp dir; returns it and its address.
fn start_server(data: &Path) -> anyhow::Result<(Child, String)> {
    let exe = std::env::current_exe()?.with_file_name("bcdb");
    let mut child = Command::new(&exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", exe.display()))?;
    let lines = BufReader::new(child.stdout.take().expect("piped"));
    for line in lines.lines() {
        if let Some(addr) = line?.strip_prefix("bcdb listening on ") {
            return Ok((child, addr.to_string()));
        }
    }
    anyhow::bail!("bcdb serve did not start")
}

/// One keep-alive HTTP/1.1 POST of an entry; returns the status code.
fn post(stream: &mut BufReader<TcpStream>, body: &[u8]) -> anyhow::Result<u16> {
    Ok(post_to(stream, "/v1/entries", body)?.0)
}

/// One keep-alive HTTP/1.1 POST; returns the status code and the answer's body.
fn post_to(stream: &mut BufReader<TcpStream>, path: &str, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
    let head = format!("POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-length: {}\r\n\r\n", body.len());
    // One write per request, as any HTTP client library does (writev): two would cost a syscall
    // and a TCP segment more on both sides.
    let mut request = Vec::with_capacity(head.len() + body.len());
    request.extend_from_slice(head.as_bytes());
    request.extend_from_slice(body);
    stream.get_mut().write_all(&request)?;
    let mut status = 0;
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        stream.read_line(&mut line)?;
        if status == 0 {
            status = line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        } else if line == "\r\n" {
            break;
        } else if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse()?;
        }
    }
    let mut answer = vec![0u8; length];
    stream.read_exact(&mut answer)?;
    Ok((status, answer))
}

/// CPU time (user + system) of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()).unwrap_or(0.0);
    ticks / 100.0
}

/// Appends `n` entries from `clients` connections, `batch` entries per request (1: `POST
/// /v1/entries`, more: `POST /v1/batch`); returns appends/s and server CPU µs per append.
fn server_appends(n: usize, clients: usize, batch: usize) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let (mut server, addr) = start_server(dir.path())?;
    let admin = Identity::generate(KeyScheme::TfV2);
    let mut conn = BufReader::new(TcpStream::connect(&addr)?);
    anyhow::ensure!(post(&mut conn, &schema_revision(&admin).to_bytes())? == 201, "schema refused");
    let entries = records(n);
    let chunks: Vec<Vec<Vec<u8>>> = entries.chunks(n.div_ceil(clients)).map(|c| c.to_vec()).collect();
    let cpu_before = cpu_seconds(server.id());
    let start = Instant::now();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let addr = addr.clone();
            std::thread::spawn(move || -> anyhow::Result<usize> {
                let mut conn = BufReader::new(TcpStream::connect(&addr)?);
                conn.get_ref().set_nodelay(true)?;
                let mut ok = 0;
                if batch == 1 {
                    for body in &chunk {
                        ok += (post(&mut conn, body)? == 201) as usize;
                    }
                    return Ok(ok);
                }
                for group in chunk.chunks(batch) {
                    let body = bcdb::api::frame_batch(group.iter().map(Vec::as_slice));
                    let (_, answer) = post_to(&mut conn, "/v1/batch", &body)?;
                    let items: Vec<bcdb::api::BatchItem> = serde_json::from_slice(&answer)?;
                    ok += items.iter().filter(|i| i.status == 201).count();
                }
                Ok(ok)
            })
        })
        .collect();
    let mut accepted = 0;
    for h in handles {
        accepted += h.join().expect("client thread")?;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.id()) - cpu_before;
    let _ = server.kill();
    let _ = server.wait();
    anyhow::ensure!(accepted == n, "only {accepted} of {n} appends were accepted");
    Ok((n as f64 / secs, cpu / n as f64 * 1e6))
}

fn proofs() {
    let n: u64 = 1 << 20;
    let mut tree = merkle::Tree::new();
    for i in 0..n {
        tree.push(merkle::leaf_hash(&i.to_le_bytes()));
    }
    let root = tree.root();
    let rounds = 100_000u64;
    let start = Instant::now();
    let mut proofs = Vec::with_capacity(1000);
    for i in 0..rounds {
        let idx = (i * 7919) % n;
        let p = tree.inclusion_proof(idx, n).expect("proof");
        if proofs.len() < 1000 {
            proofs.push((idx, p));
        }
    }
    let gen = rounds as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for i in 0..rounds {
        let (idx, p) = &proofs[(i % 1000) as usize];
        merkle::verify_inclusion(&tree.leaf(*idx).expect("leaf"), *idx, n, p, &root).expect("verifies");
    }
    let ver = rounds as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut cons = Vec::with_capacity(1000);
    for i in 0..rounds {
        let m = 1 + (i * 104_729) % (n - 1);
        let p = tree.consistency_proof(m, n).expect("proof");
        if cons.len() < 1000 {
            cons.push((m, p));
        }
    }
    let cgen = rounds as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for i in 0..rounds {
        let (m, p) = &cons[(i % 1000) as usize];
        let old = tree.root_at(*m).expect("root");
        merkle::verify_consistency(*m, n, p, &old, &root).expect("verifies");
    }
    let cver = rounds as f64 / start.elapsed().as_secs_f64();
    println!("inclusion proofs, tree of 2^20:    {gen:>10.0} generated/s, {ver:>10.0} verified/s");
    println!("consistency proofs, tree of 2^20:  {cgen:>10.0} generated/s, {cver:>10.0} verified/s (incl. root_at)");
}

fn rebuild_index(n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data: PathBuf = dir.path().to_path_buf();
    {
        let mut store = SegmentStore::open(&data.join("log"))?;
        let admin = Identity::generate(KeyScheme::TfV2);
        store.append(&schema_revision(&admin).to_bytes())?;
        for body in records(n) {
            store.append(&body)?;
        }
        if let Some(f) = store.sync_file()? {
            f.sync_all()?;
        }
    }
    eprintln!("rebuilding the index of {} revisions...", n + 1);
    let start = Instant::now();
    let ledger = Ledger::open(&data, Box::new(SegmentStore::open(&data.join("log"))?))?;
    let rebuilt = start.elapsed().as_secs_f64();
    let len = ledger.len();
    drop(ledger);
    let start = Instant::now();
    let _ledger = Ledger::open(&data, Box::new(SegmentStore::open(&data.join("log"))?))?;
    let reopen = start.elapsed().as_secs_f64();
    println!(
        "index rebuild from the log:        {len} revisions in {rebuilt:.1} s ({:.0} /s); restart with the index present {reopen:.1} s",
        len as f64 / rebuilt
    );
    Ok(())
}
