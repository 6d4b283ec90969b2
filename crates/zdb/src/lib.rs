//! zdb: a 0-db compatible, crash-safe key-value server.
//!
//! Layers, bottom up (see `ARCHITECTURE.md` at the repository root):
//! - [`format`]: the on-disk format, byte for byte the original's.
//! - [`storage`]: namespaces of append-only index and data files, recovery
//!   of torn tails and lost indexes at start-up.
//! - [`resp`]: the Redis protocol subset 0-db speaks.
//! - [`commands`]: one module per command family, with the original's
//!   replies, error texts and permission rules.
//! - [`server`]: listeners, connections, signals.

pub mod commands;
pub mod config;
pub mod connection;
pub mod crc;
pub mod format;
pub mod hooks;
pub mod metrics;
pub mod replication;
pub mod resp;
pub mod server;
pub mod storage;

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
