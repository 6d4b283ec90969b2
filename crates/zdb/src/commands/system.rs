//! Server commands: PING, TIME, INFO, STOP, HOOKS, INDEX DIRTY, DATA RAW.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::{Action, Ctx};
use crate::resp::{parse_int, reply};

pub fn ping(c: &mut Ctx) -> Action {
    reply::status(c.out, "PONG");
    Action::Continue
}

/// TIME: seconds and microseconds, as two bulk strings.
pub fn time(c: &mut Ctx) -> Action {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    reply::array(c.out, 2);
    reply::bulk(c.out, now.as_secs().to_string().as_bytes());
    reply::bulk(c.out, now.subsec_micros().to_string().as_bytes());
    Action::Continue
}

/// INFO: one text blob, in the original's sections.
pub fn info(c: &mut Ctx) -> Action {
    let s = &c.shared.stats;
    let mut t = String::new();
    let _ = writeln!(t, "# server");
    let _ = writeln!(t, "server_name: 0-db (zdb)");
    let _ = writeln!(t, "server_revision: v2.0.7-compat (zdb-rs {})", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(t, "engine_revision: zdb-rs {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(t, "instance_id: {}", c.shared.instance_id);
    let _ = writeln!(t, "boot_time: {}", c.shared.boot_time);
    let _ = writeln!(t, "uptime: {}", c.shared.started.elapsed().as_secs());
    let _ = writeln!(t, "\n# clients");
    let _ = writeln!(t, "clients_lifetime: {}", s.clients_lifetime.load(Ordering::Relaxed));
    let r = &c.shared.replication;
    let _ = writeln!(t, "\n# replication");
    match r.target.borrow().as_deref() {
        Some(master) => {
            let _ = writeln!(t, "role: replica");
            let _ = writeln!(t, "master: {master}");
            let up = r.link_up.load(Ordering::Acquire);
            let _ = writeln!(t, "master_link_status: {}", if up { "up" } else { "down" });
        }
        None => {
            let _ = writeln!(t, "role: master");
        }
    }
    let _ = writeln!(t, "connected_replicas: {}", r.connected_replicas());
    for (id, lag) in r.lag(&c.shared.store) {
        let _ = writeln!(t, "replica_{id}_lag_bytes: {lag}");
    }
    let _ = writeln!(t, "sync_replicas: {}", r.sync_replicas);
    let _ = writeln!(t, "\n# internals");
    let _ = writeln!(t, "sequential_key_size: 8");
    let _ = writeln!(t, "data_version: 3");
    let _ = writeln!(t, "index_version: 4");
    let _ = writeln!(t, "\n# stats");
    let _ = writeln!(t, "commands_executed: {}", s.commands.load(Ordering::Relaxed));
    let _ = writeln!(t, "commands_failed: {}", s.commands_failed.load(Ordering::Relaxed));
    let _ = writeln!(t, "commands_unauthorized: {}", s.commands_unauthorized.load(Ordering::Relaxed));
    let _ = writeln!(t, "network_rx_bytes: {}", s.network_rx.load(Ordering::Relaxed));
    let _ = writeln!(t, "network_tx_bytes: {}", s.network_tx.load(Ordering::Relaxed));
    reply::bulk(c.out, t.as_bytes());
    Action::Continue
}

/// STOP (admin): syncs everything and exits, like SIGTERM.
pub fn stop(c: &mut Ctx) -> Action {
    if !c.require_admin() {
        return Action::Continue;
    }
    reply::status(c.out, "Stopping");
    c.shared.request_shutdown();
    Action::Close
}

/// HOOKS (admin): running and recently finished hooks.
pub fn hooks(c: &mut Ctx) -> Action {
    if !c.require_admin() {
        return Action::Continue;
    }
    let runs = c.shared.hooks.list();
    reply::array(c.out, runs.len());
    for r in runs {
        reply::array(c.out, 6);
        reply::bulk(c.out, r.name.as_bytes());
        reply::array(c.out, r.args.len());
        for a in &r.args {
            reply::bulk(c.out, a.as_bytes());
        }
        reply::int(c.out, r.pid as i64);
        reply::int(c.out, r.created as i64);
        reply::int(c.out, r.finished as i64);
        reply::int(c.out, r.status as i64);
    }
    Action::Continue
}

/// INDEX DIRTY [RESET] (admin): index files modified in place.
pub fn index(c: &mut Ctx) -> Action {
    if !c.require_admin() {
        return Action::Continue;
    }
    if c.args.len() < 2 {
        return c.error("Missing arguments");
    }
    if !c.args[1].eq_ignore_ascii_case(b"DIRTY") {
        return c.error("Unknown INDEX subcommand");
    }
    let ns = c.client.ns.clone();
    let mut st = ns.lock();
    match c.args.get(2) {
        None => {
            reply::array(c.out, st.dirty.len());
            for id in &st.dirty {
                reply::int(c.out, *id as i64);
            }
        }
        Some(sub) if sub.eq_ignore_ascii_case(b"RESET") && c.args.len() == 3 => {
            st.dirty.clear();
            reply::status(c.out, "OK");
        }
        Some(_) => reply::error(c.out, "Unknown INDEX DIRTY subcommand"),
    }
    Action::Continue
}

/// DATA RAW fileid offset (admin): one data entry as stored, tombstones
/// included: `[key, previous, "0x%08x" crc, flags, timestamp, payload]`.
pub fn data(c: &mut Ctx) -> Action {
    if !c.require_admin() {
        return Action::Continue;
    }
    if c.args.len() != 4 || !c.args[1].eq_ignore_ascii_case(b"RAW") {
        return c.error("Invalid Request");
    }
    let (Some(file), Some(offset)) = (parse_int(&c.args[2]), parse_int(&c.args[3])) else {
        return c.error("Invalid Request");
    };
    let (Ok(file), Ok(offset)) = (u32::try_from(file), u64::try_from(offset)) else {
        return c.error("Invalid Request");
    };
    let ns = c.client.ns.clone();
    let result = ns.lock().data_raw(file, offset);
    match result {
        Ok(e) => {
            reply::array(c.out, 6);
            reply::bulk(c.out, e.key());
            reply::int(c.out, e.record.previous as i64);
            reply::bulk(c.out, format!("0x{:08x}", e.record.crc).as_bytes());
            reply::int(c.out, e.record.flags as i64);
            reply::int(c.out, e.record.timestamp as i64);
            reply::bulk(c.out, e.payload());
        }
        Err(e) => reply::error(c.out, &e.to_string()),
    }
    Action::Continue
}
