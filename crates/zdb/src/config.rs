//! Command-line flags, the same as the original's (`zdb --help`), with one
//! change: the server listens on 127.0.0.1 unless told otherwise.

use std::fmt;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::format::Mode;

/// 0-db compatible key-value server: always-append storage behind the Redis protocol.
#[derive(Parser, Debug, Clone)]
#[command(name = "zdb", version, about, long_about = None)]
pub struct Config {
    /// Directory of the data files (created if missing).
    #[arg(long, default_value = "./zdb-data", value_name = "DIR")]
    pub data: PathBuf,

    /// Directory of the index files (created if missing; must differ from --data).
    #[arg(long, default_value = "./zdb-index", value_name = "DIR")]
    pub index: PathBuf,

    /// Force one key mode for every namespace (default: mixed, chosen per namespace with NSSET).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,

    /// Size at which a data file is closed and the next one started (k, M, G suffixes; 512k to <4G).
    #[arg(long, default_value = "256M", value_parser = parse_datasize, value_name = "SIZE")]
    pub datasize: u64,

    /// Address to listen on. Use 0.0.0.0 or :: to accept remote clients.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub listen: String,

    /// TCP port (0 picks a free one and prints it).
    #[arg(long, default_value_t = 9900)]
    pub port: u16,

    /// Listen on this unix socket instead of TCP (both with --dualnet).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// With --socket, listen on TCP too.
    #[arg(long)]
    pub dualnet: bool,

    /// Admin password; without it every client is admin. Also read from $ZDB_ADMIN.
    #[arg(long, env = "ZDB_ADMIN", hide_env_values = true, value_name = "PASSWORD")]
    pub admin: Option<Secret>,

    /// Make the default namespace read-only until `SELECT default <admin password>` (needs --admin).
    #[arg(long)]
    pub protect: bool,

    /// Quota of the default namespace, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub maxsize: Option<u64>,

    /// Program run on events (ready, close, namespace-created, jump-index, ...).
    #[arg(long, value_name = "EXE")]
    pub hook: Option<PathBuf>,

    /// fdatasync every write before replying: nothing acknowledged is ever lost.
    #[arg(long)]
    pub sync: bool,

    /// fdatasync on a write when this many seconds passed since the last one.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub synctime: u64,

    /// Accepted for compatibility: files are always synced before a rotation.
    #[arg(long, hide = true)]
    pub secure: bool,

    /// Force a rotation to a new file pair every this many seconds, if data was written.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub rotate: u64,

    /// Event-loop threads (1: a single loop, like the original; more spreads
    /// clients over cores).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub threads: usize,

    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9901), at /metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,

    /// Replicate this master (HOST:PORT): copy everything it has, then follow it.
    /// Clients may only read. `REPLICAOF NO ONE` promotes.
    #[arg(long, value_name = "HOST:PORT")]
    pub replica_of: Option<String>,

    /// Password to AUTH at the master with (also read from $ZDB_MASTER_AUTH).
    #[arg(long, env = "ZDB_MASTER_AUTH", hide_env_values = true, value_name = "PASSWORD")]
    pub master_auth: Option<Secret>,

    /// Acknowledge a write only once this many replicas have it.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sync_replicas: usize,

    /// Debug logging.
    #[arg(long, short)]
    pub verbose: bool,
}

impl Config {
    /// Parses the process arguments, accepting the original's single-dash
    /// long options (`-port 9900`) too.
    pub fn from_args() -> Config {
        Config::parse_from(normalize_args(std::env::args()))
    }

    /// Checks combinations clap cannot express.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.protect && self.admin.is_none() {
            anyhow::bail!("--protect needs --admin: the default namespace is unlocked with the admin password");
        }
        if self.data == self.index {
            anyhow::bail!("--data and --index must be different directories");
        }
        Ok(())
    }
}

/// Rewrites `-name` into `--name` for the known long options.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    const LONG: &[&str] = &[
        "data",
        "index",
        "mode",
        "datasize",
        "listen",
        "port",
        "socket",
        "dualnet",
        "admin",
        "protect",
        "maxsize",
        "hook",
        "sync",
        "synctime",
        "secure",
        "rotate",
        "threads",
        "metrics",
        "replica-of",
        "master-auth",
        "sync-replicas",
        "verbose",
        "version",
        "help",
    ];
    args.into_iter()
        .map(|a| match a.strip_prefix('-') {
            Some(rest) if !rest.starts_with('-') && LONG.contains(&rest.split('=').next().unwrap_or("")) => {
                format!("-{a}")
            }
            _ => a,
        })
        .collect()
}

/// `--mode` values; `direct` is the original's deprecated alias of `seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    User,
    Seq,
    Direct,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::User => Mode::User,
            ModeArg::Seq | ModeArg::Direct => Mode::Seq,
        }
    }
}

/// A password that never shows up in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("the admin password cannot be empty".into());
        }
        Ok(Secret(s.to_string()))
    }
}

/// Parses `256M`, `512k`, `1G`, `1048576` (1024-based suffixes).
pub fn parse_datasize(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        Some('t' | 'T') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let n: u64 = digits.parse().map_err(|_| format!("'{s}' is not a size (examples: 524288, 512k, 256M, 1G)"))?;
    let size = n.checked_mul(mult).ok_or("size too large")?;
    if size < 512 * 1024 {
        return Err(format!("datasize {size} is below the minimum of 512k"));
    }
    if size >= 4 << 30 {
        return Err(format!("datasize {size} must stay below 4G (file offsets are 32-bit)"));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_dash_long_options() {
        let args = normalize_args(["zdb", "-port", "1", "-sync", "--data", "x", "-v"].map(String::from));
        assert_eq!(args, ["zdb", "--port", "1", "--sync", "--data", "x", "-v"]);
    }

    #[test]
    fn datasize_suffixes_and_limits() {
        assert_eq!(parse_datasize("512k"), Ok(524288));
        assert_eq!(parse_datasize("256M"), Ok(256 << 20));
        assert!(parse_datasize("100").is_err());
        assert!(parse_datasize("4G").is_err());
    }
}
